"""The provenance graph of a story: where each article and claim came from.

Nodes: articles, outlets, cited sources ("Source: Racurs") and attributed sources ("according to ISW").
Edges: published-by (article → outlet), copy-of and translated-from (from the copies stage, with their
direction), cites (article → source it names as its source), attributes-to (article or claim → who it
quotes).  Source names are normalised so "the ISW", "ISW" and "the Institute for the Study of War (ISW)"
are one node.
"""

from __future__ import annotations

import re
from typing import Any

_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,8})\)\s*$")
_LEAD = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_GENERIC = {"experts", "analysts", "officials", "authorities", "witnesses", "researchers", "the report", "report",
            "the minister", "the ministers", "a statement", "the statement", "the study", "the assessment"}


def source_key(name: str, aliases: dict[str, str]) -> str:
    """One key per source: acronyms in brackets become the key ("… War (ISW)" → "ISW")."""
    name = name.strip()
    m = _ACRONYM.search(name)
    if m:
        full = _LEAD.sub("", name[: m.start()].strip())
        aliases[full.casefold()] = m.group(1)
        return m.group(1)
    bare = _LEAD.sub("", name)
    return aliases.get(bare.casefold(), bare)


def build_graph(story: dict[str, Any], members: list[dict[str, Any]], links: list[dict[str, Any]],
                claims: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Nodes and edges (JSON-ready) for a story; ``claims`` maps article id → its claims (as dicts)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[dict[str, Any]] = []
    aliases: dict[str, str] = {}

    def node(nid: str, kind: str, label: str, **extra: Any) -> str:
        nodes.setdefault(nid, {"id": nid, "kind": kind, "label": label, **extra})
        return nid

    for m in members:
        a = node(f"article:{m['id']}", "article", m["title"], article_id=m["id"], outlet=m.get("outlet"),
                 published=m.get("published"), language=m.get("language"), url=m.get("url"))
        if m.get("outlet"):
            edges.append({"source": a, "target": node(f"outlet:{m['outlet']}", "outlet", m["outlet"]), "kind": "published-by"})
    # names first with acronyms so that later bare mentions ("ISW") meet them
    all_sources = [(m, s) for m in members for s in (m.get("meta") or {}).get("attributions", [])]
    for _, s in sorted(all_sources, key=lambda x: "(" not in x[1]["source"]):
        source_key(s["source"], aliases)
    for m in members:
        a = f"article:{m['id']}"
        meta = m.get("meta") or {}
        for cited in meta.get("cited_sources", []):
            key = source_key(cited, aliases)
            edges.append({"source": a, "target": node(f"source:{key}", "source", key), "kind": "cites", "text": f"Source: {cited}"})
        seen: set[str] = set()
        for c in claims.get(m["id"], []):
            if not c.get("source"):
                continue
            key = source_key(c["source"], aliases)
            if key.casefold() in _GENERIC or key in seen:
                continue
            seen.add(key)
            edges.append({"source": a, "target": node(f"source:{key}", "source", key), "kind": "attributes-to",
                          "claim": c["key"], "text": c["text"][:300]})
    ids = {m["id"] for m in members}
    for link in links:
        if link["a"] not in ids or link["b"] not in ids:
            continue
        kind = "translated-from" if link["kind"] == "translation" else "copy-of"
        d = link["direction"]
        if d in ("a_in_b", "b_from_a"):
            src, dst = link["b"], link["a"]
            if d == "a_in_b":
                src, dst = link["a"], link["b"]  # the contained (trimmed) one copies the fuller one
        elif d in ("b_in_a", "a_from_b"):
            src, dst = (link["b"], link["a"]) if d == "b_in_a" else (link["a"], link["b"])
        else:
            src, dst = link["a"], link["b"]
        edges.append({"source": f"article:{src}", "target": f"article:{dst}", "kind": kind, "copy_kind": link["kind"],
                      "score": link["score"], "directed": d not in ("same", "unknown")})
    return {"nodes": sorted(nodes.values(), key=lambda n: (n["kind"], n["id"])), "edges": edges}


def origins(graph: dict[str, Any], node_id: str) -> list[str]:
    """Where did this come from: every source or article reachable by cites/attributes-to/copy edges."""
    out: list[str] = []
    stack, seen = [node_id], {node_id}
    while stack:
        cur = stack.pop()
        for e in graph["edges"]:
            if e["source"] == cur and e["kind"] in ("cites", "attributes-to", "copy-of", "translated-from") and e["target"] not in seen:
                seen.add(e["target"])
                out.append(e["target"])
                stack.append(e["target"])
    return out
