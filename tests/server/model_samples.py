"""Valid sample requests for every shape of the vendored Kinesis service model."""

from __future__ import annotations

import base64

from shardstream.server import model

ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
CONSUMER_ARN = ARN + "/consumer/c:1700000000"


def b64(n: int) -> str:
    return base64.b64encode(b"x" * n).decode()


# A value for each pattern of the model (a new pattern in a refreshed model needs one here).
_SAMPLES = {
    "[a-zA-Z0-9_.-]+": "a",
    r"arn:aws.*:kinesis:.*:\d{12}:stream/\S+": ARN,
    r"arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+": ARN,
    r"^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+": CONSUMER_ARN,
    "[a-z0-9]{20}-[a-z0-9]{3}": "a" * 20 + "-abc",
    r"^(0|([1-9]\d{0,38}))$": "0",
    r"^(0|([1-9]\d{0,128}))$": "0",
    r"arn:aws.*:kinesis:.*:\d{12}:queue/\S+": "arn:aws:kinesis:us-east-1:123456789012:queue/q",
    r"arn:aws.*:kinesis:.*:\d{12}:channel/\S+": "arn:aws:kinesis:us-east-1:123456789012:channel/c",
    r"arn:aws.*:kinesis:.*:\d{12}:.*(stream|channel|queue)/\S+": ARN,
    r"arn:aws[-a-z0-9]*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+": "arn:aws:iam::123456789012:role/r",
    r"arn:aws[-a-z0-9]*:glue:[-a-z0-9]+:\d{12}:schema/[-a-zA-Z0-9_$#.]+/[-a-zA-Z0-9_$#.]+": (
        "arn:aws:glue:us-east-1:123456789012:schema/registry/schema"
    ),
    r"[\.\-_/#A-Za-z0-9]+": "a",
    r"arn:aws[-a-z0-9]*:s3:::[a-z0-9._-]{3,63}": "arn:aws:s3:::bucket",
    "[^:*]*": "a",
    r"\d{12}": "123456789012",
    r"[0-9A-Za-z!\-_'.*()\/]+": "a",
    r"[0-9A-Za-z!\-_'.*()\/=:{}]+": "a",
    r"arn:aws[-a-z0-9]*:s3tables:[-a-z0-9]+:\d{12}:bucket/[a-z0-9_-]{3,63}": (
        "arn:aws:s3tables:us-east-1:123456789012:bucket/tables"
    ),
    "[0-9a-z_]+": "a",
    r"[a-zA-Z0-9\.\_]+": "a",
    "^[a-z0-9]+$": "a",
}


def sample(name: str, full: bool):
    """A request value of model shape ``name``: every member (``full``) or only the required ones."""
    spec = model.load()["shapes"][name]
    kind = spec["type"]
    if kind == "structure":
        return {
            m: sample(ms["shape"], full) for m, ms in spec["members"].items() if full or m in spec.get("required", ())
        }
    if kind == "list":
        return [sample(spec["member"]["shape"], full) for _ in range(max(spec.get("min", 0), 1))]
    if kind == "map":
        return {sample(spec["key"]["shape"], full): sample(spec["value"]["shape"], full)}
    if kind == "string":
        if "enum" in spec:
            return spec["enum"][-1]
        if "pattern" in spec:
            value = _SAMPLES[spec["pattern"]]  # KeyError: a new pattern in the model needs a sample
        else:
            value = "x"
        return value * max(1, spec.get("min", 1) // len(value) + (1 if spec.get("min", 1) % len(value) else 0))
    if kind in ("integer", "long"):
        return spec.get("min", 1)
    if kind == "blob":
        return b64(spec.get("min", 0) or 3)
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 1704067200.25
    raise AssertionError(f"unhandled model type {kind}")
