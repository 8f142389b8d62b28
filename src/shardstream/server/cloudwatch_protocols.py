"""CloudWatch's three wire protocols: which one a request speaks, its parameters, and answers in kind.

The vendored model (:mod:`.cloudwatch_model`) lists the protocols botocore
may use for CloudWatch, in its order of preference:

``smithy-rpc-v2-cbor`` (:data:`CBOR`, botocore's default)
    ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with a
    ``smithy-protocol: rpc-v2-cbor`` header and a CBOR body (timestamps as
    tag 1 with epoch seconds); answers and errors in CBOR (``application/cbor``,
    the same header), an error naming its shape in ``__type``.
``json`` (:data:`JSON`, awsJson1_0)
    ``X-Amz-Target: GraniteServiceVersion20100801.<Op>`` and an
    ``application/x-amz-json-1.0`` body (timestamps as epoch seconds).
``query`` (:data:`QUERY`)
    a form ``Action=<Op>&Version=2010-08-01&Namespace=...&Dimensions.member.1.Name=...``;
    answers in XML, ``<OpResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">``
    around ``<OpResult>``, errors as ``<ErrorResponse>``.

CloudWatch is ``awsQueryCompatible``: a CBOR or JSON error also carries the
query error code in ``x-amzn-query-error: <Code>;Sender``, which botocore
reports as the error's code (``InvalidParameterValue``, as the query protocol
names it).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import cbor2
import orjson

from ..errors import KinesisError
from . import cloudwatch_model, cloudwatch_shapes

__all__ = [
    "CBOR",
    "CBOR_CONTENT_TYPE",
    "FORM_CONTENT_TYPE",
    "JSON",
    "JSON_CONTENT_TYPE",
    "QUERY",
    "Call",
    "SerializationException",
    "encode_error",
    "encode_result",
    "read_params",
    "recognise",
]

CBOR = "smithy-rpc-v2-cbor"
JSON = "json"
QUERY = "query"
CBOR_CONTENT_TYPE = "application/cbor"
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
XML_CONTENT_TYPE = "text/xml"


class SerializationException(KinesisError):
    """A CloudWatch request body that cannot be read in its protocol (not CBOR, JSON or a form)."""

    error_type = "SerializationException"


@dataclass
class Call:
    """One recognised CloudWatch request, before its parameters are read.

    Attributes
    ----------
    protocol : str
        :data:`CBOR`, :data:`JSON` or :data:`QUERY`.
    operation : str
        The operation named (perhaps one the model does not have).
    body : bytes
        The raw body.
    form : dict or None
        The query protocol's fields (read while recognising it).
    """

    protocol: str
    operation: str
    body: bytes
    form: dict | None = None


def _cbor_path_prefix() -> str:
    return f"/service/{cloudwatch_model.metadata()['targetPrefix']}/operation/"


def recognise(path: str, headers, body: bytes) -> Call | None:
    """The CloudWatch call a POST request makes, or None when it is not one (a Kinesis request).

    Parameters
    ----------
    path : str
        The request path (without the query string).
    headers : Mapping
        The request headers (case-insensitive).
    body : bytes
        The request body (the query protocol is told by its fields).
    """
    prefix = cloudwatch_model.metadata()["targetPrefix"]
    if path.startswith(_cbor_path_prefix()):
        return Call(CBOR, path[len(_cbor_path_prefix()) :].strip("/"), body)
    target = headers.get("X-Amz-Target", "")
    if target.startswith(prefix + "."):
        return Call(JSON, target[len(prefix) + 1 :], body)
    content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if content_type == FORM_CONTENT_TYPE and not target:
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return None
        if form.get("Action"):
            return Call(QUERY, form["Action"], body, form)
    return None


def read_params(call: Call) -> dict:
    """The parameters of ``call`` (an operation of the model) as the model's Python values.

    Parameters
    ----------
    call : Call
        A recognised request whose operation the model has.

    Returns
    -------
    dict
        The input, members by their model names (:func:`.cloudwatch_shapes.coerce`).

    Raises
    ------
    SerializationException
        A body that is not CBOR, JSON or a map.
    InvalidParameterValueException, MissingRequiredParameterException
        From :mod:`.cloudwatch_shapes`.
    """
    shape = cloudwatch_model.input_shape(call.operation)
    if call.protocol == QUERY:
        return cloudwatch_shapes.from_query(call.form, shape) if shape else {}
    try:
        if not call.body:
            document = {}
        elif call.protocol == CBOR:
            document = cbor2.loads(call.body)
        else:
            document = orjson.loads(call.body)
    except Exception:  # any decoder failure is the client's
        what = "CBOR" if call.protocol == CBOR else "JSON"
        raise SerializationException(f"The request body is not valid {what}.") from None
    if not isinstance(document, dict):
        raise SerializationException("The request body must be a map.")
    return cloudwatch_shapes.coerce(document, shape) if shape else {}


def _cbor(value) -> bytes:
    return cbor2.dumps(cloudwatch_shapes.to_document(value, json_form=False), datetime_as_timestamp=True)


def _protocol_headers(protocol: str) -> dict:
    if protocol == CBOR:
        return {"Content-Type": CBOR_CONTENT_TYPE, "smithy-protocol": "rpc-v2-cbor"}
    if protocol == JSON:
        return {"Content-Type": JSON_CONTENT_TYPE}
    return {"Content-Type": XML_CONTENT_TYPE}


def encode_result(call: Call, result: dict | None, request_id: str) -> tuple[dict, bytes]:
    """The headers and body answering ``call`` with ``result`` in its protocol.

    Parameters
    ----------
    call : Call
        The request answered.
    result : dict or None
        The boto3-shaped response (None: an operation without output).
    request_id : str
        The request id (the query protocol's XML carries it).

    Returns
    -------
    tuple of (dict, bytes)
        The protocol's headers (Content-Type, ...) and the body.
    """
    headers = _protocol_headers(call.protocol)
    result = result or {}
    if call.protocol == CBOR:
        return headers, _cbor(result)
    if call.protocol == JSON:
        return headers, orjson.dumps(cloudwatch_shapes.to_document(result))
    namespace = cloudwatch_model.metadata()["xmlNamespace"]
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{call.operation}Response xmlns="{namespace}">']
    output = cloudwatch_model.output_shape(call.operation)
    if output is not None:
        cloudwatch_shapes.to_xml(result, output, cloudwatch_model.result_wrapper(call.operation), out)
    out.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    out.append(f"</{call.operation}Response>")
    return headers, "".join(out).encode("utf-8")


def encode_error(protocol: str, err: KinesisError, request_id: str) -> tuple[int, dict, bytes]:
    """The status, headers and body of ``err`` in ``protocol``.

    The CBOR and JSON bodies name the error's model shape in ``__type``
    (``InvalidParameterValueException``) and its query code in the
    ``x-amzn-query-error`` header; the query protocol's XML names the code.

    Parameters
    ----------
    protocol : str
        :data:`CBOR`, :data:`JSON` or :data:`QUERY`.
    err : KinesisError
        Its ``error_type`` is the query error code.
    request_id : str
        The request id (the query protocol's XML carries it).

    Returns
    -------
    tuple of (int, dict, bytes)
        HTTP status, the protocol's headers and the body.
    """
    code = err.error_type
    fault = "Receiver" if err.http_status >= 500 else "Sender"
    headers = _protocol_headers(protocol)
    if protocol == QUERY:
        namespace = cloudwatch_model.metadata()["xmlNamespace"]
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{namespace}">'
            f"<Error><Type>{fault}</Type><Code>{escape(code)}</Code><Message>{escape(err.message or '')}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return err.http_status, headers, body.encode("utf-8")
    headers["x-amzn-query-error"] = f"{code};{fault}"
    payload = {"__type": cloudwatch_model.error_shapes().get(code, code)}
    if err.message:
        payload["message"] = err.message
    body = cbor2.dumps(payload) if protocol == CBOR else orjson.dumps(payload)
    return err.http_status, headers, body
