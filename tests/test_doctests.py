"""The examples in docstrings are true."""

import doctest
import importlib
import pkgutil

import pytest

import shardstream

MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules(shardstream.__path__, "shardstream.")
    if not m.name.rsplit(".", 1)[1].startswith("_") and m.name != "shardstream.demo"
)


@pytest.mark.parametrize("name", ["shardstream", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
