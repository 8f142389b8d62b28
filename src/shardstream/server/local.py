"""The server's request pipeline without a socket: one request in, one answer out, synchronously.

:class:`LocalDispatcher` runs a request (method, path, headers, body) through
:func:`.app.handle_request` on an application made by :func:`.app.make_app`,
so validation, protocols (JSON 1.1 and CBOR 1.1), error shapes and region
routing are those of ``shardstream serve``; only the transport is missing.
:func:`shardstream.testing.mock_kinesis` hands it every boto3 Kinesis request.

>>> from shardstream import Engine
>>> dispatcher = LocalDispatcher(Engine())
>>> reply = dispatcher.handle(
...     "POST", "/",
...     {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.ListStreams"},
...     b"{}",
... )
>>> reply.status, reply.body
(200, b'{"StreamNames":[],"HasMoreStreams":false,"StreamSummaries":[]}')

A request to an in-memory engine runs in the calling thread, with no event
loop: the pipeline never waits on anything for one (engine calls are made
inline), so its coroutine finishes on its first step.  Requests that may wait
(a durable engine's calls go to a thread pool and wait for group commits; a
body of :data:`.app.OFF_LOOP_BODY_BYTES` or more is parsed on a worker thread)
run on the dispatcher's own event loop, in a background thread started on
first use.  A SubscribeToShard answer is a :class:`LocalReply` whose
``stream`` yields the event-stream messages as they are read.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

from multidict import CIMultiDict, CIMultiDictProxy

from . import app as _app
from . import eventstream

__all__ = ["LocalDispatcher", "LocalReply", "LocalRequest"]


class LocalRequest:
    """A request held in memory, with the members of an aiohttp request that the pipeline reads.

    Parameters
    ----------
    app : aiohttp.web.Application
        Made by :func:`.app.make_app`.
    method : str
    path : str
        The request path (``/`` for Kinesis).
    headers : mapping of str to str
    body : bytes
    query_string : str
    """

    def __init__(self, app, method: str, path: str, headers, body: bytes, query_string: str = ""):
        self.app = app
        self.method = method.upper()
        self.path = path
        self.raw_path = f"{path}?{query_string}" if query_string else path
        self.query_string = query_string
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        self.content_length = len(body)
        self._body = body

    async def read(self) -> bytes:
        """The whole body (never waits: it is in memory)."""
        return self._body


class LocalReply:
    """The answer to a :class:`LocalRequest`.

    Parameters
    ----------
    status : int
    headers : dict of str to str
    body : bytes
        Empty for an event stream.
    stream : iterator of bytes, optional
        SubscribeToShard's event-stream messages, made as they are read (see
        :class:`.eventstream.LocalEventStream`); None for any other answer.
    """

    def __init__(self, status: int, headers: dict, body: bytes = b"", stream: Iterator[bytes] | None = None):
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream

    def __repr__(self) -> str:
        kind = "event stream" if self.stream is not None else f"{len(self.body)} bytes"
        return f"<LocalReply {self.status} {kind}>"


class LocalDispatcher:
    """Runs Kinesis requests through the server's pipeline over ``engine``, in process.

    Parameters
    ----------
    engine : shardstream.Engine
        The engine requests signed for its region (or unsigned) go to; other
        regions get their own engines as the server makes them.
    auth : optional
        As for :func:`.app.make_app`; ``"off"`` (the default here) accepts any
        request, signed or not.
    **app_kwargs
        Passed to :func:`.app.make_app` (``max_body_bytes``, ``regions``, ...).
    """

    def __init__(self, engine, *, auth="off", **app_kwargs):
        self.engine = engine
        self.app = _app.make_app(engine, auth=auth, **app_kwargs)
        self._may_wait = getattr(engine, "data_dir", None) is not None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def handle(self, method: str, path: str, headers, body: bytes | str | None, query_string: str = "") -> LocalReply:
        """Answer one request, as the server would.

        Parameters
        ----------
        method : str
        path : str
        headers : mapping of str to str
        body : bytes, str or None
        query_string : str

        Returns
        -------
        LocalReply

        Raises
        ------
        RuntimeError
            The dispatcher is closed.
        """
        if self._closed:
            raise RuntimeError("the LocalDispatcher is closed")
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8")
        request = LocalRequest(self.app, method, path, headers, bytes(body), query_string)
        if self._may_wait or len(body) >= _app.OFF_LOOP_BODY_BYTES:
            response = asyncio.run_coroutine_threadsafe(_app.handle_request(request), self._event_loop()).result()
        else:
            response = _run_to_completion(_app.handle_request(request))
        if isinstance(response, eventstream.LocalEventStream):
            return LocalReply(response.status, dict(response.headers), b"", response.messages())
        return LocalReply(response.status, dict(response.headers), bytes(response.body or b""))

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """The dispatcher's event loop, running in its own thread (started on first use)."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="shardstream-local", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Run the application's cleanup (engines made for other regions are closed) and stop the loop's thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        loop = self._event_loop()
        try:
            for hook in self.app.on_cleanup:
                asyncio.run_coroutine_threadsafe(hook(self.app), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            loop.close()

    def __enter__(self) -> LocalDispatcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<LocalDispatcher {self.engine!r}{' closed' if self._closed else ''}>"


def _run_to_completion(coroutine):
    """Run a coroutine that never waits to its end, with no event loop; RuntimeError if it tries to wait."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("the request waited on an event loop; it needs LocalDispatcher's loop")
