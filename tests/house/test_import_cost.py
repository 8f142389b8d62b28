"""What ``import shardstream`` loads: the core, not the optional heavyweights."""

from __future__ import annotations

import subprocess
import sys

#: Imported on first use only (a DataFrame asked for, a server started...), never by the package itself.
LAZY = ("pandas", "polars", "duckdb", "aiohttp", "rich", "boto3", "cryptography")


def test_importing_the_package_leaves_the_optional_libraries_unloaded():
    code = (
        "import sys, shardstream\n"
        "shardstream.Engine().create_stream('s', 1).put_record(b'x', 'k')\n"
        f"print(' '.join(m for m in {LAZY!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []
