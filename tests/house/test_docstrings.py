"""Docstrings, measured on the source tree (AST only: nothing is imported).

Two rules:

1. every public module-level function, public class and public method of a
   public class in ``src/shardstream`` has a docstring.  Public means the name
   does not start with ``_``; functions nested in functions are not looked at.
   A method without a docstring of its own passes when a base class of the
   same module defines the method with one (``inspect.getdoc`` inherits it the
   same way, and so does Sphinx).
2. in the modules of :data:`NUMPY_SECTIONS` (every module but those of
   :data:`NUMPY_EXCLUDED`) those docstrings follow the numpy
   convention: a function or method with parameters besides ``self``/``cls``
   has a ``Parameters`` section, and so does a public class whose ``__init__``
   takes parameters (in the class docstring or ``__init__``'s).  Two
   exceptions, both with the parameters still documented:

   * a one-line docstring that names every parameter as ````name```` is
     complete as it stands (e.g. ``The lease of ``lease_key``, or None.``);
   * a click command (decorated with ``@<group>.command``/``@click.option``...)
     documents its parameters in the options' ``help=`` texts; its docstring is
     the command's ``--help`` text and gets no numpy sections.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "shardstream"

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_CLICK_DECORATORS = {"command", "group", "option", "argument", "pass_context", "pass_obj"}


def _modules() -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


#: Modules left out of rule 2, paths relative to ``src/shardstream``, each with the reason (none today).
NUMPY_EXCLUDED: dict[str, str] = {
    "_reference.py": "a private model for the property tests, read beside them; rule 1 still applies",
}

#: Modules whose docstrings follow the numpy convention (rule 2): every module but :data:`NUMPY_EXCLUDED`.
NUMPY_SECTIONS = [m for m in _modules() if m not in NUMPY_EXCLUDED]


def _public_defs(tree: ast.Module):
    """``(qualified name, node, class or None)`` of every public function, class and method."""

    def walk(body, prefix: str, cls: ast.ClassDef | None):
        for node in body:
            if isinstance(node, _FUNCTIONS):
                if not node.name.startswith("_"):
                    yield prefix + node.name, node, cls
            elif isinstance(node, ast.ClassDef):
                if not node.name.startswith("_"):
                    yield prefix + node.name, node, None
                    yield from walk(node.body, f"{prefix}{node.name}.", node)
            elif isinstance(node, (ast.If, ast.Try)):  # definitions under ``if TYPE_CHECKING``, ``try/except``
                for block in (node.body, node.orelse, *(getattr(node, "handlers", None) or [])):
                    yield from walk(block if isinstance(block, list) else block.body, prefix, cls)

    yield from walk(tree.body, "", None)


def _classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def _inherited_doc(name: str, cls: ast.ClassDef, classes: dict[str, ast.ClassDef], seen=None) -> str | None:
    """The docstring of method ``name`` on a base class of ``cls`` defined in the same module."""
    seen = seen or set()
    for base in cls.bases:
        base_name = base.id if isinstance(base, ast.Name) else None
        parent = classes.get(base_name)
        if parent is None or parent.name in seen:
            continue
        seen.add(parent.name)
        for node in parent.body:
            if isinstance(node, _FUNCTIONS) and node.name == name and ast.get_docstring(node):
                return ast.get_docstring(node)
        found = _inherited_doc(name, parent, classes, seen)
        if found:
            return found
    return None


def _doc(node, cls, classes) -> str | None:
    doc = ast.get_docstring(node)
    if doc is None and cls is not None and isinstance(node, _FUNCTIONS):
        doc = _inherited_doc(node.name, cls, classes)
    return doc


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    names += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not is_static and names and names[0] in ("self", "cls"):
        names = names[1:]
    return names


def _is_click_command(fn) -> bool:
    for d in fn.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if isinstance(target, ast.Attribute) and target.attr in _CLICK_DECORATORS:
            return True
    return False


def _has_parameters_section(doc: str) -> bool:
    lines = [line.strip() for line in doc.splitlines()]
    return any(a == "Parameters" and b.startswith("---") for a, b in zip(lines, lines[1:]))


def _complete_one_liner(doc: str, params: list[str]) -> bool:
    """A one-line docstring naming every parameter as ````name````."""
    return "\n" not in doc.strip() and all(f"``{p}``" in doc for p in params)


def _numpy_problem(name: str, node, cls, classes, doc: str) -> str | None:
    if isinstance(node, ast.ClassDef):
        init = next((n for n in node.body if isinstance(n, _FUNCTIONS) and n.name == "__init__"), None)
        if init is None:
            return None
        params = _parameters(init, method=True)
        docs = [doc, ast.get_docstring(init) or ""]
        if params and not any(_has_parameters_section(d) or _complete_one_liner(d, params) for d in docs):
            return f"{name}: no Parameters section for __init__({', '.join(params)})"
        return None
    params = _parameters(node, method=cls is not None)
    if not params or _is_click_command(node):
        return None
    if _has_parameters_section(doc) or _complete_one_liner(doc, params):
        return None
    return f"{name}: no Parameters section for ({', '.join(params)})"


def missing_docstrings(modules=None) -> list[str]:
    """``module: name`` of every public definition without a docstring (rule 1)."""
    found = []
    for module in modules if modules is not None else _modules():
        tree = ast.parse((PACKAGE / module).read_text("utf-8"))
        classes = _classes(tree)
        for name, node, cls in _public_defs(tree):
            if _doc(node, cls, classes) is None:
                found.append(f"{module}: {name}")
    return found


def numpy_problems(modules=None) -> list[str]:
    """``module: name: problem`` of every docstring short of rule 2."""
    found = []
    for module in modules if modules is not None else NUMPY_SECTIONS:
        tree = ast.parse((PACKAGE / module).read_text("utf-8"))
        classes = _classes(tree)
        for name, node, cls in _public_defs(tree):
            doc = _doc(node, cls, classes)
            if doc is None:
                found.append(f"{module}: {name}: no docstring")
                continue
            problem = _numpy_problem(name, node, cls, classes, doc)
            if problem:
                found.append(f"{module}: {problem}")
    return found


def test_every_public_definition_has_a_docstring():
    missing = missing_docstrings(list(_modules()))
    assert missing == [], f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)


def test_numpy_modules_document_their_parameters():
    problems = numpy_problems()
    assert problems == [], f"{len(problems)} docstrings short of the numpy convention:\n" + "\n".join(problems)


def test_the_lists_name_real_modules():
    modules = set(_modules())
    assert set(NUMPY_EXCLUDED) <= modules, sorted(set(NUMPY_EXCLUDED) - modules)


def test_the_checker_sees_what_is_missing(tmp_path):
    source = (
        "class Base:\n"
        "    def run(self, n):\n"
        '        """Run ``n`` times."""\n'
        "class Child(Base):\n"
        '    """A child."""\n'
        "    def run(self, n):\n"
        "        pass\n"
        "    def stop(self):\n"
        "        pass\n"
        "    def _hidden(self):\n"
        "        pass\n"
        "def outer(a, b):\n"
        '    """Summary only."""\n'
        "    def inner():\n"
        "        pass\n"
    )
    tree = ast.parse(source)
    classes = _classes(tree)
    defs = {name: (node, cls) for name, node, cls in _public_defs(tree)}
    assert sorted(defs) == ["Base", "Base.run", "Child", "Child.run", "Child.stop", "outer"]
    undocumented = sorted(n for n, (node, cls) in defs.items() if _doc(node, cls, classes) is None)
    assert undocumented == ["Base", "Child.stop"]  # Child.run inherits Base.run's docstring
    node, cls = defs["outer"]
    assert _numpy_problem("outer", node, cls, classes, _doc(node, cls, classes)) is not None
    node, cls = defs["Child.run"]
    assert _numpy_problem("Child.run", node, cls, classes, _doc(node, cls, classes)) is None  # names ``n``
