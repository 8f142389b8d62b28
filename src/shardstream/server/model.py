"""The Kinesis service model shardstream serves, vendored in the package.

The server's operation list, request validation (:mod:`.shapes`) and the
tests all read this one file -- ``data/kinesis-2013-12-02.json.gz``, botocore's
``kinesis/2013-12-02/service-2.json`` as of the version recorded beside it in
``data/kinesis-2013-12-02.source.json`` -- so what the server accepts does not
depend on which botocore (if any) is installed.  ``tools/update_kinesis_model.py``
refreshes it from an installed botocore and prints what changed (:func:`diff`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from pathlib import Path

__all__ = ["MODEL_FILE", "SOURCE_FILE", "diff", "load", "operations", "source", "version", "write"]

MODEL_FILE = "kinesis-2013-12-02.json.gz"
SOURCE_FILE = "kinesis-2013-12-02.source.json"


def _data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"


@lru_cache(maxsize=1)
def load() -> dict:
    """The vendored service model as a dict (``metadata``, ``operations``, ``shapes``).

    Cached: treat the result as read-only.
    """
    with gzip.open(_data_dir() / MODEL_FILE, "rb") as f:
        return json.loads(f.read())


@lru_cache(maxsize=1)
def source() -> dict:
    """Where the vendored model came from: ``{"botocore": "1.44.18", "sha256": ..., "operations": 57}``."""
    return json.loads((_data_dir() / SOURCE_FILE).read_text("utf-8"))


def version() -> str:
    """The botocore version the vendored model was taken from."""
    return source()["botocore"]


def operations() -> frozenset[str]:
    """Every operation name of the vendored model."""
    return frozenset(load()["operations"])


def write(raw_json: bytes, botocore_version: str, directory: str | Path | None = None) -> None:
    """Store ``raw_json`` (a service-2.json document) as the vendored model.

    Parameters
    ----------
    raw_json : bytes
        The uncompressed model, byte for byte as botocore ships it.
    botocore_version : str
        The botocore release it came from, recorded in the source file.
    directory : str or Path, optional
        Where to write (default: the package's ``data`` directory).
    """
    model = json.loads(raw_json)  # refuse anything that is not JSON before touching the files
    target = Path(directory) if directory is not None else _data_dir()
    target.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the compressed file byte-identical for identical input
    with open(target / MODEL_FILE, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(raw_json)
    info = {
        "botocore": botocore_version,
        "sha256": hashlib.sha256(raw_json).hexdigest(),
        "operations": len(model.get("operations", {})),
    }
    (target / SOURCE_FILE).write_text(json.dumps(info, indent=2) + "\n", "utf-8")
    if directory is None:
        load.cache_clear()
        source.cache_clear()


def _strip_docs(node):
    if isinstance(node, dict):
        return {k: _strip_docs(v) for k, v in node.items() if k != "documentation"}
    if isinstance(node, list):
        return [_strip_docs(v) for v in node]
    return node


def _member_changes(name: str, old: dict, new: dict) -> list[str]:
    lines = []
    old_members, new_members = old.get("members", {}), new.get("members", {})
    for m in sorted(new_members.keys() - old_members.keys()):
        lines.append(f"  shape {name}: member {m} added")
    for m in sorted(old_members.keys() - new_members.keys()):
        lines.append(f"  shape {name}: member {m} removed")
    old_req, new_req = set(old.get("required", ())), set(new.get("required", ()))
    for m in sorted(new_req - old_req):
        lines.append(f"  shape {name}: {m} now required")
    for m in sorted(old_req - new_req):
        lines.append(f"  shape {name}: {m} no longer required")
    for key in ("type", "min", "max", "pattern", "enum"):
        if old.get(key) != new.get(key):
            lines.append(f"  shape {name}: {key} {old.get(key)!r} -> {new.get(key)!r}")
    for m in sorted(old_members.keys() & new_members.keys()):
        if old_members[m] != new_members[m]:
            lines.append(f"  shape {name}: member {m} changed")
    return lines


def diff(old: dict, new: dict) -> list[str]:
    """What changed between two service models, one line per change (documentation ignored).

    Parameters
    ----------
    old, new : dict
        Service models as :func:`load` returns them.

    Returns
    -------
    list of str
        Lines such as ``operation CreateQueue added`` or
        ``  shape PutRecordInput: member DryRun added``; empty when nothing but
        documentation differs.
    """
    old, new = _strip_docs(old), _strip_docs(new)
    lines = []
    old_ops, new_ops = old.get("operations", {}), new.get("operations", {})
    for op in sorted(new_ops.keys() - old_ops.keys()):
        lines.append(f"operation {op} added")
    for op in sorted(old_ops.keys() - new_ops.keys()):
        lines.append(f"operation {op} removed")
    for op in sorted(old_ops.keys() & new_ops.keys()):
        if old_ops[op] != new_ops[op]:
            lines.append(f"operation {op} changed")
    old_shapes, new_shapes = old.get("shapes", {}), new.get("shapes", {})
    for name in sorted(new_shapes.keys() - old_shapes.keys()):
        lines.append(f"shape {name} added")
    for name in sorted(old_shapes.keys() - new_shapes.keys()):
        lines.append(f"shape {name} removed")
    for name in sorted(old_shapes.keys() & new_shapes.keys()):
        if old_shapes[name] != new_shapes[name]:
            lines.append(f"shape {name} changed")
            lines.extend(_member_changes(name, old_shapes[name], new_shapes[name]))
    return lines
