"""The examples in docstrings are true: every module of the package, subpackages included."""

import doctest
import importlib
import pkgutil

import pytest

import shardstream


def _walk_error(name):
    raise ImportError(f"cannot import {name} while looking for docstring examples")


MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(shardstream.__path__, "shardstream.", onerror=_walk_error)
    # private modules (_native, __main__, which would run the CLI) and the demo (its own test) are not walked
    if not any(part.startswith("_") for part in m.name.split(".")[1:]) and m.name != "shardstream.demo"
)
FINDER = doctest.DocTestFinder()


def examples(name: str) -> list[doctest.DocTest]:
    return [test for test in FINDER.find(importlib.import_module(name)) if test.examples]


@pytest.mark.parametrize("name", ["shardstream", *MODULES])
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    for test in examples(name):
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


def test_the_walk_finds_every_subpackage_and_their_examples():
    """A walk that did not descend (``doctest.testmod`` on the top package only) would find far fewer."""
    for package in ("shardstream.consumer", "shardstream.server", "shardstream.storage"):
        assert any(name.startswith(package + ".") for name in MODULES), package
    counts = {name: sum(len(test.examples) for test in examples(name)) for name in ["shardstream", *MODULES]}
    in_subpackages = sum(n for name, n in counts.items() if name.count(".") >= 2)
    assert in_subpackages >= 14, counts
    assert sum(counts.values()) >= 50, counts
