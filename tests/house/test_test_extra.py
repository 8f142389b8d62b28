"""Every third-party module the tests import is installed by ``pip install -e '.[test]'``.

CI installs exactly the test extra, and under CI a test may not skip for a missing dependency
(tests/conftest.py), so a test importing something the extra does not bring fails CI. This
catches it here first, naming the module and the files.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from distributions import canonical, closure

TESTS = Path(__file__).resolve().parents[1]
# not from the test extra, on purpose: test_kcl.py takes it from the sdist (its installer downloads Java jars)
NOT_INSTALLED = {"amazon_kclpy": "tests/consumer/test_kcl.py extracts it from its source distribution"}


def _third_party_imports() -> dict[str, set[str]]:
    local = {p.stem for p in TESTS.rglob("*.py")} | {p.name for p in TESTS.rglob("*") if p.is_dir()}
    found: dict[str, set[str]] = {}
    for path in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module.split(".")[0]]
            else:
                continue
            for module in modules:
                if module not in sys.stdlib_module_names and module not in local | {"shardstream", "__future__"}:
                    found.setdefault(module, set()).add(str(path.relative_to(TESTS)))
    return found


def test_every_module_the_tests_import_comes_with_the_test_extra():
    installed = closure(frozenset({"test"}))
    providers = metadata.packages_distributions()
    imports = _third_party_imports()
    assert {"pytest", "boto3", "cbor2", "polars"} <= imports.keys()  # the scan sees the tests' imports
    missing = {
        module: sorted(files)
        for module, files in imports.items()
        if module not in NOT_INSTALLED and not {canonical(d) for d in providers.get(module, ())} & installed
    }
    assert not missing, f"imported by tests but not installed by the test extra: {missing}"
