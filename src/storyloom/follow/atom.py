"""The Atom 1.0 feed of one subscription (RFC 4287): what a feed reader polls at ``/feeds/{token}.atom``.

Every entry is one alert; its id is a URN of the alert id (stable: re-reading the feed, or re-running the
ingest, never shows an entry twice), its ``updated`` the alert's time, its link the story page and its
content the alert's lines with the digest's "new since" link.  Built with ElementTree: text is escaped by the
serialiser, never pasted into markup.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from storyloom import __version__
from storyloom.follow.alerts import links
from storyloom.readmodels import Alert
from storyloom.settings import Settings

NS = "http://www.w3.org/2005/Atom"


def _rfc3339(iso: str) -> str:
    from storyloom.timeparse import parse_time

    return parse_time(iso).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_xml(sub: dict[str, object], alerts: Sequence[Alert], settings: Settings, created_at: str) -> bytes:
    """The feed document (newest alert first); a subscription without alerts yet is a valid empty feed."""
    ET.register_namespace("", NS)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    base = settings.follow_base_url.rstrip("/")
    root = ET.Element(f"{{{NS}}}feed")
    el(root, "id", f"urn:storyloom:subscription:{sub['id']}")
    el(root, "title", f"storyloom: {sub['kind']} {sub['target']}")
    el(root, "updated", _rfc3339(alerts[0].created_at if alerts else created_at))
    author = el(root, "author")
    el(author, "name", str(sub.get("owner") or "storyloom"))
    el(root, "generator", "storyloom", version=__version__)
    el(root, "link", rel="alternate", href=f"{base}/follow")
    for a in alerts:
        entry = el(root, "entry")
        el(entry, "id", f"urn:storyloom:alert:{a.id}")
        el(entry, "title", a.why[:200])
        el(entry, "updated", _rfc3339(a.created_at))
        first = next((s for s in a.stories if s.story_id), None)
        if first is not None and first.story_id:
            ln = links(settings, first.story_id, a.since)
            el(entry, "link", rel="alternate", href=ln["page"])
            el(entry, "link", rel="related", href=ln["digest"], title="what changed")
        lines = []
        for s in a.stories:
            lines.append(s.label)
            lines += [f"  - {line}" for line in s.lines]
            if s.story_id:
                lines.append(f"  what changed: {links(settings, s.story_id, a.since)['digest']}")
        el(entry, "content", "\n".join(lines), type="text")
    return b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" + ET.tostring(root, encoding="unicode").encode("utf-8")
