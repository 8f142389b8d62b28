"""``shardstream tail``: every shard of a stream, in order across reshards, as JSON lines.

:class:`StreamTail` reads the shards of a stream the way a KCL worker does:
a child shard (of a split or a merge) is read only after its parents have been
read to their end, so the records of one partition key come out in the order
they were written.  Shards found later (a reshard while following) are read
from their start.  ``--from latest`` starts the open shards at their tip and
skips closed ones.

Each record is one JSON object a line: ``shard_id``, ``sequence_number``
(and ``sub_sequence_number`` for a record that came out of a KPL aggregate),
``partition_key``, ``arrival`` (ISO 8601) and ``data`` (the payload as text
when it is UTF-8, else ``data_base64``).  Compressed and aggregated records
are unpacked (:func:`shardstream.unpack.unpack_records`): one line per user record.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
import sys
import time
from collections.abc import Iterator

import click

from .errors import ExpiredIteratorException
from .stream_cli import engine_at, url_option
from .unpack import unpack_records

__all__ = ["StreamTail", "parse_start", "record_line", "tail"]

_PAGE_LIMIT = 1000
#: While following, how often the shard list is read again to find new shards (seconds).
_DISCOVER_EVERY_S = 1.0


def parse_start(value: str) -> tuple[str, _dt.datetime | None]:
    """``--from``'s value as (iterator type, timestamp).

    Parameters
    ----------
    value : str
        ``trim-horizon``, ``latest`` or an ISO 8601 timestamp (UTC unless it
        carries an offset).

    Returns
    -------
    tuple of (str, datetime or None)

    Raises
    ------
    click.BadParameter
        Anything else.
    """
    kind = value.strip().lower().replace("_", "-")
    if kind == "trim-horizon":
        return "TRIM_HORIZON", None
    if kind == "latest":
        return "LATEST", None
    try:
        when = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not trim-horizon, latest or an ISO 8601 timestamp", param_hint="--from"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return "AT_TIMESTAMP", when


class StreamTail:
    """Reads every shard of ``stream``, children after their parents, as ``(shard_id, record)``.

    Parameters
    ----------
    stream : shardstream.Stream or a remote stream
        Anything with ``list_shards()``, ``get_shard_iterator(...)`` and ``get_records(...)``.
    start : str
        ``TRIM_HORIZON``, ``LATEST`` or ``AT_TIMESTAMP``: where the shards
        listed at the start are read from.
    timestamp : datetime, optional
        For ``AT_TIMESTAMP``.
    poll_interval : float
        Seconds between polls once every shard is caught up (when following).
    """

    def __init__(self, stream, start: str = "TRIM_HORIZON", timestamp=None, poll_interval: float = 0.2):
        self.stream = stream
        self.start = start
        self.timestamp = timestamp
        self.poll_interval = poll_interval
        self._known: dict[str, dict] = {}  # shard id -> Shard dict
        self._initial: set[str] = set()  # shards listed at the start: read from ``start``
        self._iterators: dict[str, str] = {}  # shards being read -> next iterator
        self._finished: set[str] = set()
        self._last_sequence: dict[str, str] = {}
        self._discovered_at = 0.0

    def records(self, follow: bool = False) -> Iterator[tuple[str, dict]]:
        """``(shard_id, record)`` in order per shard, children after parents.

        Parameters
        ----------
        follow : bool
            Keep polling for new records (and new shards) once caught up;
            otherwise stop when every shard is read to its tip.

        Returns
        -------
        iterator of (str, dict)
            Records in boto3's GetRecords shape.
        """
        self._discover(initial=True)
        while True:
            caught_up = True
            shard_closed = False
            for shard_id in list(self._iterators):
                page = self._page(shard_id)
                for record in page["Records"]:
                    self._last_sequence[shard_id] = record["SequenceNumber"]
                    yield shard_id, record
                following = page.get("NextShardIterator")
                if following is None:
                    del self._iterators[shard_id]
                    self._finished.add(shard_id)
                    shard_closed = True
                else:
                    self._iterators[shard_id] = following
                if page["Records"] or page.get("MillisBehindLatest", 0) > 0:
                    caught_up = False
            if shard_closed or (follow and time.monotonic() - self._discovered_at > _DISCOVER_EVERY_S):
                started = self._discover()
                caught_up = caught_up and not started
            if caught_up and not shard_closed:
                if not follow:
                    return
                time.sleep(self.poll_interval)

    def _page(self, shard_id: str) -> dict:
        """One GetRecords page of ``shard_id`` (a new iterator after the last record if it expired)."""
        try:
            return self.stream.get_records(self._iterators[shard_id], _PAGE_LIMIT)
        except ExpiredIteratorException:
            last = self._last_sequence.get(shard_id)
            if last is None:
                self._iterators[shard_id] = self._iterator(shard_id)
            else:
                self._iterators[shard_id] = self.stream.get_shard_iterator(
                    shard_id, "AFTER_SEQUENCE_NUMBER", last, None
                )["ShardIterator"]
            return self.stream.get_records(self._iterators[shard_id], _PAGE_LIMIT)

    def _iterator(self, shard_id: str) -> str:
        """A new iterator at where ``shard_id`` is read from: ``start`` for the first shards, else its start."""
        if shard_id in self._initial and self.start != "TRIM_HORIZON":
            return self.stream.get_shard_iterator(shard_id, self.start, None, self.timestamp)["ShardIterator"]
        return self.stream.get_shard_iterator(shard_id, "TRIM_HORIZON", None, None)["ShardIterator"]

    def _discover(self, initial: bool = False) -> bool:
        """Read the shard list; start the shards whose parents are done.  Whether any started."""
        self._discovered_at = time.monotonic()
        for shard in self.stream.list_shards():
            shard_id = shard["ShardId"]
            if shard_id in self._known:
                continue
            self._known[shard_id] = shard
            if initial:
                self._initial.add(shard_id)
                if self.start == "LATEST" and "EndingSequenceNumber" in shard["SequenceNumberRange"]:
                    self._finished.add(shard_id)  # closed before we started: nothing newer in it
        started = False
        for shard_id, shard in self._known.items():
            if shard_id in self._finished or shard_id in self._iterators:
                continue
            if self.start == "LATEST" and shard_id in self._initial or self._parents_done(shard):
                self._iterators[shard_id] = self._iterator(shard_id)
                started = True
        return started

    def _parents_done(self, shard: dict) -> bool:
        """Whether every parent of ``shard`` still listed has been read to its end."""
        parents = (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
        return all(p is None or p in self._finished or p not in self._known for p in parents)


def record_line(shard_id: str, record: dict) -> str:
    """One record as the JSON line ``tail`` prints.

    Parameters
    ----------
    shard_id : str
    record : dict
        In boto3's GetRecords shape (``Data`` bytes, ``ApproximateArrivalTimestamp`` a datetime).

    Returns
    -------
    str
    """
    line = {"shard_id": shard_id, "sequence_number": record["SequenceNumber"]}
    if record.get("SubSequenceNumber") is not None and record.get("Aggregated"):
        line["sub_sequence_number"] = record["SubSequenceNumber"]
    line["partition_key"] = record["PartitionKey"]
    arrival = record.get("ApproximateArrivalTimestamp")
    line["arrival"] = arrival.isoformat() if hasattr(arrival, "isoformat") else arrival
    data = bytes(record["Data"])
    try:
        line["data"] = data.decode("utf-8")
    except UnicodeDecodeError:
        line["data_base64"] = base64.b64encode(data).decode("ascii")
    return json.dumps(line, ensure_ascii=False)


@click.command()
@click.argument("name")
@click.option(
    "--from",
    "start",
    default="trim-horizon",
    show_default=True,
    help="Where to start: trim-horizon, latest or an ISO 8601 timestamp (UTC unless it has an offset).",
)
@click.option("--follow", "-f", is_flag=True, help="Keep following new records (and new shards) until interrupted.")
@click.option("-n", "count", type=click.IntRange(min=0), default=None, help="Stop after this many records.")
@click.option("--poll-interval", type=click.FloatRange(min=0.0), default=0.2, show_default=True, help="Seconds.")
@url_option
def tail(name, start, follow, count, poll_interval, url):
    """Print the records of stream NAME as JSON lines, shard by shard across reshards."""
    kind, timestamp = parse_start(start)
    printed = 0
    if count == 0:
        return
    with engine_at(url) as engine:
        stream = engine.stream(name)
        stream.describe_summary()  # a missing stream says so in one line
        reader = StreamTail(stream, kind, timestamp, poll_interval)
        try:
            for shard_id, record in reader.records(follow=follow):
                for user_record in unpack_records([record]):
                    click.echo(record_line(shard_id, user_record))
                    printed += 1
                    if count is not None and printed >= count:
                        return
                sys.stdout.flush()
        except BrokenPipeError:  # the reader went away (``| head``): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
