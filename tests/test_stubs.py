"""The ``.pyi`` stubs describe the compiled modules as they are: the same public classes,
functions and methods, with the same parameter names."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "shardstream"
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
