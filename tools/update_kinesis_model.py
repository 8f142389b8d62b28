#!/usr/bin/env python3
"""Refresh the vendored Kinesis service model from an installed botocore.

    python tools/update_kinesis_model.py            # copy botocore's model in, print what changed
    python tools/update_kinesis_model.py --check    # only print the changes; exit 1 if there are any
    python tools/update_kinesis_model.py --from path/to/service-2.json[.gz] --version 1.44.18

The model lands in ``src/shardstream/server/data`` with the botocore version it
came from.  After a refresh, run the tests: new operations are answered
"not supported yet" until they are implemented, and new members are accepted
by validation but ignored until an action uses them.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
from pathlib import Path

MODEL_PY = Path(__file__).resolve().parent.parent / "src" / "shardstream" / "server" / "model.py"


def _load_model_module():
    """The source tree's ``shardstream.server.model``, loaded on its own (no compiled core needed)."""
    spec = importlib.util.spec_from_file_location("_shardstream_model", MODEL_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


model = _load_model_module()


def _botocore_model() -> tuple[Path, str]:
    try:
        import botocore
    except ImportError:
        sys.exit("botocore is not installed: pip install botocore, or pass --from and --version")
    folder = Path(botocore.__file__).parent / "data" / "kinesis" / "2013-12-02"
    for name in ("service-2.json.gz", "service-2.json"):
        if (folder / name).exists():
            return folder / name, botocore.__version__
    sys.exit(f"no Kinesis service model under {folder}")


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, help="a service-2.json(.gz); default: botocore's")
    parser.add_argument("--version", help="the botocore version --from came from")
    parser.add_argument("--into", type=Path, help="write here instead of the package's data directory")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the models differ")
    args = parser.parse_args(argv)

    if args.source is None:
        path, version = _botocore_model()
    else:
        if not args.version:
            parser.error("--from needs --version")
        path, version = args.source, args.version
    raw = _read(path)
    new = json.loads(raw)
    try:
        old, old_version = model.load(), model.version()
    except FileNotFoundError:  # the first import of a model
        old, old_version = {"operations": {}, "shapes": {}}, "(none)"
    changes = model.diff(old, new)
    print(f"vendored: botocore {old_version}, {len(old['operations'])} operations")
    print(f"source:   botocore {version}, {len(new['operations'])} operations ({path})")
    print("\n".join(changes) if changes else "no changes to operations or shapes")
    if args.check:
        return 1 if changes else 0
    model.write(raw, version, args.into)
    print(f"written to {args.into or 'src/shardstream/server/data'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
