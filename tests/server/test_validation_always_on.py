"""Request validation cannot be switched off by a failed import.

An early version of ``server/app.py`` imported :mod:`shardstream.server.shapes` in a
``try``/``except ImportError`` and set ``shapes = None``, which let every request through
unvalidated when the module failed to load.  The app now imports it unconditionally: a
shapes module that cannot load is an import error of the app itself.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "src" / "shardstream" / "server" / "app.py"


def test_the_app_imports_shapes_unconditionally():
    tree = ast.parse(APP.read_text("utf-8"))
    guarded = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Try)
        for inner in ast.walk(node)
        if isinstance(inner, (ast.Import, ast.ImportFrom))
    ]
    assert guarded == [], f"imports inside try blocks in server/app.py at lines {guarded}"


def test_a_shapes_module_that_fails_to_load_fails_the_app():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'shardstream.server.shapes':\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    from shardstream.server import app\n"
        "except ImportError as exc:\n"
        "    print('refused:', exc)\n"
        "else:\n"
        "    print('imported; shapes is', app.shapes)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("refused: blocked: shardstream.server.shapes"), out.stdout + out.stderr
