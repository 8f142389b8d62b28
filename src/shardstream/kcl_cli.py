"""``shardstream kcl``: run KCL MultiLangDaemon record processors (``amazon_kclpy`` ...) without Java.

``shardstream kcl --properties app.properties`` reads the daemon's
``.properties`` file (:class:`shardstream.kcl.KclConfig`), connects to the
shardstream (or Kinesis) server at ``shardstreamEndpoint`` and runs one
:class:`~shardstream.consumer.Consumer` worker of the group
``applicationName``, with its lease table in the SQLite file
``shardstreamLeaseFile``; every shard it leases gets a child process running
``executableName`` that speaks the MultiLangDaemon protocol
(:class:`shardstream.kcl.MultiLangProcessor`).  Start more such commands with
the same properties file (on this machine) and they share the shards.

SIGINT or SIGTERM stops it gracefully: every child gets ``shutdownRequested``
(a last chance to checkpoint) and then ``leaseLost``, and the leases are
released.  A second signal kills the children at once.  If a child breaks
the protocol (exits, answers wrongly, or times out) the worker stops and the
command exits with status 1, as the Java daemon does.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import sys
import threading

import click

__all__ = ["kcl", "run_daemon"]

_log = logging.getLogger("shardstream.kcl")


def run_daemon(config, stream=None, *, install_signals: bool = True, stop_event: threading.Event | None = None) -> int:
    """Run one worker of ``config``'s application until stopped; the exit status.

    Parameters
    ----------
    config : shardstream.kcl.KclConfig
    stream : Stream or RemoteStream, optional
        Default: ``shardstream.connect(config.endpoint).stream(config.stream_name)``.
    install_signals : bool
        Stop gracefully on SIGINT/SIGTERM (only from the main thread).
    stop_event : threading.Event, optional
        Set it to stop gracefully.

    Returns
    -------
    int
        0 after a graceful stop, 1 if a child process broke the protocol or
        the worker failed.
    """
    from .consumer import Consumer
    from .kcl import MultiLangProcessor, close_all

    if stream is None:
        from .client import connect

        kwargs = {"region": config.region_name} if config.region_name else {}
        stream = connect(config.endpoint, **kwargs).stream(config.stream_name)
    stop = stop_event if stop_event is not None else threading.Event()
    failures: list[BaseException] = []
    signals = {"count": 0}

    def on_failure(error: BaseException) -> None:
        failures.append(error)
        stop.set()

    try:
        consumer = Consumer(
            stream,
            processor=lambda: MultiLangProcessor(config, on_failure=on_failure),
            **config.consumer_kwargs(),
        )
    except (OSError, ValueError, sqlite3.Error) as exc:  # e.g. a lease file that cannot be opened
        raise click.ClickException(f"cannot start a worker with lease file {config.lease_file}: {exc}") from exc
    errors: list[BaseException] = []

    def work() -> None:
        try:
            consumer.run()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            stop.set()

    def on_signal(signum, frame) -> None:
        signals["count"] += 1
        if signals["count"] == 1:
            _log.info("signal %d: shutting down (again to kill the child processes)", signum)
            stop.set()
        else:
            _log.warning("signal %d again: killing the child processes", signum)
            close_all()

    restore = []
    if install_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            restore.append((sig, signal.getsignal(sig)))
            signal.signal(sig, on_signal)
    _log.info(
        "worker %s of application %s reading stream %s at %s; leases in %s; child: %s",
        consumer.worker_id,
        config.application_name,
        config.stream_name,
        config.endpoint,
        config.lease_file,
        config.executable_name,
    )
    runner = threading.Thread(target=work, name="kcl-consumer", daemon=True)
    runner.start()
    try:
        while not stop.wait(0.2):
            pass
        consumer.stop(timeout=0)  # ask; the shard threads finish their children's shutdown
        while runner.is_alive():
            runner.join(0.2)
    finally:
        close_all()
        for sig, handler in restore:
            signal.signal(sig, handler)
        consumer.store.close()
    for error in failures:
        click.echo(f"shardstream kcl: {error}", err=True)
    for error in errors:
        click.echo(f"shardstream kcl: the worker failed: {error!r}", err=True)
    return 1 if failures or errors else 0


@click.command()
@click.option(
    "--properties",
    "--properties-file",
    "-p",
    "properties_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The MultiLangDaemon .properties file (executableName, streamName, applicationName, ...).",
)
@click.option(
    "--endpoint",
    default=None,
    help="URL of the shardstream/Kinesis server, or aws://region (overrides shardstreamEndpoint; "
    "default http://127.0.0.1:4567).",
)
@click.option(
    "--lease-file",
    default=None,
    type=click.Path(dir_okay=False),
    help="SQLite lease table (overrides shardstreamLeaseFile; default <applicationName>.leases.db "
    "next to the properties file).",
)
@click.option("--worker-id", default=None, help="This worker's id (overrides workerId; default host:pid:random).")
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Logging to stderr.",
)
def kcl(
    properties_path: str, endpoint: str | None, lease_file: str | None, worker_id: str | None, log_level: str
) -> None:
    """Run KCL MultiLangDaemon record processors (e.g. amazon_kclpy apps) on shardstream, without Java.

    Reads the daemon's .properties file; each leased shard gets a child
    process running executableName, spoken to over stdin/stdout in the
    MultiLangDaemon protocol.  Leases and checkpoints live in an SQLite file
    shared by all workers of the application on this machine.  Extra keys:
    shardstreamEndpoint (server URL) and shardstreamLeaseFile.

    Ctrl-C (SIGINT) or SIGTERM shuts down gracefully.
    """
    from .kcl import KclConfig

    try:
        config = KclConfig.from_properties(properties_path)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{properties_path}: {exc}") from exc
    if endpoint is not None:
        config.endpoint = endpoint
    if lease_file is not None:
        config.lease_file = lease_file
    if worker_id is not None:
        config.worker_id = worker_id
    if not config.endpoint.startswith(("http://", "https://", "aws://")):
        raise click.ClickException(f"the endpoint must be an http(s):// or aws:// URL, not {config.endpoint!r}")

    from .client import connect

    kwargs = {"region": config.region_name} if config.region_name else {}
    try:
        stream = connect(config.endpoint, **kwargs).stream(config.stream_name)  # checks that it exists
    except Exception as exc:  # connection refused, no such stream, ...
        raise click.ClickException(f"cannot read stream {config.stream_name!r} at {config.endpoint}: {exc}") from exc
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.exit(run_daemon(config, stream))
