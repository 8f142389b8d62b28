"""``mock_kinesis()``: every boto3 Kinesis client answered by an embedded engine, in process, with no socket.

Published as :func:`shardstream.testing.mock_kinesis`; needs the ``testing``
extra (the server's pipeline and boto3).

How requests are caught: botocore emits ``before-send`` with the signed
request just before it would open a connection, and a handler that returns an
``AWSResponse`` answers in its place.  One handler, :func:`answer`, is
registered under ``before-send.kinesis`` on every botocore session and
client in the process: on first use, on the sessions and Kinesis clients that
exist already (boto3's default session among them; found by the garbage
collector's object list), and through botocore's list of built-in handlers
on every session made afterwards, whose clients copy it.  Clients of other
services never see it.  It is inert outside a mock: it returns None and
botocore sends the request as usual.

Inside a mock, :func:`answer` hands the request (method, URL, headers, body)
to a :class:`~shardstream.server.local.LocalDispatcher`: the server's own
pipeline (validation from the service model, JSON and CBOR, error shapes,
region routing), with authentication off.  SubscribeToShard works: its event
stream is read as the test iterates it.

Nesting and threads: the mocks entered and not yet left form one stack for
the whole process (a client may run in any thread, e.g. a Producer's); the
most recently entered one answers.  Leaving a mock removes it from the stack,
in any order.
"""

from __future__ import annotations

import functools
import gc
import inspect
import os
import threading
from urllib.parse import urlsplit

from .engine import Engine

__all__ = ["MockKinesis", "answer", "install", "mock_kinesis"]

_EVENT = "before-send.kinesis"
_HANDLER_ID = "shardstream-mock-kinesis"
#: Set while a mock is active and absent from the environment, so clients made inside can sign requests.
_FAKE_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

_lock = threading.Lock()
_active: list[MockKinesis] = []
_installed = False


class _Body:
    """The raw body of an answer, as botocore reads it (``stream()``, ``read()``, ``close()``)."""

    def __init__(self, body: bytes, chunks=None):
        self._body = body
        self._chunks = chunks

    def stream(self, **_):
        """The body in chunks (event-stream messages as they are made)."""
        if self._chunks is not None:
            yield from self._chunks
        elif self._body:
            yield self._body

    def read(self, *_args, **_kwargs) -> bytes:
        """The whole body."""
        return b"".join(self.stream())

    def close(self) -> None:
        """Close an event stream (ends its subscription)."""
        if self._chunks is not None:
            self._chunks.close()


def answer(request, **_):
    """The ``before-send.kinesis`` handler: the active mock's answer, or None outside any mock.

    Parameters
    ----------
    request : botocore.awsrequest.AWSPreparedRequest
        The signed request botocore is about to send.
    **_
        The event's other arguments.

    Returns
    -------
    botocore.awsrequest.AWSResponse or None
        None lets botocore send the request itself.
    """
    with _lock:
        mock = _active[-1] if _active else None
    if mock is None:
        return None
    return mock.respond(request)


def install() -> None:
    """Register :func:`answer` on every botocore session and Kinesis client, now and to come (once).

    Sessions and clients made before are found by the garbage collector's
    object list (a one-off scan); sessions made later register it from
    botocore's list of built-in handlers, and their clients copy it.
    """
    global _installed
    with _lock:
        if _installed:
            return
        from botocore import handlers
        from botocore.client import BaseClient
        from botocore.session import Session

        handlers.BUILTIN_HANDLERS.append((_EVENT, answer))
        for obj in gc.get_objects():
            if isinstance(obj, Session):
                obj.register(_EVENT, answer, unique_id=_HANDLER_ID)
            elif isinstance(obj, BaseClient) and obj.meta.service_model.service_name == "kinesis":
                obj.meta.events.register(_EVENT, answer, unique_id=_HANDLER_ID)
        _installed = True


class MockKinesis:
    """Answers every boto3 Kinesis request from an embedded engine while active.

    A context manager (entering gives the :class:`~shardstream.Engine`) and a
    decorator of sync and async functions (each call runs in a mock of its
    own, with a new engine unless one was given).  Made by :func:`mock_kinesis`.

    Parameters
    ----------
    engine : shardstream.Engine, optional
        The engine to serve; None makes a new in-memory one per activation
        (closed when it ends).
    region : str
        The new engine's region (ignored when ``engine`` is given).  Requests
        signed for another region go to that region's engine, as the server
        routes them.
    **dispatcher_kwargs
        Passed to :class:`~shardstream.server.local.LocalDispatcher` (``auth``,
        ``max_body_bytes``, ...).
    """

    def __init__(self, engine=None, *, region: str = "us-east-1", **dispatcher_kwargs):
        self._engine_arg = engine
        self.region = region
        self._dispatcher_kwargs = dispatcher_kwargs
        self._dispatcher = None  # a server.local.LocalDispatcher while active
        self._restore_environment: dict[str, str | None] = {}

    @property
    def engine(self):
        """The engine answering while active (None otherwise)."""
        return None if self._dispatcher is None else self._dispatcher.engine

    def start(self):
        """Activate: botocore Kinesis requests are answered here from now on.

        Returns
        -------
        shardstream.Engine

        Raises
        ------
        RuntimeError
            Already active (a mock object activates once at a time; make another for nesting).
        """
        from .server.local import LocalDispatcher  # the server's dependencies, only once a mock starts

        install()
        engine = self._engine_arg if self._engine_arg is not None else Engine(region=self.region)
        dispatcher = LocalDispatcher(engine, **self._dispatcher_kwargs)
        with _lock:
            if self._dispatcher is not None:
                dispatcher.close()
                raise RuntimeError("this mock_kinesis is already active; nest another mock_kinesis() instead")
            self._dispatcher = dispatcher
            self._restore_environment = {k: None for k in _FAKE_ENVIRONMENT if k not in os.environ}
            if "AWS_DEFAULT_REGION" not in os.environ and "AWS_REGION" not in os.environ:
                self._restore_environment["AWS_DEFAULT_REGION"] = None
            for key in self._restore_environment:
                os.environ[key] = _FAKE_ENVIRONMENT.get(key, engine.region)
            _active.append(self)
        return engine

    def stop(self) -> None:
        """Deactivate (idempotent): requests go to the next active mock, or out as usual."""
        with _lock:
            dispatcher, self._dispatcher = self._dispatcher, None
            if dispatcher is None:
                return
            _active.remove(self)
            for key in self._restore_environment:
                os.environ.pop(key, None)
            self._restore_environment = {}
        dispatcher.close()
        if self._engine_arg is None:
            dispatcher.engine.close()

    def respond(self, request):
        """Answer one botocore request through the server's pipeline.

        Parameters
        ----------
        request : botocore.awsrequest.AWSPreparedRequest

        Returns
        -------
        botocore.awsrequest.AWSResponse
        """
        from botocore.awsrequest import AWSResponse

        dispatcher = self._dispatcher
        if dispatcher is None:  # stopped meanwhile
            return None
        url = urlsplit(request.url)
        headers = {k: v.decode("latin-1") if isinstance(v, bytes) else v for k, v in request.headers.items()}
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        reply = dispatcher.handle(request.method, url.path or "/", headers, body, url.query)
        return AWSResponse(request.url, reply.status, reply.headers, _Body(reply.body, reply.stream))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __call__(self, func):
        """Decorate ``func`` (sync or async): each call runs inside a mock of its own.

        Parameters
        ----------
        func : callable

        Returns
        -------
        callable
        """

        def fresh() -> MockKinesis:
            return MockKinesis(self._engine_arg, region=self.region, **self._dispatcher_kwargs)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args, **kwargs):
                with fresh():
                    return await func(*args, **kwargs)

            return run_async

        @functools.wraps(func)
        def run(*args, **kwargs):
            with fresh():
                return func(*args, **kwargs)

        return run

    def __repr__(self) -> str:
        return f"<MockKinesis {'active' if self._dispatcher is not None else 'inactive'} region={self.region}>"


def mock_kinesis(engine=None, *, region: str = "us-east-1", **dispatcher_kwargs) -> MockKinesis:
    """Answer every boto3/botocore Kinesis client from an embedded engine, in process (no socket).

    Parameters
    ----------
    engine : shardstream.Engine, optional
        The engine to serve; None: a new in-memory engine each time the mock
        is entered (closed on leaving).
    region : str
        The new engine's region.
    **dispatcher_kwargs
        Passed to :class:`~shardstream.server.local.LocalDispatcher` (e.g.
        ``auth`` to check signatures, ``max_body_bytes``).

    Returns
    -------
    MockKinesis
        A context manager giving the engine, and a decorator.

    Examples
    --------
    >>> import boto3
    >>> from shardstream.testing import mock_kinesis
    >>> with mock_kinesis() as engine:
    ...     kinesis = boto3.client("kinesis", region_name="us-east-1")
    ...     _ = kinesis.create_stream(StreamName="orders", ShardCount=2)
    ...     engine.list_streams()["StreamNames"]
    ['orders']
    """
    return MockKinesis(engine, region=region, **dispatcher_kwargs)
