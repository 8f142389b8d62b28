"""pytest-benchmark suite for shardstream (run it explicitly; tests/ never collects it).

    python -m pytest benchmarks -p no:cacheprovider --benchmark-only

Collection: the files are named ``bench_*.py`` (not ``test_*.py``) so that no
test run picks them up by accident; the ``pytest_collect_file`` hook below
collects them when ``benchmarks`` is passed explicitly, so no ``-o
python_files=...`` is needed (passing it anyway is harmless: see the hook).

GC: the suite runs with the garbage collector disabled while timing (as
``--benchmark-disable-gc``, and as ``report.py``): otherwise the naive
baselines, which allocate a million tuples, would pay for generation-2
collections and look worse than they are.
"""

from __future__ import annotations

import fnmatch
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # `import data`, `import naive` from the bench modules, whatever the import mode
    sys.path.insert(0, HERE)

import data  # noqa: E402


def pytest_addoption(parser):
    group = parser.getgroup("shardstream benchmarks")
    group.addoption("--records", type=int, default=data.N_RECORDS,
                    help="records in the batch workloads (default 1,000,000)")
    group.addoption("--put-record-records", type=int, default=200_000,
                    help="records in the per-record put workloads (default 200,000)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Before pytest-benchmark builds its session from the options.
    if hasattr(config.option, "benchmark_disable_gc"):
        config.option.benchmark_disable_gc = True


def pytest_collect_file(file_path, parent):
    name = file_path.name
    if not (name.startswith("bench_") and name.endswith(".py")):
        return None
    if parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest's python plugin collects it itself
    patterns = parent.config.getini("python_files")
    if any(fnmatch.fnmatch(name, p) for p in patterns):
        return None  # the python plugin collects it already (e.g. -o python_files='bench_*.py')
    return pytest.Module.from_parent(parent, path=file_path)


@pytest.fixture(scope="session")
def n_records(request) -> int:
    return request.config.getoption("--records")


@pytest.fixture(scope="session")
def n_put_records(request) -> int:
    return request.config.getoption("--put-record-records")


@pytest.fixture(scope="session")
def records(n_records) -> data.ArrowRecords:
    """The shared seeded records as pyarrow arrays."""
    return data.arrow_records(n_records)


@pytest.fixture(scope="session")
def py_records(n_records) -> data.ListRecords:
    """The same records as Python lists."""
    return data.list_records(n_records)
