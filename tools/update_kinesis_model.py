#!/usr/bin/env python3
"""Refresh the vendored Kinesis (and CloudWatch) service models from an installed botocore.

    python tools/update_kinesis_model.py            # copy botocore's models in, print what changed
    python tools/update_kinesis_model.py --check    # only print the changes; exit 1 if there are any
    python tools/update_kinesis_model.py --service cloudwatch   # only one of them
    python tools/update_kinesis_model.py --from path/to/service-2.json[.gz] --version 1.44.18  # Kinesis's
    python tools/update_kinesis_model.py --service cloudwatch --from path/to/service-2.json --version 1.44.18

The models land in ``src/shardstream/server/data`` with the botocore version they
came from: Kinesis's (``kinesis/2013-12-02``) and CloudWatch's
(``cloudwatch/2010-08-01``, which ``shardstream serve`` answers for its metrics).
After a refresh, run the tests: new operations are answered "not supported
yet" until they are implemented, and new members are accepted by validation
but ignored until an action uses them.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import sys
import types
from pathlib import Path

SERVER = Path(__file__).resolve().parent.parent / "src" / "shardstream" / "server"


_PACKAGE = "_shardstream_server"


def _load_module(filename: str):
    """A module of the source tree's ``shardstream.server``, loaded on its own (no compiled core needed).

    It is loaded inside a stand-in package whose path is the server folder, so its
    relative imports of its siblings (``.vendored``) work without importing shardstream.
    """
    if _PACKAGE not in sys.modules:
        package = types.ModuleType(_PACKAGE)
        package.__path__ = [str(SERVER)]
        sys.modules[_PACKAGE] = package
    name = f"{_PACKAGE}.{filename[:-3]}"
    spec = importlib.util.spec_from_file_location(name, SERVER / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


model = _load_module("model.py")
cloudwatch_model = _load_module("cloudwatch_model.py")
#: service -> (the module that owns its vendored model, botocore's data folder for it)
SERVICES = {
    "kinesis": (model, ("kinesis", "2013-12-02")),
    "cloudwatch": (cloudwatch_model, ("cloudwatch", "2010-08-01")),
}


def _botocore_model(service: str = "kinesis") -> tuple[Path, str]:
    try:
        import botocore
    except ImportError:
        sys.exit("botocore is not installed: pip install botocore, or pass --from and --version")
    folder = Path(botocore.__file__).parent / "data" / Path(*SERVICES[service][1])
    for name in ("service-2.json.gz", "service-2.json"):
        if (folder / name).exists():
            return folder / name, botocore.__version__
    sys.exit(f"no {service} service model under {folder}")


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _refresh(service: str, path: Path, version: str, into: Path | None, check: bool) -> bool:
    """Compare (and unless ``check``, store) one service's model; whether it changed."""
    owner = SERVICES[service][0]
    raw = _read(path)
    new = json.loads(raw)
    try:
        old, old_version = owner.load(), owner.version()
    except FileNotFoundError:  # the first import of a model
        old, old_version = {"operations": {}, "shapes": {}}, "(none)"
    changes = model.diff(old, new)
    print(f"{service} vendored: botocore {old_version}, {len(old['operations'])} operations")
    print(f"{service} source:   botocore {version}, {len(new['operations'])} operations ({path})")
    print("\n".join(changes) if changes else "no changes to operations or shapes")
    if not check:
        owner.write(raw, version, into)
        print(f"written to {into or 'src/shardstream/server/data'}")
    return bool(changes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--service", choices=sorted(SERVICES), help="refresh only this model (default: all)")
    parser.add_argument("--from", dest="source", type=Path, help="a service-2.json(.gz); default: botocore's")
    parser.add_argument("--version", help="the botocore version --from came from")
    parser.add_argument("--into", type=Path, help="write here instead of the package's data directory")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the models differ")
    args = parser.parse_args(argv)

    if args.source is not None and not args.version:
        parser.error("--from needs --version")
    services = [args.service] if args.service else list(SERVICES)
    if args.source is not None:  # one file: Kinesis's unless --service says
        services = [args.service or "kinesis"]
    changed = False
    for service in services:
        if args.source is None:
            path, version = _botocore_model(service)
        else:
            path, version = args.source, args.version
        changed = _refresh(service, path, version, args.into, args.check) or changed
    if args.check:
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
