"""The ``shardstream`` command line, run for real in subprocesses (``python -m shardstream``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pandas  # noqa: F401 - the demo reads back into pandas (in the test extra)
from click.testing import CliRunner

import shardstream
from shardstream import demo as demo_module
from shardstream.cli import main


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "shardstream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def test_version():
    proc = run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"shardstream {shardstream.__version__}"


def test_help_lists_commands():
    proc = run("--help")
    assert proc.returncode == 0, proc.stderr
    assert "demo" in proc.stdout and "info" in proc.stdout


def test_info():
    import numpy
    import pyarrow

    proc = run("info")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(rf"^shardstream\s+{re.escape(shardstream.__version__)}$", out, re.M), out
    from shardstream.routing import md5_kernel

    assert re.search(rf"^md5 kernel\s+{md5_kernel()}$", out, re.M), out
    assert re.search(rf"^numpy\s+{re.escape(numpy.__version__)}$", out, re.M), out
    assert re.search(rf"^pyarrow\s+{re.escape(pyarrow.__version__)}$", out, re.M), out
    assert re.search(r"^python\s+3\.\d+", out, re.M), out


def test_demo_small():
    proc = run("demo", "--records", "20000", "--shards", "3", "--batch-size", "7000")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for i in range(3):
        assert f"shardId-{i:012d}" in out, out
    assert "20,000" in out
    assert "OK: read back 20,000 of 20,000 records" in out
    assert "Traceback" not in proc.stderr
    # The per-shard counts in the table add up to the total.
    counts = [int(m.replace(",", "")) for m in re.findall(r"^\s+shardId-\d{12}\s+([\d,]+)", out, re.M)]
    assert len(counts) == 3 and sum(counts) == 20_000


def test_demo_is_deterministic():
    a = demo_module.run_demo(records=5_000, shards=2, record_size=10, batch_size=1_000, seed=7)
    b = demo_module.run_demo(records=5_000, shards=2, record_size=10, batch_size=1_000, seed=7)
    assert a.ok and b.ok
    assert [r["records"] for r in a.shards_table] == [r["records"] for r in b.shards_table]


def test_make_keys_shape():
    import numpy as np

    keys = demo_module.make_keys(np.random.default_rng(0), 10_000).to_pylist()
    assert all(k.startswith("user-") and 16 <= len(k) <= 36 for k in keys)
    assert re.fullmatch(r"user-[0-9a-f]+", keys[0])
    assert {len(k) for k in keys} == set(range(16, 37))


def test_demo_without_pandas(tmp_path):
    # A "pandas" package that fails to import, first on the path: the demo must say what to install.
    fake = tmp_path / "pandas"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named pandas')\n")
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    proc = run("demo", "--records", "10", env={"PYTHONPATH": path})
    assert proc.returncode == 1
    assert "pip install 'shardstream[pandas]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_rejects_bad_options():
    proc = run("demo", "--records", "0")
    assert proc.returncode == 2
    assert "--records" in proc.stderr


def test_demo_exits_nonzero_on_mismatch(monkeypatch):
    import shardstream.reader

    real = shardstream.reader.to_pandas
    monkeypatch.setattr(shardstream.reader, "to_pandas", lambda table: real(table.slice(1)))
    result = CliRunner().invoke(main, ["demo", "--records", "1000", "--shards", "2"])
    assert result.exit_code == 1, result.output
    assert "FAILED: read back 999 records but wrote 1,000" in result.output


def test_demo_on_a_data_directory(tmp_path):
    args = ["demo", "--records", "3000", "--shards", "3", "--batch-size", "700", "--data-dir", str(tmp_path)]
    for _ in range(2):  # the second run replaces the first run's stream
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "OK: read back 3,000 of 3,000 records" in result.output
        assert "reopen" in result.output and "re-read" in result.output and str(tmp_path) in result.output
    table = shardstream.replay(tmp_path, "shardstream-demo").read_all()
    assert table.num_rows == 3000


def test_run_demo_durable_checks_what_comes_back(tmp_path):
    result = demo_module.run_demo(records=2_000, shards=2, record_size=10, batch_size=500, data_dir=tmp_path)
    assert result.ok, result.problems
    assert result.reopen_s > 0 and result.reread_s > 0 and result.durability == "sync"
