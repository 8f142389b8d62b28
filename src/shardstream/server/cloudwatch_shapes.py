"""CloudWatch values by the shapes of the vendored model: requests read into Python, answers written as XML.

Every protocol's request ends up as the same Python values -- members by
their model names, timestamps as aware UTC datetimes, integers, floats,
booleans, lists and dicts -- whichever wire brought it:

:func:`coerce`
    a JSON (awsJson1_0) or CBOR (smithy-rpc-v2-cbor) document, whose
    timestamps are epoch seconds (JSON) or already datetimes (CBOR tag 1);
:func:`from_query`
    the flat ``Name.member.1.Value=...`` pairs of the query protocol, whose
    every value is text.

Both check the members the model marks required (MissingParameter) and the
scalar types (InvalidParameterValue).  :func:`to_xml` writes a Python answer
as the query protocol's XML, and :func:`to_document` as the JSON protocol's
(datetimes as epoch seconds; members without a value left out).
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
from xml.sax.saxutils import escape

from ..errors import InvalidParameterValueException, MissingRequiredParameterException
from . import cloudwatch_model

__all__ = ["coerce", "from_query", "to_document", "to_xml"]

_UTC = _dt.timezone.utc
_MAX_LIST = 10_000  # query lists are read member by member up to here


def _bad(value, where: str, what: str) -> InvalidParameterValueException:
    text = repr(value) if not isinstance(value, str) else value
    return InvalidParameterValueException(f"The value {text} for parameter {where} is not a valid {what}.")


def _timestamp(value, where: str) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return _dt.datetime.fromtimestamp(value, _UTC)
    if isinstance(value, str):
        try:
            return _timestamp(float(value), where)
        except ValueError:
            pass
        try:
            return _timestamp(_dt.datetime.fromisoformat(value.strip()), where)
        except ValueError:
            pass
    raise _bad(value, where, "timestamp")


def _scalar(value, kind: str, where: str, text: bool):
    """One scalar of model type ``kind``; ``text``: it came as query text."""
    if kind == "timestamp":
        return _timestamp(value, where)
    if kind in ("integer", "long"):
        if text and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise _bad(value, where, "integer") from None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _bad(value, where, "integer")
    if kind in ("double", "float"):
        if text and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _bad(value, where, "number") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _bad(value, where, "number")
    if kind == "boolean":
        if text and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        raise _bad(value, where, "boolean")
    if kind == "blob":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        raise _bad(value, where, "blob")
    if isinstance(value, str):
        return value
    raise _bad(value, where, "string")


def _join(where: str, name) -> str:
    return f"{where}.{name}" if where else str(name)


def _required(spec: dict, out: dict, where: str) -> None:
    for name in spec.get("required", ()):
        if out.get(name) is None:
            raise MissingRequiredParameterException(f"The parameter {_join(where, name)} is required.")


def coerce(value, shape_name: str, where: str = ""):
    """A decoded JSON or CBOR value read as the model's shape ``shape_name``.

    Parameters
    ----------
    value
        The decoded document (a dict for an operation's input).
    shape_name : str
        The model shape it should have.
    where : str
        The member path of ``value``, for messages (``"MetricDataQueries.member.1"``).

    Returns
    -------
    The value with timestamps as aware datetimes and members the model does
    not know left out.

    Raises
    ------
    InvalidParameterValueException
        A value of the wrong type.
    MissingRequiredParameterException
        A structure without a member the model requires.
    """
    spec = cloudwatch_model.shape(shape_name)
    kind = spec["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            raise _bad(value, where or "the request", "structure")
        out = {}
        for name, ref in spec.get("members", {}).items():
            if value.get(name) is not None:
                out[name] = coerce(value[name], ref["shape"], _join(where, name))
        _required(spec, out, where)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _bad(value, where, "list")
        return [coerce(v, spec["member"]["shape"], f"{where}.member.{i}") for i, v in enumerate(value, 1)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _bad(value, where, "map")
        return {str(k): coerce(v, spec["value"]["shape"], _join(where, k)) for k, v in value.items() if v is not None}
    return _scalar(value, kind, where, text=False)


def _present(pairs: dict, prefix: str) -> bool:
    dotted = prefix + "."
    return prefix in pairs or any(k.startswith(dotted) for k in pairs)


def from_query(pairs: dict, shape_name: str, prefix: str = ""):
    """The query protocol's flat ``pairs`` (``{"Dimensions.member.1.Name": "StreamName", ...}``) as a shape.

    Parameters
    ----------
    pairs : dict of str to str
        The form fields of the request (``Action`` and ``Version`` may be among them).
    shape_name : str
        The shape to read (an operation's input shape at the top).
    prefix : str
        The field-name prefix of this value ("" at the top).

    Returns
    -------
    The value, as :func:`coerce` returns it; None when no field names it.

    Raises
    ------
    InvalidParameterValueException, MissingRequiredParameterException
        As :func:`coerce`.
    """
    spec = cloudwatch_model.shape(shape_name)
    kind = spec["type"]
    if kind == "structure":
        out = {}
        for name, ref in spec.get("members", {}).items():
            key = ref.get("locationName", name)
            member = from_query(pairs, ref["shape"], _join(prefix, key))
            if member is not None:
                out[name] = member
        if prefix and not out and not _present(pairs, prefix):
            return None
        _required(spec, out, prefix)
        return out
    if kind == "list":
        if not _present(pairs, prefix):
            return None
        inner = prefix if spec.get("flattened") else f"{prefix}.{spec['member'].get('locationName', 'member')}"
        items = []
        for i in range(1, _MAX_LIST + 1):
            item = from_query(pairs, spec["member"]["shape"], f"{inner}.{i}")
            if item is None:
                break
            items.append(item)
        return items
    if kind == "map":
        if not _present(pairs, prefix):
            return None
        inner = prefix if spec.get("flattened") else f"{prefix}.entry"
        key_name, value_name = spec["key"].get("locationName", "key"), spec["value"].get("locationName", "value")
        out = {}
        for i in range(1, _MAX_LIST + 1):
            key = pairs.get(f"{inner}.{i}.{key_name}")
            if key is None:
                break
            value = from_query(pairs, spec["value"]["shape"], f"{inner}.{i}.{value_name}")
            if value is not None:
                out[key] = value
        return out
    if prefix not in pairs:
        return None
    return _scalar(pairs[prefix], kind, prefix, text=True)


def _undefined(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def to_document(value, json_form: bool = True):
    """An answer as the JSON (or CBOR) protocol writes it.

    Members that are None, NaN or infinite are left out: a statistic without a
    value (a percentile of a series that keeps no histogram) is absent, as
    CloudWatch leaves it, in every protocol.

    Parameters
    ----------
    value
        A response dict (or any part of one).
    json_form : bool
        True: datetimes as epoch seconds, and a NaN inside a list as null (JSON
        has no NaN); False: both kept, for CBOR (tag 1, IEEE doubles).
    """
    if isinstance(value, dict):
        return {k: to_document(v, json_form) for k, v in value.items() if not _undefined(v)}
    if isinstance(value, (list, tuple)):
        return [to_document(v, json_form) for v in value]
    if not json_form:
        return value
    if isinstance(value, _dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=_UTC)).timestamp()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(value, kind: str) -> str:
    if kind == "timestamp":
        when = _timestamp(value, "")
        return when.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("double", "float"):
        if not math.isfinite(value):  # in a list, where leaving it out would shift the rest
            return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        return repr(float(value))
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    return escape(str(value))


def to_xml(value, shape_name: str, tag: str, out: list) -> None:
    """Append ``value`` as the query protocol's XML element ``tag`` of shape ``shape_name`` to ``out``.

    Parameters
    ----------
    value
        A response value (members the shape does not name are left out).
    shape_name : str
    tag : str
        The element's name.
    out : list of str
        The pieces of the document so far.
    """
    if value is None:
        return
    spec = cloudwatch_model.shape(shape_name)
    kind = spec["type"]
    if kind == "structure":
        out.append(f"<{tag}>")
        members = spec.get("members", {})
        for name in spec.get("xmlOrder", members):
            ref = members.get(name)
            if ref is not None and isinstance(value, dict) and not _undefined(value.get(name)):
                to_xml(value[name], ref["shape"], ref.get("locationName", name), out)
        out.append(f"</{tag}>")
    elif kind == "list":
        item_tag = spec["member"].get("locationName", tag if spec.get("flattened") else "member")
        if not spec.get("flattened"):
            out.append(f"<{tag}>")
        for item in value:
            to_xml(item, spec["member"]["shape"], item_tag, out)
        if not spec.get("flattened"):
            out.append(f"</{tag}>")
    elif kind == "map":
        key_tag, value_tag = spec["key"].get("locationName", "key"), spec["value"].get("locationName", "value")
        out.append(f"<{tag}>")
        for k, v in value.items():
            if _undefined(v):
                continue
            out.append(f"<entry><{key_tag}>{escape(str(k))}</{key_tag}>")
            to_xml(v, spec["value"]["shape"], value_tag, out)
            out.append("</entry>")
        out.append(f"</{tag}>")
    else:
        out.append(f"<{tag}>{_text(value, kind)}</{tag}>")
