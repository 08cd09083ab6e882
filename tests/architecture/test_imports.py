"""The house's floor plan, checked on the real import graph (grimp, the graph import-linter
uses), not by eye: no import circle anywhere, and no import hidden inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

WORKER = Path(__file__).resolve().parents[2] / "worker"


def _circles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Every direct import a -> b for which b also leads back to a: the import closes a circle."""
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                found.append((importer, *back))
    return found


def test_the_cycle_finder_finds_a_planted_circle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert _circles(graph) == [("a", "b", "c", "a"), ("b", "c", "a", "b"), ("c", "a", "b", "c")]


def test_no_module_of_worker_is_part_of_an_import_circle() -> None:
    graph = grimp.build_graph("worker")
    assert _circles(graph) == []


def test_no_worker_import_is_hidden_inside_a_function() -> None:
    hidden = []
    for path in sorted(WORKER.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("worker"):
                    hidden.append(f"{path.relative_to(WORKER.parent)}:{node.lineno} {node.module}")
                elif isinstance(node, ast.Import) and any(a.name.startswith("worker") for a in node.names):
                    hidden.append(f"{path.relative_to(WORKER.parent)}:{node.lineno}")
    assert hidden == []
