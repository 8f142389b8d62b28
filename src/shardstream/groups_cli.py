"""``shardstream groups list | describe | reset``: consumer groups from the shell (as ``kafka-consumer-groups``).

A group's state is its lease table (``--leases``, as a Consumer's ``leases=``):

- an SQLite file (``--leases PATH``) holds the tables of any number of groups: ``list`` shows
  each group in the file;
- a DynamoDB table (``--leases dynamodb://TABLE``) is one group's, as in the KCL: ``list``
  shows that one group, named after the table; ``dynamodb://`` alone means the table named
  after GROUP (``describe``/``reset`` only).

``describe`` and ``reset`` also read the stream (``--url``, as the other commands, and
``--stream``): ``describe`` shows each shard's owner, checkpoint (with its sub-sequence
number) and lag (MillisBehindLatest from one GetRecords at the checkpoint; records behind too
when the stream is embedded and can count them).

``reset`` moves checkpoints only while no worker holds the group's leases.  A lease is *held*
when it has an owner and its counter changed within ``--failover-ms`` (the group's
``failover_ms``): ``reset`` reads the table, and if any lease to move has an owner, waits that
long and reads again.  A lease whose owner did not renew it in that time belongs to a dead
worker and is moved (and freed).  Every write is conditional on the counter last read, so a
worker that comes back in between wins and ``reset`` stops with an error.  Ended shards
(``SHARD_END``) are left alone.

Positions: ``trim_horizon`` and ``latest`` store the starting positions TRIM_HORIZON and
LATEST (LATEST is resolved when a worker next starts the shard, so records written between the
reset and then are skipped, as for a new group at LATEST); ``timestamp`` and ``sequence``
store a checkpoint just before a record (its sequence number with sub-sequence number -1), so
the group resumes *at* that record: the first at or after ``--timestamp`` (a shard with none
gets LATEST), or ``--sequence-number`` on ``--shard``.

Errors are one line on stderr (``Error: ...``) with exit status 1.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time

import click

from .stream_cli import engine_at, kinesis_errors, url_option

__all__ = ["describe", "groups", "list_groups", "reset"]

_SENTINELS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")

leases_option = click.option(
    "--leases",
    envvar="SHARDSTREAM_LEASES",
    required=True,
    show_envvar=True,
    help="The lease table: an SQLite file, or dynamodb://TABLE (dynamodb:// alone: the table named GROUP).",
)
stream_option = click.option("--stream", "stream_name", required=True, help="The stream the group reads.")


@contextlib.contextmanager
def _store(leases: str, group: str):
    """The group's lease store, closed afterwards; nothing is created (no SQLite file, no DynamoDB table)."""
    from .consumer import DynamoDBLeaseStore, open_lease_store

    if "://" not in leases and not os.path.exists(leases):
        raise click.ClickException(f"no lease file {leases}")
    try:
        store = open_lease_store(leases, group)
        if isinstance(store, DynamoDBLeaseStore):
            store.close()
            store = DynamoDBLeaseStore(store.table, create=False)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--leases") from None
    try:
        with kinesis_errors(leases):
            yield store
    finally:
        store.close()


def _leases_of(store, group: str, leases: str) -> list:
    found = store.list()
    if not found:
        raise click.ClickException(f"group {group} has no leases in {leases}")
    return found


def _table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@click.group()
def groups() -> None:
    """Consumer groups: list them, describe one, reset its checkpoints."""


@groups.command("list")
@leases_option
def list_groups(leases):
    """List the groups of a lease table: name, shards, shards held, workers."""
    if leases.startswith("dynamodb://"):
        from urllib.parse import urlsplit

        table = urlsplit(leases).netloc
        if not table:
            raise click.BadParameter("list needs dynamodb://TABLE (the table is the group)", param_hint="--leases")
        with _store(leases, table) as store:
            found = {table: store.list()}
    else:
        from .consumer import SQLiteLeaseStore

        if not os.path.exists(leases):
            raise click.ClickException(f"no lease file {leases}")
        found = SQLiteLeaseStore.groups(leases)
    rows = [("GROUP", "SHARDS", "OWNED", "WORKERS")]
    for name, group_leases in sorted(found.items()):
        owners = {lease.owner for lease in group_leases if lease.owner is not None}
        owned = sum(1 for lease in group_leases if lease.owner is not None)
        rows.append((name, len(group_leases), owned, len(owners)))
    _table(rows)


def _iterator_at(stream, shard_id: str, checkpoint: str, sub: int) -> str | None:
    """An iterator at the first record after ``checkpoint`` (None: no such position, e.g. AT_TIMESTAMP)."""
    if checkpoint in ("TRIM_HORIZON", "LATEST"):
        return stream.get_shard_iterator(shard_id, checkpoint)["ShardIterator"]
    if checkpoint in _SENTINELS or not checkpoint.isdigit():
        return None
    kind = "AT_SEQUENCE_NUMBER" if sub < 0 else "AFTER_SEQUENCE_NUMBER"
    return stream.get_shard_iterator(shard_id, kind, checkpoint)["ShardIterator"]


def _records_behind(stream, shard_id: str, checkpoint: str, sub: int) -> int | None:
    """Records after the checkpoint, for an embedded stream (it can count them); else None."""
    logs = getattr(stream, "logs", None)
    parse = getattr(stream, "parse_sequence", None)
    if logs is None or parse is None:
        return None
    log = logs[int(shard_id.rsplit("-", 1)[1])]
    if checkpoint == "TRIM_HORIZON":
        return log.tail - log.head
    if checkpoint == "LATEST":
        return 0
    if not checkpoint.isdigit():
        return None
    counter = parse(checkpoint).counter
    return max(0, log.tail - (counter if sub < 0 else counter + 1))


def shard_lag(stream, lease) -> tuple[str, str]:
    """(MillisBehindLatest, records behind) of one lease, as text ("-" where not known).

    Parameters
    ----------
    stream : shardstream.Stream or a remote stream
    lease : shardstream.consumer.Lease

    Returns
    -------
    tuple of (str, str)
    """
    if lease.finished:
        return "0", "0"
    sub = lease.checkpoint_sub_sequence_number
    iterator = _iterator_at(stream, lease.lease_key, lease.checkpoint, sub)
    millis = "-"
    if iterator is not None:
        behind = stream.get_records(iterator, 1).get("MillisBehindLatest")
        millis = "-" if behind is None else str(behind)
    records = _records_behind(stream, lease.lease_key, lease.checkpoint, sub)
    return millis, "-" if records is None else str(records)


@groups.command()
@click.argument("group")
@leases_option
@stream_option
@url_option
def describe(group, leases, stream_name, url):
    """Show each shard of GROUP: owner, checkpoint, sub-sequence number and lag."""
    with _store(leases, group) as store:
        found = _leases_of(store, group, leases)
        with engine_at(url) as engine:
            stream = engine.stream(stream_name)
            rows = [("SHARD", "OWNER", "CHECKPOINT", "SUB", "MILLIS_BEHIND", "RECORDS_BEHIND")]
            for lease in found:
                millis, records = shard_lag(stream, lease)
                rows.append(
                    (
                        lease.lease_key,
                        lease.owner or "-",
                        lease.checkpoint,
                        lease.checkpoint_sub_sequence_number,
                        millis,
                        records,
                    )
                )
    _table(rows)


def _timestamp(text: str) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {text!r}", param_hint="--timestamp") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)


def _at_timestamp(stream, shard_id: str, when: datetime.datetime) -> tuple[str, int]:
    """Just before the shard's first record at or after ``when`` (LATEST when there is none yet)."""
    iterator = stream.get_shard_iterator(shard_id, "AT_TIMESTAMP", timestamp=when)["ShardIterator"]
    for _ in range(100):  # Kinesis may answer empty pages before the records: follow them
        page = stream.get_records(iterator, 1)
        if page["Records"]:
            return page["Records"][0]["SequenceNumber"], -1
        iterator = page.get("NextShardIterator")
        if not iterator or not page.get("MillisBehindLatest"):
            break
    return "LATEST", 0


def held_leases(store, keys: list[str], failover_ms: int) -> tuple[dict, list]:
    """The leases ``keys`` as last read, and which of them a worker holds.

    Held: an owner is set and the counter changed within ``failover_ms`` (read twice that far
    apart; only when one of them has an owner).

    Parameters
    ----------
    store : LeaseStore
    keys : list of str
    failover_ms : int

    Returns
    -------
    tuple of (dict of str to Lease, list of Lease)
        The second reading by key, and the held leases.
    """
    first = {lease.lease_key: lease for lease in store.list() if lease.lease_key in keys}
    if not any(lease.owner is not None for lease in first.values()):
        return first, []
    time.sleep(failover_ms / 1000)
    second = {lease.lease_key: lease for lease in store.list() if lease.lease_key in keys}
    held = [
        lease
        for key, lease in second.items()
        if lease.owner is not None and (key not in first or first[key].counter != lease.counter)
    ]
    return second, held


@groups.command()
@click.argument("group")
@click.option(
    "--to",
    "to",
    type=click.Choice(["trim_horizon", "latest", "timestamp", "sequence"]),
    required=True,
    help="Where the group resumes.",
)
@click.option("--timestamp", "timestamp", help="With --to timestamp: an ISO 8601 time (UTC if no zone).")
@click.option("--sequence-number", help="With --to sequence: the record the shard resumes at.")
@click.option("--shard", help="With --to sequence: the shard.")
@click.option(
    "--failover-ms",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="The group's failover_ms: a lease renewed within it is held.",
)
@leases_option
@stream_option
@url_option
def reset(group, to, timestamp, sequence_number, shard, failover_ms, leases, stream_name, url):
    """Move GROUP's checkpoints while none of its workers runs."""
    if to == "timestamp" and not timestamp:
        raise click.UsageError("--to timestamp needs --timestamp")
    if to == "sequence" and not (sequence_number and shard):
        raise click.UsageError("--to sequence needs --sequence-number and --shard")
    if to != "sequence" and (sequence_number or shard):
        raise click.UsageError("--sequence-number and --shard go with --to sequence")
    when = _timestamp(timestamp) if to == "timestamp" else None
    with _store(leases, group) as store:
        found = _leases_of(store, group, leases)
        if to == "sequence":
            if shard not in {lease.lease_key for lease in found}:
                raise click.ClickException(f"group {group} has no lease for shard {shard}")
            if not sequence_number.isdigit():
                raise click.BadParameter(f"not a sequence number: {sequence_number!r}", param_hint="--sequence-number")
            keys = [shard]
        else:
            keys = [lease.lease_key for lease in found if not lease.finished]
        with engine_at(url) as engine:
            stream = engine.stream(stream_name)
            targets = {}
            for key in keys:
                if to == "sequence":
                    stream.get_shard_iterator(key, "AT_SEQUENCE_NUMBER", sequence_number)  # in this shard?
                    targets[key] = (sequence_number, -1)
                elif to == "timestamp":
                    targets[key] = _at_timestamp(stream, key, when)
                else:
                    targets[key] = (to.upper(), 0)
        current, held = held_leases(store, keys, failover_ms)
        if held:
            raise click.ClickException(
                f"group {group} is in use: {held[0].lease_key} is held by {held[0].owner} (renewed within "
                f"{failover_ms} ms; {len(held)} lease(s) held); stop its workers first"
            )
        for key in keys:
            checkpoint, sub = targets[key]
            if not store.reset(key, current[key].counter, checkpoint, sub):
                raise click.ClickException(f"the lease of {key} changed during the reset (a worker started?)")
            click.echo(f"{key}\t{checkpoint}" + (f"\t{sub}" if sub else ""))
