"""Helpers for testing against shardstream's Kinesis-compatible HTTP server.

>>> from shardstream.testing import start_server, boto3_client
>>> with start_server() as server:                      # doctest: +SKIP
...     kinesis = boto3_client(server.url)
...     kinesis.create_stream(StreamName="s", ShardCount=1)

The server runs on 127.0.0.1 (a free port by default) in a background thread
with its own event loop; ``server.engine`` is the Engine behind it, so a test
can set state up or check it directly.  Needs the ``server`` extra.

``start_server(tls=(certfile, keyfile))`` serves https instead; pass the
certificate (or its CA) to ``boto3_client(server.url, verify=certfile)``.

Without a server: under :func:`mock_kinesis` (a context manager and a
decorator) every boto3 Kinesis client is answered in process by an embedded
engine, through the server's own request pipeline (no socket)::

    with mock_kinesis() as engine:
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="s", ShardCount=1)

Time: ``Engine(clock=ManualClock())`` (:mod:`shardstream.clock`) runs an
engine on a clock the test moves with ``clock.advance(seconds=30)``; each
move wakes the engine's long polls, so a visibility timeout can pass in no
real time.

The pytest plugin (:mod:`shardstream.pytest_plugin`) gives the fixtures
``kinesis_engine``, ``kinesis_client`` and ``kinesis_server``.
"""

from __future__ import annotations

import asyncio
import threading

from .botocore_mock import MockKinesis, mock_kinesis
from .clock import ManualClock

__all__ = ["ManualClock", "MockKinesis", "ServerHandle", "boto3_client", "mock_kinesis", "start_server"]


class ServerHandle:
    """A running server: ``url``, ``engine``, ``port``; ``stop()`` or use it as a context manager.

    Made by :func:`start_server`.

    Parameters
    ----------
    engine : shardstream.Engine
        The engine served.
    loop : asyncio.AbstractEventLoop
        The server thread's event loop.
    runner : aiohttp.web.AppRunner
        The set-up runner (cleaned up by :meth:`stop`).
    thread : threading.Thread
        The thread running ``loop``.
    port : int
        The bound port.
    scheme : {"http", "https"}
    """

    def __init__(
        self,
        engine,
        loop: asyncio.AbstractEventLoop,
        runner,
        thread: threading.Thread,
        port: int,
        scheme: str = "http",
    ):
        self.engine = engine
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self._loop = loop
        self._runner = runner
        self._thread = thread
        self._stopped = False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the server thread (idempotent).

        Parameters
        ----------
        timeout : float
            Seconds for the runner's cleanup, and again for the thread to end.
        """
        if self._stopped:
            return
        self._stopped = True
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            fut.result(timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ServerHandle {self.url}{' stopped' if self._stopped else ''}>"


def start_server(engine=None, port: int = 0, auth=None, tls=None, **app_kwargs) -> ServerHandle:
    """Serve ``engine`` (a new :class:`~shardstream.Engine` if None) on 127.0.0.1 in a background thread.

    Parameters
    ----------
    engine : shardstream.Engine, optional
    port : int
        0 (the default) picks a free port.
    auth : optional
        Request authentication, passed to ``make_app``: None (any well-formed
        SigV4 signature, as :func:`boto3_client` sends), ``"off"``, or a key
        table (:class:`shardstream.server.auth.AuthConfig`, its dict form or a
        JSON file path) to verify signatures against.
    tls : (str, str) or ssl.SSLContext, optional
        ``(certfile, keyfile)`` PEM paths (or a ready server-side
        :class:`ssl.SSLContext`): serve https, and ``url`` starts with ``https://``.
    **app_kwargs
        Passed to :func:`shardstream.server.app.make_app` (e.g. ``max_body_bytes``).

    Returns
    -------
    ServerHandle
    """
    from aiohttp import web

    from .engine import Engine
    from .server.app import make_app

    ssl_context = _server_ssl_context(tls) if tls is not None else None
    if engine is None:
        engine = Engine()
    app = make_app(engine, auth=auth, **app_kwargs)
    loop = asyncio.new_event_loop()
    # a short shutdown_timeout: after a 413, aiohttp lingers up to 10 s draining the unread body,
    # which would otherwise outlast stop()'s own timeout
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    ready = threading.Event()
    state: dict = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context)
            loop.run_until_complete(site.start())
            state["port"] = runner.addresses[0][1]
        except BaseException as exc:  # report start-up failures to the caller
            state["error"] = exc
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name="shardstream-server", daemon=True)
    thread.start()
    ready.wait()
    if "error" in state:
        thread.join()
        loop.close()
        raise state["error"]
    scheme = "https" if ssl_context is not None else "http"
    return ServerHandle(engine, loop, runner, thread, state["port"], scheme=scheme)


def _server_ssl_context(tls):
    """A server-side SSLContext from ``(certfile, keyfile)`` (or ``tls`` itself if already one)."""
    import ssl

    if isinstance(tls, ssl.SSLContext):
        return tls
    try:
        certfile, keyfile = tls
    except (TypeError, ValueError):
        raise TypeError(f"tls must be (certfile, keyfile) or an ssl.SSLContext, not {tls!r}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def boto3_client(url: str, region: str = "us-east-1", verify=None):
    """A boto3 Kinesis client for ``url`` with dummy credentials and retries off.

    Every request goes to ``url``: botocore's endpoint rules send requests that
    carry a ``StreamId`` (or a queue or channel ARN) to an AWS host even when
    ``endpoint_url`` is set, so the client puts them back on ``url``.

    Parameters
    ----------
    url : str
        The server's URL (``ServerHandle.url``).
    region : str
        The region the requests are signed for.
    verify : None, bool or str
        (https only) Passed to boto3: None (its default CA bundle), False (no
        certificate check) or a CA bundle path.

    Returns
    -------
    botocore.client.BaseClient
        A ``kinesis`` client.
    """
    import boto3
    from botocore.config import Config

    from .aws import pin_endpoint

    client = boto3.session.Session().client(
        "kinesis",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="x",
        verify=verify,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )
    client.meta.events.register("before-send.kinesis.*", pin_endpoint(url))
    return client
