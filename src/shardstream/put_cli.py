"""``shardstream put``: lines of a file or of stdin as records, through :class:`shardstream.Producer`.

Each line (without its line ending) is one record.  The Producer batches,
aggregates (``--aggregate``), compresses (``--compression``) and retries; a
progress bar goes to stderr when stderr is a terminal, and a one-line count
when the input is done.  Exit status 1 when any record failed (the first
error is named) or a line could not be keyed.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import click

from .stream_cli import engine_at, url_option

__all__ = ["Outcomes", "put", "record_key"]

_COMPRESSION = ("zstd", "gzip", "lz4")


class Outcomes:
    """Counts the records sent and failed, from the Producer's futures (any thread)."""

    def __init__(self):
        self.sent = 0
        self.failed = 0
        self.first_error: BaseException | None = None
        self._lock = threading.Lock()

    def done(self, future) -> None:
        """A record's future finished (a ``add_done_callback`` callback).

        Parameters
        ----------
        future : concurrent.futures.Future
        """
        error = future.exception()
        with self._lock:
            if error is None:
                self.sent += 1
            else:
                self.failed += 1
                if self.first_error is None:
                    self.first_error = error


def record_key(line: bytes, number: int, partition_key: str | None, key_field: str | None) -> str | None:
    """The partition key of one input line.

    Parameters
    ----------
    line : bytes
        The line, without its ending.
    number : int
        Its line number (1-based), for the error message.
    partition_key : str, optional
        The same key for every line.
    key_field : str, optional
        Take the key from this field of the line's JSON object.

    Returns
    -------
    str or None
        None: the Producer picks one.

    Raises
    ------
    click.ClickException
        ``key_field`` is set and the line is not a JSON object with that field.
    """
    if key_field is None:
        return partition_key
    try:
        value = json.loads(line)[key_field]
    except (ValueError, TypeError, KeyError):
        raise click.ClickException(f"line {number}: not a JSON object with a {key_field!r} field") from None
    if value is None or value == "":
        raise click.ClickException(f"line {number}: field {key_field!r} is empty")
    return value if isinstance(value, str) else json.dumps(value)


def _lines(source):
    """``(raw length, line without its ending)`` for each line of a binary file."""
    for raw in source:
        yield len(raw), raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw


@click.command()
@click.argument("name")
@click.argument("source", type=click.File("rb"), default="-")
@click.option("--partition-key", "-k", default=None, help="The partition key of every record (default: random).")
@click.option("--key-field", default=None, help="Lines are JSON objects: take each partition key from this field.")
@click.option("--aggregate", is_flag=True, help="Aggregate records per shard (KPL format).")
@click.option("--compression", type=click.Choice(_COMPRESSION), default=None, help="Compress each Kinesis record.")
@click.option("--linger-ms", type=click.IntRange(min=0), default=50, show_default=True, help="Batching delay.")
@url_option
def put(name, source, partition_key, key_field, aggregate, compression, linger_ms, url):
    """Send the lines of SOURCE (a file, or - for stdin) to stream NAME, one record a line."""
    if partition_key is not None and key_field is not None:
        raise click.UsageError("give --partition-key or --key-field, not both")
    outcomes = Outcomes()
    show_progress = sys.stderr.isatty()
    with engine_at(url) as engine:
        stream = engine.stream(name)
        stream.describe_summary()  # a missing stream says so before reading any input
        from .producer import Producer

        producer = Producer(stream, linger_ms=linger_ms, aggregate=aggregate, compression=compression)
        try:
            lines = _lines(source)
            size = _size(source) if show_progress else None
            if show_progress and size is not None:  # a file: the bar advances by bytes read
                with click.progressbar(length=size, label=f"put {name}", file=sys.stderr) as bar:
                    _send_all(producer, lines, outcomes, partition_key, key_field, bar)
            elif show_progress:  # a pipe: no length, the bar counts lines
                with click.progressbar(lines, label=f"put {name}", file=sys.stderr) as counted:
                    _send_all(producer, counted, outcomes, partition_key, key_field, None)
            else:
                _send_all(producer, lines, outcomes, partition_key, key_field, None)
        finally:
            producer.close()
    click.echo(f"sent {outcomes.sent} record{'s' if outcomes.sent != 1 else ''} to {name}", err=True)
    if outcomes.failed:
        raise click.ClickException(f"{outcomes.failed} records failed; the first: {outcomes.first_error}")


def _size(source) -> int | None:
    """The size of a regular file in bytes (None for a pipe or terminal)."""
    try:
        status = os.fstat(source.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    import stat

    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _send_all(producer, lines, outcomes: Outcomes, partition_key, key_field, bar) -> None:
    """Send every line, counting outcomes; ``bar`` (optional) advances by the bytes read."""
    for number, (length, line) in enumerate(lines, 1):
        key = record_key(line, number, partition_key, key_field)
        producer.send(line, key).add_done_callback(outcomes.done)
        if bar is not None:
            bar.update(length)
    producer.flush()
