"""``shardstream create | list | describe | delete``: managing streams from the shell.

Every command takes ``--url`` (default ``$SHARDSTREAM_URL``, else
:data:`DEFAULT_URL`), opened with :func:`shardstream.connect`: a server
(``http(s)://host:port``), a data directory (``file:///dir``) or real Kinesis
(``aws://region``).  Errors go to stderr as one line (``Error: ...``) with
exit status 1; usage errors exit 2, as click does.  ``put`` and ``tail`` live
in :mod:`.put_cli` and :mod:`.tail_cli` and share :func:`url_option` and
:func:`open_engine` from here.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import time

import click

from .errors import KinesisError

__all__ = ["DEFAULT_URL", "create", "delete", "describe", "kinesis_errors", "list_streams", "open_engine", "url_option"]

#: Where the commands go without ``--url`` or ``$SHARDSTREAM_URL``: a local ``shardstream serve``.
DEFAULT_URL = "http://127.0.0.1:4567"

url_option = click.option(
    "--url",
    envvar="SHARDSTREAM_URL",
    default=DEFAULT_URL,
    show_default=True,
    show_envvar=True,
    help="The engine: http(s)://host:port (a server), file:///dir (a data directory) or aws://region.",
)


@contextlib.contextmanager
def kinesis_errors(url: str):
    """Turn Kinesis errors and unreachable endpoints into one-line click errors (exit status 1).

    Parameters
    ----------
    url : str
        Named in the message when the endpoint cannot be reached.

    Raises
    ------
    click.ClickException
        For a :class:`~shardstream.errors.KinesisError`, an OS error (a refused
        connection, a locked data directory) or a botocore error.
    """
    try:
        yield
    except KinesisError as err:
        raise click.ClickException(f"{err.message} ({err.error_type})" if err.message else err.error_type) from None
    except OSError as err:
        reason = getattr(err, "reason", None) or err.strerror or err
        raise click.ClickException(f"cannot reach {url}: {reason}") from None
    except Exception as err:
        if type(err).__module__.split(".")[0] in ("botocore", "boto3"):
            raise click.ClickException(str(err)) from None
        raise


def open_engine(url: str):
    """The engine behind ``url`` (:func:`shardstream.connect`).

    Parameters
    ----------
    url : str

    Returns
    -------
    shardstream.Engine or a remote engine

    Raises
    ------
    click.BadParameter
        A URL ``connect`` does not take.
    """
    from .client import connect

    try:
        return connect(url)
    except (ValueError, TypeError) as err:
        raise click.BadParameter(str(err), param_hint="--url") from None


def _close(engine) -> None:
    close = getattr(engine, "close", None)
    if close is not None:
        close()


@contextlib.contextmanager
def engine_at(url: str):
    """The engine behind ``url``, closed afterwards, with its errors as click errors.

    Parameters
    ----------
    url : str

    Returns
    -------
    contextlib.AbstractContextManager
        Gives the engine.
    """
    with kinesis_errors(url):
        engine = open_engine(url)
        try:
            yield engine
        finally:
            _close(engine)


def _json(value) -> str:
    return json.dumps(value, indent=2, default=_jsonable)


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


def wait_active(stream, timeout: float) -> dict:
    """Poll ``stream``'s summary until it is ACTIVE; its summary then.

    Parameters
    ----------
    stream : shardstream.Stream or a remote stream
    timeout : float
        Seconds before giving up.

    Returns
    -------
    dict
        The ``StreamDescriptionSummary``.

    Raises
    ------
    click.ClickException
        Not ACTIVE after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        summary = stream.describe_summary()["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return summary
        if time.monotonic() > deadline:
            raise click.ClickException(f"stream {summary['StreamName']} is {summary['StreamStatus']} after {timeout} s")
        time.sleep(0.05)


@click.command()
@click.argument("name")
@click.option("--shards", type=click.IntRange(min=1), default=None, help="Number of shards (default 1; 4 on demand).")
@click.option("--on-demand", is_flag=True, help="An on-demand stream (scales its shards itself).")
@click.option("--retention-hours", type=click.IntRange(24, 8760), default=24, show_default=True)
@click.option("--wait/--no-wait", default=False, show_default=True, help="Wait until the stream is ACTIVE.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds --wait waits.")
@url_option
def create(name, shards, on_demand, retention_hours, wait, timeout, url):
    """Create stream NAME."""
    if shards is None and not on_demand:
        shards = 1
    with engine_at(url) as engine:
        kwargs = {"stream_mode": "ON_DEMAND" if on_demand else "PROVISIONED"}
        if "wait" in inspect.signature(engine.create_stream).parameters:
            kwargs["wait"] = False  # waited for below, when asked
        engine.create_stream(name, shards, retention_hours, **kwargs)
        stream = engine.stream(name)
        summary = wait_active(stream, timeout) if wait else stream.describe_summary()["StreamDescriptionSummary"]
        count = summary.get("OpenShardCount", shards)
        click.echo(f"created stream {name}: {count} shard{'s' if count != 1 else ''}, {summary['StreamStatus']}")


@click.command("list")
@click.option("--long", "-l", "long_", is_flag=True, help="Also each stream's status, mode and creation time.")
@url_option
def list_streams(long_, url):
    """List the streams, one name a line."""
    with engine_at(url) as engine:
        page = engine.list_streams()
        while True:
            summaries = page.get("StreamSummaries") or [{"StreamName": n} for n in page["StreamNames"]]
            for summary in summaries:
                if long_:
                    mode = (summary.get("StreamModeDetails") or {}).get("StreamMode", "")
                    created = summary.get("StreamCreationTimestamp")
                    created = created.isoformat() if hasattr(created, "isoformat") else (created or "")
                    click.echo(f"{summary['StreamName']}\t{summary.get('StreamStatus', '')}\t{mode}\t{created}")
                else:
                    click.echo(summary["StreamName"])
            if not page.get("HasMoreStreams") or not page.get("NextToken"):
                break
            page = engine.list_streams(next_token=page["NextToken"])


@click.command()
@click.argument("name")
@url_option
def describe(name, url):
    """Describe stream NAME as JSON: its summary and its shards."""
    with engine_at(url) as engine:
        stream = engine.stream(name)
        summary = stream.describe_summary()["StreamDescriptionSummary"]
        click.echo(_json({**summary, "Shards": stream.list_shards()}))


@click.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--enforce-consumer-deletion", is_flag=True, help="Also deregister its enhanced fan-out consumers.")
@url_option
def delete(name, yes, enforce_consumer_deletion, url):
    """Delete stream NAME and every record in it."""
    with engine_at(url) as engine:
        engine.stream(name).describe_summary()  # a missing stream says so before any question
        if not yes:
            click.confirm(f"Delete stream {name} and all its records?", abort=True, err=True)
        engine.delete_stream(name, enforce_consumer_deletion=enforce_consumer_deletion)
        click.echo(f"deleted stream {name}")
