"""The CloudWatch service model shardstream serves, vendored in the package.

As :mod:`.model` does for Kinesis, this reads ``data/cloudwatch-2010-08-01.json.gz``
-- botocore's ``cloudwatch/2010-08-01/service-2.json`` as of the version
recorded in ``data/cloudwatch-2010-08-01.source.json`` -- so what the server
accepts, the protocols it speaks (``metadata.protocols``: smithy-rpc-v2-cbor,
json, query), the target prefix, the XML namespace, each member's type and the
error codes do not depend on which botocore (if any) is installed.
``tools/update_kinesis_model.py`` refreshes it (``--service cloudwatch``).
"""

from __future__ import annotations

from functools import lru_cache

from .vendored import VendoredModel

__all__ = [
    "MODEL_FILE",
    "SOURCE_FILE",
    "error_shapes",
    "input_shape",
    "load",
    "metadata",
    "operations",
    "output_shape",
    "result_wrapper",
    "shape",
    "source",
    "version",
    "write",
]

MODEL_FILE = "cloudwatch-2010-08-01.json.gz"
SOURCE_FILE = "cloudwatch-2010-08-01.source.json"


_MODEL = VendoredModel(MODEL_FILE, SOURCE_FILE, endpoint_prefix="monitoring")

#: The vendored CloudWatch model as a dict (``metadata``, ``operations``, ``shapes``); cached, read-only.
load = _MODEL.load
#: Where the vendored model came from: ``{"botocore": "1.44.18", "sha256": ..., "operations": 59}``.
source = _MODEL.source
#: The botocore version the vendored CloudWatch model was taken from.
version = _MODEL.version
#: Every operation name of the vendored CloudWatch model.
operations = _MODEL.operations


def metadata() -> dict:
    """The model's ``metadata`` (``targetPrefix``, ``xmlNamespace``, ``protocols``, ``apiVersion``, ...)."""
    return load()["metadata"]


def shape(name: str) -> dict:
    """The shape called ``name`` (KeyError if the model has none)."""
    return load()["shapes"][name]


def input_shape(operation: str) -> str | None:
    """The name of ``operation``'s input shape, or None when it takes none."""
    ref = load()["operations"][operation].get("input")
    return ref["shape"] if ref else None


def output_shape(operation: str) -> str | None:
    """The name of ``operation``'s output shape, or None when it answers nothing."""
    ref = load()["operations"][operation].get("output")
    return ref["shape"] if ref else None


def result_wrapper(operation: str) -> str:
    """The element the query protocol wraps ``operation``'s output in (``<Op>Result`` unless the model says)."""
    ref = load()["operations"][operation].get("output") or {}
    return ref.get("resultWrapper", f"{operation}Result")


@lru_cache(maxsize=1)
def error_shapes() -> dict[str, str]:
    """Query error code -> error shape name (``"InvalidParameterValue"`` -> ``"InvalidParameterValueException"``).

    The JSON and CBOR protocols name an error by its shape in ``__type``; the
    query protocol (and the ``x-amzn-query-error`` header of the other two) by
    its code.
    """
    out = {}
    for name, spec in load()["shapes"].items():
        if spec.get("exception"):
            out[spec.get("error", {}).get("code", name)] = name
    return out


def write(raw_json: bytes, botocore_version: str, directory=None) -> None:
    """Store ``raw_json`` (a CloudWatch service-2.json document) as the vendored model.

    Parameters
    ----------
    raw_json : bytes
        The uncompressed model, byte for byte as botocore ships it.
    botocore_version : str
        The botocore release it came from, recorded in the source file.
    directory : str or Path, optional
        Where to write (default: the package's ``data`` directory).
    """
    _MODEL.write(raw_json, botocore_version, directory)
    if directory is None:
        error_shapes.cache_clear()
