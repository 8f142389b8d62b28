"""The aiohttp application: Kinesis's request pipeline (spec 2.5) in front of an Engine.

One handler takes every request.  In order: request id headers (and CORS);
non-POST -> 403 XML AccessDenied; body size (413); empty body (decided on the
target alone); content type (403/404 XML); parse (JSON 1.1 or CBOR 1.1);
``X-Amz-Target`` -> UnknownOperationException;
SigV4 authentication (:mod:`.auth`; when signatures are verified, before the
body is parsed) and authorization of the stream the request acts on
(:mod:`.resources`);
shape validation (:mod:`.shapes`); blob/timestamp decoding (:mod:`.codec`);
then the action (:mod:`.actions`).  A KinesisError becomes its JSON (or CBOR)
error body; anything else is logged and answered 500 InternalFailure, so a
malformed request never takes the server down.

Engine calls of a durable engine (``data_dir``) run on a bounded thread pool
(:class:`_Offload`) rather than on the event loop, so concurrent requests
under ``durability="sync"`` wait for their fsyncs together (group commit);
an in-memory engine is called inline, which is faster than any hand-off.
PutRecord on a durable engine is the exception (:meth:`_Offload.put_record`):
its record is appended on the loop (microseconds, never blocking) and the
answer waits without a thread for the group commit that fsyncs it, so one
flush answers all the requests that arrived meanwhile with one wake-up.

Bodies of :data:`OFF_LOOP_BODY_BYTES` or more are parsed, validated and
decoded on a worker thread, so one 7 MB body does not hold up the loop.  A
request goes to the engine of the region it is signed for (:class:`_Regions`:
made on first use, at most ``max_regions`` of them).

``GET /_shardstream/health`` answers a JSON status for container health
checks and ``GET /_shardstream/metrics`` the metrics in Prometheus's text
format (:mod:`shardstream.metrics.prometheus`); the ``/_shardstream/`` prefix
is shardstream's own.  A POST in one of CloudWatch's protocols is answered
by :mod:`.cloudwatch`; every other non-Kinesis request gets Kinesis's answers.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import logging
import os
import random
import threading
import uuid

import orjson
from aiohttp import web

from ..durable import WouldBlock, nonblocking_puts
from ..errors import InternalFailureException, KinesisError, ResourceInUseException
from ..metrics.prometheus import exposition
from ..storage.datadir import DataDirectoryLocked
from . import actions, cloudwatch, codec, dashboard, eventstream, model, resources, shapes
from . import auth as _auth

__all__ = [
    "CBOR_CONTENT_TYPE",
    "DEFAULT_MAX_REGIONS",
    "HEALTH_PATH",
    "JSON_CONTENT_TYPE",
    "OFF_LOOP_BODY_BYTES",
    "TARGET_PREFIX",
    "handle_request",
    "make_app",
    "model_version",
]

log = logging.getLogger("shardstream.server")

TARGET_PREFIX = "Kinesis_20131202."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
CBOR_CONTENT_TYPE = "application/x-amz-cbor-1.1"
LEGACY_JSON = "application/json"
_VALID_TYPES = (JSON_CONTENT_TYPE, CBOR_CONTENT_TYPE, LEGACY_JSON)
_ENGINE_KEY = web.AppKey("engine", object)
_MAX_BODY_KEY = web.AppKey("max_body_bytes", int)
_AUTH_KEY = web.AppKey("auth", object)
_OFFLOAD_KEY = web.AppKey("offload", object)
_STANDBY_KEY = web.AppKey("standby", object)
HEALTH_PATH = "/_shardstream/health"
METRICS_PATH = "/_shardstream/metrics"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Most long polls (ReceiveQueueRecords with WaitTimeSeconds) waiting at once; more queue for a thread.
LONG_POLL_WORKERS = 64
_ACCESS_DENIED = "Unable to determine service/operation name to be authorized"
_CORS_EXPOSE = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,x-amz-id-2,x-amzn-ErrorMessage,Date"


#: Most regions a server answers for when ``make_app`` is given no list (``shardstream serve --max-regions``).
DEFAULT_MAX_REGIONS = 8


class _Regions:
    """One engine per region, as Kinesis scopes streams, up to a cap.

    The given engine serves its own region (and unsigned or unscoped
    requests); another region's engine is made, with its settings
    (:meth:`Engine.for_region`), on the first request signed for that region.
    Each costs memory and, when durable, a directory and its lock file (its
    background thread starts only with its first stream), so only ``regions``
    (when given) are served, and at most ``max_regions`` engines are made.  A
    request for any other region is answered as AWS answers a credential scoped
    to a region it does not serve: InvalidSignatureException (400, not retried
    by the SDKs) ``Credential should be scoped to a valid region, not 'xx-1'.``,
    followed by which regions this server serves and the flag that changes it.
    A region whose data directory another process holds is answered
    ResourceInUseException naming the directory, and tried again on the next
    request.

    Parameters
    ----------
    engine : shardstream.Engine
        The default engine; its region is always served.
    regions : iterable of str, optional
        The regions served besides the default engine's; None: any region,
        up to ``max_regions``.
    max_regions : int, optional
        Most regions served, the default engine's included.  None:
        :data:`DEFAULT_MAX_REGIONS` without a ``regions`` list, every listed
        region with one.
    """

    def __init__(self, engine, regions=None, max_regions: int | None = None):
        self.default = engine
        home = getattr(engine, "region", "us-east-1")
        self._allowed = None if regions is None else frozenset(regions) | {home}
        if max_regions is None:
            max_regions = DEFAULT_MAX_REGIONS if self._allowed is None else len(self._allowed)
        if isinstance(max_regions, bool) or not isinstance(max_regions, int) or max_regions < 1:
            raise ValueError(f"max_regions must be an int >= 1, not {max_regions!r}")
        self.max_regions = max_regions
        self._engines = {home: engine}
        self._lock = threading.Lock()

    def get(self, region: str | None):
        """The engine serving ``region`` (the default one for None), made on first use.

        Raises
        ------
        InvalidSignatureException
            ``region`` is not one this server serves, or the cap is reached.
        ResourceInUseException
            ``region``'s data directory is locked by another process.
        """
        if region is None:
            return self.default
        engine = self._engines.get(region)
        if engine is None:
            with self._lock:
                engine = self._engines.get(region)
                if engine is None:
                    self._check_served(region)
                    engine = self._engines[region] = self._open(region)
        return engine

    def _check_served(self, region: str) -> None:
        """Raise InvalidSignatureException unless a new engine for ``region`` may be made (lock held)."""
        prefix = f"Credential should be scoped to a valid region, not '{region}'. "
        if self._allowed is not None and region not in self._allowed:
            served = ", ".join(sorted(self._allowed))
            raise _auth.InvalidSignatureException(
                f"{prefix}This server serves only {served} (shardstream serve --regions)."
            )
        if len(self._engines) >= self.max_regions:
            served = ", ".join(self._engines)
            raise _auth.InvalidSignatureException(
                f"{prefix}This server serves at most {self.max_regions} regions and serves {served} already "
                "(shardstream serve --max-regions)."
            )

    def _open(self, region: str):
        """A new engine for ``region``; ResourceInUseException if its data directory is locked elsewhere."""
        try:
            return self.default.for_region(region)
        except (DataDirectoryLocked, ValueError) as exc:  # held by another process; another region's directory
            raise ResourceInUseException(f"Region {region} cannot be served: {exc}") from None
        except OSError as exc:
            raise InternalFailureException(f"Region {region} cannot be served: {exc}") from None

    async def close(self, _app=None) -> None:
        """Close the engines made for other regions (an aiohttp ``on_cleanup`` hook); the default is its owner's."""
        with self._lock:
            made = [e for e in self._engines.values() if e is not self.default]
            self._engines = {r: e for r, e in self._engines.items() if e is self.default}
        for engine in made:
            engine.close()

    def regions(self) -> list[str]:
        """The regions served so far (the default engine's first)."""
        with self._lock:
            return list(self._engines)

    def engines(self) -> list:
        """The engines made so far, one per region."""
        with self._lock:
            return list(self._engines.values())

    def items(self) -> list:
        """``(region, engine)`` of the engines made so far."""
        with self._lock:
            return list(self._engines.items())


class _Offload:
    """Runs engine calls of durable engines on a bounded thread pool; in-memory engines inline.

    A durable engine may block (``fsync`` under ``durability="sync"``, segment
    reads): on the event loop every request would pay its own fsync in turn,
    while from worker threads concurrent puts share one (the store's group
    commit).  An in-memory engine never blocks, and a hand-off to a thread
    would only add latency, so it is called directly.

    Parameters
    ----------
    workers : int
        Most engine calls running at once; further calls queue.
    """

    def __init__(self, workers: int = 32):
        self.workers = int(workers)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._waits: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # finished calls waiting for the loop, and whether it has been woken for them already
        self._finished: collections.deque = collections.deque()
        self._wake_pending = False

    @staticmethod
    def blocking(engine) -> bool:
        """Whether calls into ``engine`` may block (it keeps its streams on disk)."""
        return getattr(engine, "data_dir", None) is not None

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="shardstream-api")
            return self._pool

    async def call(self, engine, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``, off the event loop when ``engine`` may block."""
        if not self.blocking(engine):
            return fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._executor().submit(self._run, loop, future, fn, args, kwargs)
        return await future

    async def wait(self, fn, *args):
        """``fn(*args)`` on a thread of its own pool whatever the engine: a call that may wait (a long poll).

        Parameters
        ----------
        fn : callable
        *args
            Its arguments.
        """
        with self._lock:
            if self._waits is None:
                self._waits = concurrent.futures.ThreadPoolExecutor(
                    LONG_POLL_WORKERS, thread_name_prefix="shardstream-poll"
                )
            pool = self._waits
        return await asyncio.wrap_future(pool.submit(fn, *args))

    async def put_record(self, engine, params: dict, json_wire: bool):
        """PutRecord: the record appended on the loop, the answer once it is durable.

        Appending to a ring takes microseconds and never blocks (see
        :func:`~shardstream.durable.nonblocking_puts`); a ``sync`` stream's
        answer then waits, without a thread, for the group commit whose fsync
        covers the record (:meth:`~shardstream.durable.DurableStream.commit_async`):
        one flush answers every request that arrived meanwhile with one loop
        wake-up.  A put that would block (a full ring, an on-demand stream)
        runs on the pool as any other call.
        """
        if not self.blocking(engine):
            return actions.dispatch(engine, "PutRecord", params, json_wire=json_wire)
        try:
            with nonblocking_puts() as pending:
                result = actions.dispatch(engine, "PutRecord", params, json_wire=json_wire)
        except WouldBlock:
            return await self.call(engine, actions.dispatch, engine, "PutRecord", params, json_wire=json_wire)
        if pending:
            loop = asyncio.get_running_loop()
            for stream in pending:
                future = loop.create_future()
                stream.commit_async(
                    lambda exc, f=future: self._hand_back(loop, f, (True, None) if exc is None else (False, exc))
                )
                await future
        return result

    def _run(self, loop, future, fn, args, kwargs) -> None:
        """In a pool thread: the call, then its outcome handed to the loop."""
        try:
            outcome = (True, fn(*args, **kwargs))
        except BaseException as exc:  # delivered to the awaiting request
            outcome = (False, exc)
        self._hand_back(loop, future, outcome)

    def _hand_back(self, loop, future, outcome) -> None:
        """From any thread: ``outcome`` (ok, value) for ``future``, on the loop.

        The puts of one group commit finish together; one wake-up of the loop
        (a system call) hands all of them over, rather than one each.
        """
        with self._lock:
            self._finished.append((future, outcome))
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop is closed: nobody awaits any more
            pass

    def _deliver(self) -> None:
        """On the loop: resolve every finished call."""
        with self._lock:
            finished = list(self._finished)
            self._finished.clear()
            self._wake_pending = False
        for future, (ok, value) in finished:
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    async def close(self, _app=None) -> None:
        """Wait for running calls and stop the threads (an aiohttp ``on_cleanup`` hook)."""
        with self._lock:
            pool, self._pool = self._pool, None
            waits, self._waits = self._waits, None
        if waits is not None:  # long polls end by themselves within their wait time
            waits.shutdown(wait=False, cancel_futures=True)
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)


def make_app(
    engine,
    *,
    max_body_bytes: int = 7 * 1024 * 1024,
    auth=None,
    engine_workers: int = 32,
    regions=None,
    max_regions: int | None = None,
    standby=None,
) -> web.Application:
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
    engine_workers : int
        Threads for engine calls of a durable engine (see :class:`_Offload`).
    regions : iterable of str, optional
        The regions served besides ``engine``'s own (each gets its engine on
        the first request signed for it); None: any region, up to ``max_regions``.
    max_regions : int, optional
        Most regions served, ``engine``'s included: :data:`DEFAULT_MAX_REGIONS`
        (8) without ``regions``, all of them with it.  Requests signed for any
        other region get 400 InvalidSignatureException saying which regions are
        served (see :class:`_Regions`).
    standby : shardstream.replication.standby.Standby, optional
        Serve as a standby replica: ordinary writes refused until ``POST
        /_shardstream/promote`` (:mod:`shardstream.replication.standby`).
    """
    # aiohttp refuses bodies over client_max_size itself; we check first and answer 413.
    app = web.Application(client_max_size=max_body_bytes + 1)
    app[_ENGINE_KEY] = regions_served = _Regions(engine, regions, max_regions)
    app[_MAX_BODY_KEY] = int(max_body_bytes)
    app[_AUTH_KEY] = _auth.make_authenticator(
        auth, region=getattr(engine, "region", "us-east-1"), account_id=getattr(engine, "account_id", "000000000000")
    )
    app[_OFFLOAD_KEY] = offload = _Offload(engine_workers)
    app.on_cleanup.append(offload.close)
    app.on_cleanup.append(regions_served.close)  # once no engine call runs any more
    app.router.add_get(HEALTH_PATH, _health)
    app.router.add_get(METRICS_PATH, _prometheus)
    app[_STANDBY_KEY] = standby
    app.router.add_post("/_shardstream/promote", _promote)
    dashboard.install(app, _ENGINE_KEY)  # GET /_shardstream/dashboard, its data and its static files
    app.router.add_route("*", "/{tail:.*}", handle_request)
    eventstream.install(app)
    return app


# -- health ------------------------------------------------------------------------------


def model_version() -> str:
    """The botocore release whose Kinesis service model the server follows (:mod:`.model`)."""
    return model.version()


async def _health(request: web.Request) -> web.Response:
    """``GET /_shardstream/health``: status, versions, regions and stream count, as JSON."""
    from .. import __version__

    regions = request.app[_ENGINE_KEY]
    streams = sum(len(engine.catalog.live()) for engine in regions.engines())
    body = {
        "status": "ok",
        "version": __version__,
        "model_version": model_version(),
        "regions": regions.regions(),
        "streams": streams,
    }
    return web.Response(status=200, body=orjson.dumps(body), headers={"Content-Type": "application/json"})


async def _promote(request: web.Request) -> web.Response:
    """``POST /_shardstream/promote``: a standby becomes a primary (409 on a server that is no standby)."""
    standby = request.app[_STANDBY_KEY]
    if standby is None:
        body, status = {"error": "this server is not a standby (shardstream serve --standby)"}, 409
    else:
        changed = await asyncio.get_running_loop().run_in_executor(None, standby.promote)
        body, status = {**standby.status(), "changed": changed}, 200
    return web.Response(status=status, body=orjson.dumps(body), headers={"Content-Type": "application/json"})


async def _prometheus(request: web.Request) -> web.Response:
    """``GET /_shardstream/metrics``: every region's metrics in Prometheus's text format."""
    body = exposition(request.app[_ENGINE_KEY].items)
    return web.Response(status=200, body=body, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


# -- responses ---------------------------------------------------------------------


# Request ids need to be unique, not unpredictable: a seeded PRNG, not os.urandom (a getrandom
# system call per id cost ~40 us each in a sandbox, twice per request).
_ids = random.Random(os.urandom(32))


def _base_headers(request: web.Request) -> dict:
    headers = {
        "x-amzn-RequestId": str(uuid.UUID(int=_ids.getrandbits(128), version=4)),
        "x-amz-id-2": base64.b64encode(_ids.randbytes(72)).decode("ascii"),
    }
    if "Origin" in request.headers:
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Access-Control-Expose-Headers"] = _CORS_EXPOSE
    return headers


class _UntypedResponse(web.Response):
    """A response sent without any Content-Type header (aiohttp adds one to every non-empty body)."""

    async def _write_headers(self) -> None:
        self._headers.pop("Content-Type", None)
        await super()._write_headers()


def _xml_error(status: int, error_type: str, message: str | None, headers: dict) -> web.Response:
    """Kinesis's XML answers (403 AccessDenied, 404 UnknownOperation): no Content-Type at all."""
    if message:
        body = f"<{error_type}>\n  <Message>{message}</Message>\n</{error_type}>\n"
    else:
        body = f"<{error_type}/>\n"
    return _UntypedResponse(status=status, body=body.encode(), headers=headers)


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

#: Bodies at least this large are parsed, validated and decoded on a worker thread, not on the event
#: loop: a 7 MB body of tiny items takes up to ~1 s of CPU, and the loop keeps answering meanwhile
#: (the C decoder lets the GIL go every few thousand items).  Smaller bodies take less than a thread
#: hand-off costs.
OFF_LOOP_BODY_BYTES = 256 * 1024


async def _off_loop_if_big(body: bytes, fn, *args):
    """``fn(*args)``: inline for a small ``body``, on the default executor for a big one."""
    if len(body) < OFF_LOOP_BODY_BYTES:
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _parse_body(body: bytes, cbor: bool, operation: str | None):
    """The request body as Python values (JSON 1.1 or CBOR 1.1)."""
    return codec.parse_cbor_request(body, operation) if cbor else orjson.loads(body)


def _checked_params(operation: str, params: dict, keyed: bool) -> dict:
    """Shape validation (:mod:`.shapes`), then blobs and timestamps decoded (:mod:`.codec`)."""
    return codec.decode_params(operation, shapes.validate(operation, params, partition_key_required=keyed))


async def handle_request(request: web.Request) -> web.StreamResponse:
    """Answer one Kinesis request: the whole pipeline, as the server runs it for every request.

    Parameters
    ----------
    request : aiohttp.web.Request
        The request, or any object with its ``method``, ``path``, ``raw_path``,
        ``query_string``, ``headers``, ``content_length``, ``app`` (made by
        :func:`make_app`) and ``async read()`` (:mod:`.local` passes one that
        carries a body in memory).

    Returns
    -------
    aiohttp.web.StreamResponse
        A :class:`aiohttp.web.Response` with the status, headers and body; for
        SubscribeToShard over a real connection, the already-written event stream.
    """
    headers = _base_headers(request)
    try:
        return await _pipeline(request, headers)
    except Exception:  # the last line of defence: never let a request crash the server
        log.exception("internal failure handling %s %s", request.method, request.path)
        return _error(500, "InternalFailure", None, headers, _cbor_errors(_content_type(request)))


def _content_type(request: web.Request) -> str:
    """The request's Content-Type without parameters, trimmed and lower-cased."""
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def _cbor_errors(content_type: str) -> bool:
    """Kinesis answers errors in JSON only to ``application/x-amz-json-1.1``; in CBOR to anything else."""
    return content_type != JSON_CONTENT_TYPE


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
        return _xml_error(403, "AccessDeniedException", _ACCESS_DENIED, headers)

    max_body = request.app[_MAX_BODY_KEY]
    if request.content_length is not None and request.content_length > max_body:
        return web.Response(status=413, headers=headers)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return web.Response(status=413, headers=headers)
    if len(body) > max_body:
        return web.Response(status=413, headers=headers)
    call = cloudwatch.recognise(request, body)
    if call is not None:  # CloudWatch's metric and alarm operations, in their own protocols
        return cloudwatch.answer(call, request, headers, request.app[_AUTH_KEY], request.app[_ENGINE_KEY].get)

    content_type = _content_type(request)
    target = request.headers.get("X-Amz-Target", "")
    operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else None
    known = operation in actions.OPERATIONS

    if not body:  # decided on the target alone, before the content type (spec 2.5 step 4)
        error_type = "SerializationException" if known else "UnknownOperationException"
        return _error(400, error_type, None, headers, _cbor_errors(content_type))

    if content_type not in _VALID_TYPES:
        service, _, rest = target.partition(".")
        if not service or not rest.split(".", 1)[0]:  # no service or no operation named
            return _xml_error(403, "AccessDeniedException", _ACCESS_DENIED, headers)
        return _xml_error(404, "UnknownOperationException", None, headers)
    cbor = content_type == CBOR_CONTENT_TYPE

    # step 9a, authentication: with verified signatures, before a byte of the body is decoded, so an
    # unauthenticated request costs a hash of its body; otherwise after parsing, as kinesalite (spec 12.4)
    authenticator = request.app[_AUTH_KEY]
    early = authenticator.verifies
    if early:
        try:
            identity = authenticator.authenticate(request.method, request.raw_path, request.headers, body)
        except KinesisError as err:
            return _kinesis_error(err, headers, cbor)

    try:
        params = await _off_loop_if_big(body, _parse_body, body, cbor, operation)
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

    try:
        if not early:  # step 9a otherwise: after target/body parsing, as kinesalite does
            identity = authenticator.authenticate(request.method, request.raw_path, request.headers, body)
        region = _auth.request_region(request.headers, request.query_string)
        engine = request.app[_ENGINE_KEY].get(region)
        if request.app[_STANDBY_KEY] is not None:  # a standby replica: writes from its replicator only
            request.app[_STANDBY_KEY].check(operation, request.headers)
        if identity is not None and identity.verified:
            # step 9b, authorization: of the stream the action will act on, resolved once from the request
            context = _auth.RequestContext(request.remote, request.secure)
            authenticator.authorize(identity, operation, resources.resolve(engine, operation, params), context)
    except KinesisError as err:
        return _kinesis_error(err, headers, cbor)

    try:
        keyed = actions.partition_key_required(engine, operation, params)
        decoded = await _off_loop_if_big(body, _checked_params, operation, params, keyed)
        if operation == "SubscribeToShard":  # registers a subscription: never blocks
            result = actions.dispatch(engine, operation, decoded, json_wire=not cbor)
        elif operation == "PutRecord":
            result = await request.app[_OFFLOAD_KEY].put_record(engine, decoded, not cbor)
        elif operation in actions.LONG_POLLS:  # may wait for records: never waits on the loop
            offload = request.app[_OFFLOAD_KEY]
            result = None if offload.blocking(engine) else actions.long_poll_now(engine, operation, decoded)
            if result is None:  # nothing visible now: a thread that may wait
                result = await offload.wait(actions.dispatch, engine, operation, decoded)
        else:
            result = await request.app[_OFFLOAD_KEY].call(
                engine, actions.dispatch, engine, operation, decoded, json_wire=not cbor
            )
    except KinesisError as err:
        return _kinesis_error(err, headers, cbor)
    # any other exception propagates to handle_request: logged, 500 InternalFailure
    if operation == "SubscribeToShard":  # an event stream rather than a body (spec 8.2-8.3)
        return await eventstream.serve_subscription(request, result, headers, cbor=cbor)

    headers["Content-Type"] = CBOR_CONTENT_TYPE if cbor else JSON_CONTENT_TYPE
    if isinstance(result, codec.EncodedJSON):  # written by the action itself (GetRecords from Arrow)
        return web.Response(status=200, body=result.body, headers=headers)
    if not result:  # empty outputs: 200 with an empty body (spec 1.1 notes)
        return web.Response(status=200, body=b"", headers=headers)
    return web.Response(status=200, body=_encode(result, cbor), headers=headers)
