// storyloom: the only script. The pages are complete without it; this adds graph interaction.
// Data comes from <script type="application/json"> and is written with textContent only (never innerHTML).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const dataEl = document.getElementById("graph-data");
  const panel = document.getElementById("node-details");
  if (!dataEl || !panel) return;
  let graph;
  try { graph = JSON.parse(dataEl.textContent); } catch (e) { return; }
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const label = (id) => (byId.get(id) || { label: id }).label;

  function line(text, cls) {
    const p = document.createElement("p");
    if (cls) p.className = cls;
    p.textContent = text;
    return p;
  }

  function show(nodeId) {
    const n = byId.get(nodeId);
    if (!n) return;
    document.querySelectorAll(".graph .node.selected").forEach((el) => el.classList.remove("selected"));
    const el = document.querySelector(`.graph .node[data-node="${CSS.escape(nodeId)}"]`);
    if (el) el.classList.add("selected");
    panel.replaceChildren();
    const h = document.createElement("h3");
    h.textContent = n.label;
    panel.append(h, line(n.kind + (n.outlet ? " · " + n.outlet : "") + (n.published ? " · " + n.published : ""), "muted"));
    if (n.kind === "article") {
      const a = document.createElement("a");
      a.href = "/articles/" + encodeURIComponent(n.article_id);
      a.textContent = "open the article";
      panel.append(a);
    }
    const out = graph.edges.filter((e) => e.source === nodeId || e.target === nodeId);
    const ul = document.createElement("ul");
    for (const e of out) {
      const li = document.createElement("li");
      li.textContent = e.source === nodeId ? `${e.kind} → ${label(e.target)}` : `${label(e.source)} → ${e.kind}`;
      if (e.text) li.append(line("“" + e.text + "”", "muted"));
      ul.append(li);
    }
    panel.append(ul);
    panel.hidden = false;
  }

  document.querySelectorAll(".graph .node").forEach((el) => {
    el.addEventListener("click", (ev) => {
      const id = el.getAttribute("data-node");
      if (byId.get(id) && byId.get(id).kind !== "article") ev.preventDefault();
      if (byId.get(id) && byId.get(id).kind === "article" && !ev.metaKey && !ev.ctrlKey && panel.hidden === false
          && el.classList.contains("selected")) return; // second click follows the link
      if (byId.get(id) && byId.get(id).kind === "article" && !el.classList.contains("selected")) ev.preventDefault();
      show(id);
    });
    el.addEventListener("keydown", (ev) => { if (ev.key === "Enter") show(el.getAttribute("data-node")); });
  });
});
