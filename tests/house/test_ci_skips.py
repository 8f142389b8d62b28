"""Under CI a test that skips for a missing dependency fails (tests/conftest.py); a declared skipif does not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = """
import pytest

def test_skips_at_run_time():
    pytest.skip("the thing is not installed")

def test_importorskip():
    pytest.importorskip("shardstream_no_such_module")

@pytest.mark.skipif(True, reason="declared: not on this platform")
def test_declared_skip():
    pass

@pytest.mark.xfail(reason="known", strict=True)
def test_xfail():
    assert False

def test_passes():
    pass
"""


@pytest.mark.parametrize("ci", ["true", ""])
def test_dependency_skips_fail_under_ci(tmp_path, ci):
    shutil.copy(Path(__file__).parents[1] / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "test_module_skip.py").write_text('import pytest\npytest.importorskip("shardstream_no_such")\n')
    env = {**os.environ, "CI": ci}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = proc.stdout
    if ci:
        assert proc.returncode == 2, out  # the collection error of the module-level importorskip interrupts the run
        assert "test_module_skip.py skipped under CI (could not import 'shardstream_no_such'" in out, out
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", str(tmp_path / "test_sample.py")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        out = proc.stdout
        assert proc.returncode == 1, out
        assert "FAILED test_sample.py::test_skips_at_run_time" in out, out
        assert "FAILED test_sample.py::test_importorskip" in out, out
        assert "SKIPPED [1] test_sample.py:10: declared: not on this platform" in out, out
        assert "XFAIL test_sample.py::test_xfail" in out and "PASSED test_sample.py::test_passes" in out, out
        assert "2 failed, 1 passed, 1 skipped, 1 xfailed" in out, out
    else:
        assert proc.returncode == 0, out
        assert "1 passed, 4 skipped, 1 xfailed" in out, out
