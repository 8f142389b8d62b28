"""The aiohttp application: Kinesis's request pipeline (spec 2.5) in front of an Engine.

One handler takes every request.  In order: request id headers (and CORS);
non-POST -> 403 XML AccessDenied; content type; body size (413); empty body;
parse (JSON 1.1 or CBOR 1.1); ``X-Amz-Target`` -> UnknownOperationException;
SigV4 authentication (:mod:`.auth`);
shape validation (:mod:`.shapes`); blob/timestamp decoding (:mod:`.codec`);
then the action (:mod:`.actions`).  A KinesisError becomes its JSON (or CBOR)
error body; anything else is logged and answered 500 InternalFailure, so a
malformed request never takes the server down.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import uuid

import orjson
from aiohttp import web

from ..errors import KinesisError
from . import actions, codec, eventstream
from . import auth as _auth

try:  # written in parallel; until it lands requests are not shape-validated
    from . import shapes
except ImportError:  # pragma: no cover
    shapes = None

__all__ = ["JSON_CONTENT_TYPE", "CBOR_CONTENT_TYPE", "TARGET_PREFIX", "make_app"]

log = logging.getLogger("shardstream.server")

TARGET_PREFIX = "Kinesis_20131202."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"
LEGACY_JSON = "application/json"
_VALID_TYPES = (JSON_CONTENT_TYPE, CBOR_CONTENT_TYPE, LEGACY_JSON)
_ENGINE_KEY = web.AppKey("engine", object)
_MAX_BODY_KEY = web.AppKey("max_body_bytes", int)
_AUTH_KEY = web.AppKey("auth", object)
_CORS_EXPOSE = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date"


class _Regions:
    """One engine per region, as Kinesis scopes streams: the given engine serves its own
    region (and unsigned or unscoped requests); others are made on first use with its settings."""

    def __init__(self, engine):
        self.default = engine
        self._engines = {getattr(engine, "region", "us-east-1"): engine}
        self._lock = threading.Lock()

    def get(self, region: str | None):
        if region is None:
            return self.default
        engine = self._engines.get(region)
        if engine is None:
            with self._lock:
                engine = self._engines.get(region)
                if engine is None:
                    engine = self._engines[region] = self.default.for_region(region)
        return engine


def make_app(engine, *, max_body_bytes: int = 7 * 1024 * 1024, auth=None) -> web.Application:
    """An aiohttp application serving the Kinesis API over ``engine``.

    Parameters
    ----------
    engine : shardstream.Engine
    max_body_bytes : int
        Larger request bodies get 413 (Kinesis's limit is 7 MiB).
    auth : None, "presence", "off", AuthConfig, dict or path
        Request authentication (:mod:`.auth`).  None/"presence": any well-formed
        SigV4 signature is accepted (kinesalite); "off": no checks; a key table
        (an AuthConfig, its dict form or a JSON file): signatures are verified and
        keys limited to their actions and streams.
    """
    # aiohttp refuses bodies over client_max_size itself; we check first and answer 413.
    app = web.Application(client_max_size=max_body_bytes + 1)
    app[_ENGINE_KEY] = _Regions(engine)
    app[_MAX_BODY_KEY] = int(max_body_bytes)
    app[_AUTH_KEY] = _auth.make_authenticator(
        auth, region=getattr(engine, "region", "us-east-1"), account_id=getattr(engine, "account_id", "000000000000")
    )
    app.router.add_route("*", "/{tail:.*}", _handle)
    eventstream.install(app)
    return app


# -- responses ---------------------------------------------------------------------


def _base_headers(request: web.Request) -> dict:
    headers = {
        "x-amzn-RequestId": str(uuid.uuid4()),
        "x-amz-id-2": base64.b64encode(os.urandom(72)).decode("ascii"),
    }
    if "Origin" in request.headers:
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Expose-Headers"] = _CORS_EXPOSE
    return headers


def _xml_error(status: int, error_type: str, message: str | None, headers: dict) -> web.Response:
    inner = f"\n  <Message>{message}</Message>\n" if message else ""
    body = f"<{error_type}>{inner}</{error_type}>\n".encode()
    return web.Response(status=status, body=body, headers=headers)


def _encode(payload, cbor: bool) -> bytes:
    return codec.encode_cbor(payload) if cbor else codec.encode_json(payload)


def _error(status: int, error_type: str, message: str | None, headers: dict, cbor: bool) -> web.Response:
    payload = {"__type": error_type}
    if message is not None:
        # Kinesis spells it "Message" for SerializationException, "message" otherwise (spec 2.4)
        payload["Message" if error_type == "SerializationException" else "message"] = message
    headers = {**headers, "Content-Type": CBOR_CONTENT_TYPE if cbor else JSON_CONTENT_TYPE}
    return web.Response(status=status, body=_encode(payload, cbor), headers=headers)


def _kinesis_error(err: KinesisError, headers: dict, cbor: bool) -> web.Response:
    return _error(err.http_status, err.error_type, err.message, headers, cbor)


def _legacy(error_type: str, status: int, headers: dict) -> web.Response:
    body = orjson.dumps({"Output": {"__type": f"com.amazon.coral.service#{error_type}"}, "Version": "1.0"})
    return web.Response(status=status, body=body, headers={**headers, "Content-Type": LEGACY_JSON})


# -- the pipeline ---------------------------------------------------------------------


async def _handle(request: web.Request) -> web.StreamResponse:
    headers = _base_headers(request)
    try:
        return await _pipeline(request, headers)
    except Exception:  # the last line of defence: never let a request crash the server
        log.exception("internal failure handling %s %s", request.method, request.path)
        cbor = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower() == CBOR_CONTENT_TYPE
        return _error(500, "InternalFailure", None, headers, cbor)


async def _pipeline(request: web.Request, headers: dict) -> web.StreamResponse:
    if request.method == "OPTIONS" and "Origin" in request.headers:
        if "Access-Control-Request-Headers" in request.headers:
            headers["Access-Control-Allow-Headers"] = request.headers["Access-Control-Request-Headers"]
        if "Access-Control-Request-Method" in request.headers:
            headers["Access-Control-Allow-Methods"] = request.headers["Access-Control-Request-Method"]
        headers["Access-Control-Max-Age"] = "172800"
        headers.pop("x-amz-id-2", None)
        return web.Response(status=200, body=b"", headers=headers)
    if request.method != "POST":
        return _xml_error(
            403, "AccessDeniedException", "Unable to determine service/operation name to be authorized", headers
        )

    content_type = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    target = request.headers.get("X-Amz-Target", "")
    operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None
    known = operation in actions.OPERATIONS

    if content_type not in _VALID_TYPES:
        if not target or "." not in target:
            return _xml_error(
                403, "AccessDeniedException", "Unable to determine service/operation name to be authorized", headers
            )
        return _xml_error(404, "UnknownOperationException", None, headers)
    cbor = content_type == CBOR_CONTENT_TYPE

    max_body = request.app[_MAX_BODY_KEY]
    if request.content_length is not None and request.content_length > max_body:
        return web.Response(status=413, headers=headers)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413, headers=headers)
    if len(body) > max_body:
        return web.Response(status=413, headers=headers)

    if not body:
        if known:
            return _error(400, "SerializationException", None, headers, cbor)
        return _error(400, "UnknownOperationException", None, headers, cbor)

    try:
        params = codec.cbor_to_json_form(codec.decode_cbor(body)) if cbor else orjson.loads(body)
    except KinesisError as err:
        return _kinesis_error(err, headers, cbor)
    except Exception:
        params = None
    if not isinstance(params, dict):
        if content_type == LEGACY_JSON:
            return _legacy("SerializationException", 400, headers)
        return _error(400, "SerializationException", None, headers, cbor)
    if content_type == LEGACY_JSON:
        return _legacy("UnknownOperationException", 404, headers)
    if not known:
        return _error(400, "UnknownOperationException", None, headers, cbor)

    try:  # step 9: authentication (after target/body parsing, as kinesalite does)
        request.app[_AUTH_KEY].check(request.method, request.raw_path, request.headers, body, operation, params)
    except KinesisError as err:
        return _kinesis_error(err, headers, cbor)

    region = _auth.request_region(request.headers, request.query_string)
    engine = request.app[_ENGINE_KEY].get(region)
    try:
        if shapes is not None:
            keyed = actions.partition_key_required(engine, operation, params)
            shapes.validate(operation, params, partition_key_required=keyed)
        decoded = codec.decode_params(operation, params)
        result = actions.dispatch(engine, operation, decoded, json_wire=not cbor)
    except KinesisError as err:
        return _kinesis_error(err, headers, cbor)
    # any other exception propagates to _handle: logged, 500 InternalFailure
    if operation == "SubscribeToShard":  # an event stream rather than a body (spec 8.2-8.3)
        return await eventstream.serve_subscription(request, result, headers, cbor=cbor)

    headers["Content-Type"] = CBOR_CONTENT_TYPE if cbor else JSON_CONTENT_TYPE
    if not result:  # empty outputs: 200 with an empty body (spec 1.1 notes)
        return web.Response(status=200, body=b"", headers=headers)
    return web.Response(status=200, body=_encode(result, cbor), headers=headers)
