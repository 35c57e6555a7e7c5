"""Import hygiene, read from the source: the library (core, runtimes, convert) never imports apps/,
and no modules import each other in a circle, counting imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import t2a_edge

ROOT = Path(t2a_edge.__file__).resolve().parent
LIBRARY = ("core", "runtimes", "convert")
SKIP = {"tests", ".venv", "build", "dist"}


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (t2a_edge.core.model -> core/model.py)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in SKIP or any(part.startswith(".") for part in rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(["t2a_edge", *parts])] = path
    return found


def imports(path: Path, names: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports, anywhere in it (module level or inside a function)."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(["t2a_edge", *path.relative_to(ROOT).parent.parts])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in names:  # t2a_edge.core.model.load_model -> t2a_edge.core.model
                target = target.rpartition(".")[0]
            if target and target != "t2a_edge":
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    names = modules()
    return {name: imports(path, names) - {name} for name, path in names.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_walk_sees_the_package():
    edges = graph()
    assert {"t2a_edge.core.model", "t2a_edge.runtimes.select", "t2a_edge.convert.bundle",
            "t2a_edge.apps.cli"} <= set(edges)
    # A function-level import counts: select converts on request through convert.bundle.
    assert "t2a_edge.convert.bundle" in edges["t2a_edge.runtimes.select"]


def test_the_library_never_imports_apps():
    edges = graph()
    bad = sorted(f"{a} -> {b}" for a, targets in edges.items() if layer(a) in LIBRARY
                 for b in targets if layer(b) == "apps")
    assert not bad, "core/, runtimes/ and convert/ must not import apps/: " + "; ".join(bad)


def test_no_import_circles():
    edges = graph()
    found = cycles(edges)
    detail = "; ".join(" <-> ".join(group) + " (" + ", ".join(f"{a} -> {b}" for a in group
                                                            for b in sorted(edges[a] & set(group))) + ")"
                       for group in found)
    assert not found, f"modules that import each other in a circle: {detail}"


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
