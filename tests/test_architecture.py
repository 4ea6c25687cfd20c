"""The house rules a newcomer can rely on, checked on the source (the AST), not by review:

* no import cycle among storyloom's modules (imports inside functions and under TYPE_CHECKING count too: a
  cycle hidden in a function still couples the two modules);
* SQL only in ``storyloom.store``: no other module holds an SQL statement or touches a store's connection.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "storyloom"
SQL = re.compile(r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|"
                 r"CREATE\s+(TABLE|INDEX|VIRTUAL|TRIGGER)\s|DROP\s+TABLE\s|PRAGMA\s|BEGIN(\s|$)|COMMIT|ROLLBACK|"
                 r"WITH\s+RECURSIVE\s)", re.IGNORECASE | re.DOTALL)


def modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = p.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module → the storyloom modules it imports (anywhere in it)."""

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = package
                    for _ in range(node.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                targets = [f"{base}.{a.name}" for a in node.names] or [base]
            for t in targets:
                if t.startswith("storyloom"):
                    got = known(t)
                    if got and got != name:
                        found.add(got)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    found = cycles(imports(modules()))
    assert not found, "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                           for v in node.values)
            out.append((node.lineno, text))
    return out


def test_the_sql_detector_sees_sql() -> None:
    tree = ast.parse('x = "SELECT id FROM articles WHERE a = ?"\ny = f"DELETE FROM {t}"\nz = "select the best"\n')
    assert sorted({line for line, s in _strings(tree) if SQL.match(s)}) == [1, 2]


def test_sql_only_in_the_store() -> None:
    offenders = []
    for name, path in modules().items():
        if name == "storyloom.store" or name.startswith("storyloom.store."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, text in _strings(tree):
            if SQL.match(text):
                offenders.append(f"{path.relative_to(SRC)}:{line}: {text.strip()[:60]!r}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "conn":
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: touches a store's connection (.conn)")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("storyloom.store"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: imports the store's private {private}")
    assert not offenders, "SQL outside storyloom.store:\n" + "\n".join(offenders)


def test_no_cycles_between_packages() -> None:
    """Coarser than modules: the stage packages (ingest, clean, copies, stories, compare, store, serve, cli…)
    and the top-level modules form no cycle either (ingest/watch.py once imported the pipeline, which imports
    ingest: a change to one could break the other)."""
    graph: dict[str, set[str]] = {}
    for mod, targets in imports(modules()).items():
        top = ".".join(mod.split(".")[:2])
        graph.setdefault(top, set()).update(".".join(t.split(".")[:2]) for t in targets)
    for top, targets in graph.items():
        targets.discard(top)
    found = cycles(graph)
    assert not found, "package cycles: " + "; ".join(" ↔ ".join(c) for c in found)
