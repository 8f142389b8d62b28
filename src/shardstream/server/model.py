"""The Kinesis service model shardstream serves, vendored in the package.

The server's operation list, request validation (:mod:`.shapes`) and the
tests all read this one file -- ``data/kinesis-2013-12-02.json.gz``, botocore's
``kinesis/2013-12-02/service-2.json`` as of the version recorded beside it in
``data/kinesis-2013-12-02.source.json`` -- so what the server accepts does not
depend on which botocore (if any) is installed.  ``tools/update_kinesis_model.py``
refreshes it from an installed botocore and prints what changed (:func:`diff`).
"""

from __future__ import annotations

from .vendored import VendoredModel

__all__ = ["MODEL_FILE", "SOURCE_FILE", "diff", "load", "operations", "source", "version", "write"]

MODEL_FILE = "kinesis-2013-12-02.json.gz"
SOURCE_FILE = "kinesis-2013-12-02.source.json"


_MODEL = VendoredModel(MODEL_FILE, SOURCE_FILE)

#: The vendored service model as a dict (``metadata``, ``operations``, ``shapes``); cached, read-only.
load = _MODEL.load
#: Where the vendored model came from: ``{"botocore": "1.44.18", "sha256": ..., "operations": 57}``.
source = _MODEL.source
#: The botocore version the vendored model was taken from.
version = _MODEL.version
#: Every operation name of the vendored model.
operations = _MODEL.operations
#: Store a service-2.json document as the vendored model (see :meth:`.vendored.VendoredModel.write`).
write = _MODEL.write


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
