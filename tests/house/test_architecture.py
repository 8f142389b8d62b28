"""The house rules of ``ARCHITECTURE.md``, measured on the source tree.

* the package's import graph has no circle (every import counts: module level, inside a
  function and under ``TYPE_CHECKING``);
* objects keep to their own private members: at most :data:`MAX_PRIVATE_REACHES` places in
  ``src/`` read or write ``other._name``;
* rooms stay small: no module over :data:`MAX_MODULE_LINES` lines, no class over
  :data:`MAX_CLASS_LINES` lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "shardstream"

MAX_PRIVATE_REACHES = 10
MAX_MODULE_LINES = 800
MAX_CLASS_LINES = 500


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imported(module: str, path: Path, node: ast.AST, mods: dict[str, Path]) -> set[str]:
    """The project modules one import statement names (a ``from x import y`` names ``x.y``
    when that is a module, else ``x``)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in mods}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = package[: len(package) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    found = set()
    for alias in node.names:
        if f"{target}.{alias.name}" in mods:
            found.add(f"{target}.{alias.name}")
        elif target in mods:
            found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` for every module of the package."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in mods.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            edges |= _imported(module, path, node, mods)
        edges.discard(module)
        graph[module] = edges
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return circles


def private_reaches() -> list[str]:
    """Every ``other._name`` (or ``getattr(other, "_name")``) in ``src/`` where *other* is not
    ``self``, ``cls``, ``super()`` or an imported module."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        modules = {
            (a.asname or a.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for a in node.names
        }
        modules |= {
            a.asname or a.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for a in node.names
            if a.name.startswith("_")  # the package's private modules (_native, _routing, ...)
        }
        for node in ast.walk(tree):
            if _is_getattr_of_private(node):  # getattr(other, "_name", ...) is a reach too
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: getattr {node.args[1].value}")
                continue
            if not isinstance(node, ast.Attribute):
                continue
            name = node.attr
            if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ({"self", "cls"} | modules):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: .{name}")
    return found


def _is_getattr_of_private(node: ast.AST) -> bool:
    """``getattr(x, "_name"[, default])`` (or ``hasattr``) with ``x`` not ``self``/``cls``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "hasattr", "setattr")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and node.args[1].value.startswith("_")
        and not node.args[1].value.startswith("__")
        and not (isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls"))
    )


def oversized() -> list[str]:
    """Modules over :data:`MAX_MODULE_LINES` lines and classes over :data:`MAX_CLASS_LINES`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text("utf-8")
        lines = text.count("\n") + (not text.endswith("\n"))
        if lines > MAX_MODULE_LINES:
            found.append(f"{path.relative_to(SRC)}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    found.append(f"{path.relative_to(SRC)}: class {node.name} {size} lines")
    return found


def test_the_import_graph_has_no_circle():
    assert import_circles(import_graph()) == []


def test_the_checker_sees_a_circle():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_few_reaches_into_other_objects_private_members():
    reaches = private_reaches()
    assert len(reaches) <= MAX_PRIVATE_REACHES, "\n".join(reaches)


def test_no_oversized_module_or_class():
    assert oversized() == []
