"""The ``.pyi`` stubs describe the compiled modules as they are: the same public classes,
functions and methods, with the same parameter names, the same module-level constants, and
the same public attributes and properties of each compiled class."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "shardstream"
STUBS = sorted(p for p in PACKAGE.glob("_*.pyi"))


def _stub_api(path: Path) -> dict[str, dict[str, list[str] | None]]:
    """``{name: {method or "": parameter names}}`` of a stub's top-level functions and classes."""
    api: dict = {}

    def params(fn: ast.FunctionDef) -> list[str]:
        a = fn.args
        return [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs] if x.arg not in ("self", "cls")]

    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.FunctionDef):
            api[node.name] = {"": params(node)}
        elif isinstance(node, ast.ClassDef):
            api[node.name] = {item.name: params(item) for item in node.body if isinstance(item, ast.FunctionDef)}
    return api


def _runtime_params(obj) -> list[str] | None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # no signature embedded: names cannot be compared
        return None
    return [p for p in signature.parameters if p not in ("self", "cls")]


def test_every_compiled_module_has_a_stub():
    compiled = {p.name.split(".")[0] for p in PACKAGE.glob("_*.so")} | {
        p.name.split(".")[0] for p in PACKAGE.glob("_*.pyd")
    }
    assert compiled, "the extension modules are not built in place"
    assert compiled <= {p.stem for p in STUBS}, compiled - {p.stem for p in STUBS}


@pytest.mark.parametrize("stub", STUBS, ids=lambda p: p.stem)
def test_stub_matches_module(stub):
    module = importlib.import_module(f"shardstream.{stub.stem}")
    api = _stub_api(stub)
    public = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or callable(obj))
        and getattr(obj, "__module__", None) == module.__name__
    }
    assert public <= api.keys(), f"in {stub.stem} but not in its stub: {sorted(public - api.keys())}"
    for name, members in api.items():
        assert hasattr(module, name), f"{stub.name} describes {name}, which the module lacks"
        obj = getattr(module, name)
        for member, stub_params in members.items():
            target = obj if member == "" else getattr(obj, member, None)
            assert target is not None, f"{stub.name}: {name}.{member} does not exist"
            runtime = _runtime_params(target)
            if runtime is not None and member not in ("__init__", "__cinit__"):
                assert runtime == stub_params, f"{stub.name}: {name}.{member or '()'} {runtime} != {stub_params}"


def _stub_names(path: Path) -> tuple[set[str], dict[str, set[str]]]:
    """(module-level annotated or assigned names, {class: attribute and property names}) of a stub."""

    def targets(node) -> list[str]:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        if isinstance(node, ast.Assign):
            return [t.id for t in node.targets if isinstance(t, ast.Name)]
        return []

    constants: set[str] = set()
    attributes: dict[str, set[str]] = {}
    for node in ast.parse(path.read_text("utf-8")).body:
        constants.update(targets(node))
        if isinstance(node, ast.ClassDef):
            attributes[node.name] = {name for item in node.body for name in targets(item)} | {
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef)
                and any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list)
            }
    return constants, attributes


def _own_constants(module) -> set[str]:
    """Public module-level values the module defines: plain data, or instances of its own classes
    (values imported from elsewhere, such as pyarrow schemas, are the other module's)."""
    return {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (
            isinstance(obj, (bool, int, float, str, bytes, tuple, frozenset))
            or (not inspect.isclass(obj) and type(obj).__module__ == module.__name__)
        )
    }


def _descriptors(cls) -> tuple[set[str], set[str]]:
    """(public data descriptors: cdef attributes and properties, public methods) of a compiled class."""
    data, methods = set(), set()
    for name, obj in vars(cls).items():
        if name.startswith("_"):
            continue
        if inspect.isdatadescriptor(obj) or inspect.ismemberdescriptor(obj) or inspect.isgetsetdescriptor(obj):
            data.add(name)
        elif callable(obj):
            methods.add(name)
    return data, methods


@pytest.mark.parametrize("stub", STUBS, ids=lambda p: p.stem)
def test_stub_constants_and_attributes_match_module(stub):
    """Module-level constants both ways; each compiled class's public attributes, properties and
    methods both ways (a stub naming what the module lacks, or missing what it has, fails)."""
    module = importlib.import_module(f"shardstream.{stub.stem}")
    constants, attributes = _stub_names(stub)
    own = _own_constants(module)
    assert own <= constants, f"{stub.stem} defines {sorted(own - constants)}, which its stub lacks"
    missing = sorted(name for name in constants if not hasattr(module, name))
    assert not missing, f"{stub.name} describes {missing}, which the module lacks"
    methods_in_stub = _stub_api(stub)
    for name, stub_attributes in attributes.items():
        cls = getattr(module, name)
        if issubclass(cls, BaseException):  # an exception class: nothing of its own to describe
            continue
        data, methods = _descriptors(cls)
        assert data == stub_attributes, (
            f"{stub.name}: {name} attributes/properties: only in the module {sorted(data - stub_attributes)}, "
            f"only in the stub {sorted(stub_attributes - data)}"
        )
        stub_methods = {m for m in methods_in_stub[name] if m not in stub_attributes and not m.startswith("_")}
        assert methods == stub_methods, (
            f"{stub.name}: {name} methods: only in the module {sorted(methods - stub_methods)}, "
            f"only in the stub {sorted(stub_methods - methods)}"
        )
