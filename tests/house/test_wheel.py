"""wheels/build.sh builds a wheel that installs and works in a fresh venv.

Slow (about a minute: a full Cython build plus a venv install from the
package index); ``SHARDSTREAM_SKIP_WHEEL_TEST=1`` skips it for quick local runs.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = ROOT / "wheels" / "build.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SHARDSTREAM_SKIP_WHEEL_TEST") == "1",
        reason="SHARDSTREAM_SKIP_WHEEL_TEST=1",
    ),
]


def test_build_script_builds_a_working_wheel():
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(BUILD)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    assert "put/get/read_table OK" in proc.stdout

    match = re.search(r"^([0-9a-f]{64})  (\S+\.whl)$", proc.stdout, re.M)
    assert match, proc.stdout
    wheel = pathlib.Path(match.group(2))
    assert wheel.is_file() and wheel.parent == ROOT / "wheels" / "dist"
    assert wheel.name.startswith("shardstream-")

    names = zipfile.ZipFile(wheel).namelist()
    assert "shardstream/cli.py" in names and "shardstream/__main__.py" in names
    assert any(n.startswith("shardstream/_routing.") and n.endswith((".so", ".pyd")) for n in names)
    assert not any(n.endswith((".pyx", ".c", ".pxd")) for n in names), names
    assert "shardstream/server/data/kinesis-2013-12-02.json.gz" in names  # the vendored service model
    assert "shardstream/server/data/kinesis-2013-12-02.source.json" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "shardstream = shardstream.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
