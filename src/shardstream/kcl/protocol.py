"""The MultiLangDaemon protocol's messages: what goes over a child's stdin and stdout.

One job: the JSON shapes of the conversation, with no process in it: a record
as the daemon sends it (:func:`record_message`), a line of the child's stdout
read as a message or as other output (:func:`decode_message`), and the KCL
exception named in a failed checkpoint's answer (:func:`checkpoint_error_name`).
:class:`~shardstream.kcl.processor.MultiLangProcessor` holds the conversation.

The protocol, as the Java daemon speaks it
------------------------------------------
Per leased shard the daemon starts ``executableName`` (split at spaces, not
run through a shell) and writes one JSON object per line to its stdin:

``{"action":"initialize","shardId":...,"sequenceNumber":...,"subSequenceNumber":...}``
    Once.  ``sequenceNumber`` is where the shard resumes: the checkpoint or
    ``TRIM_HORIZON`` / ``LATEST`` / ``AT_TIMESTAMP``; ``subSequenceNumber``
    the checkpoint's position inside a KPL aggregate (0 otherwise).
``{"action":"processRecords","records":[...],"millisBehindLatest":...}``
    Per batch; each record is ``{"data": <base64>, "partitionKey",
    "sequenceNumber", "approximateArrivalTimestamp": <epoch ms>,
    "subSequenceNumber", "action": "record"}``: user records, KPL
    aggregates taken apart (``subSequenceNumber`` = index in the aggregate).
``{"action":"leaseLost"}``
    Another worker took the shard; checkpointing is refused.
``{"action":"shardEnded"}``
    The shard is closed and fully read; the child must checkpoint
    (``SHARD_END``).
``{"action":"shutdownRequested"}``
    The worker is stopping; the child may checkpoint.  As in KCL 2.x/3.x a
    ``leaseLost`` follows.

After each of them the daemon reads the child's stdout until the child
answers ``{"action":"status","responseFor":<the action>}``.  Meanwhile the
child may ask ``{"action":"checkpoint","sequenceNumber":...,
"subSequenceNumber":...}`` (a null sequence number means "the last record
delivered", or ``SHARD_END`` at a shard's end); the daemon checkpoints and
answers ``{"action":"checkpoint","sequenceNumber":...,
"subSequenceNumber":...,"error":null}``, ``error`` naming the KCL exception
on failure (see :func:`checkpoint_error_name`).  Lines on the child's stdout
that are not protocol messages (blank lines, ``print`` output) are skipped;
its stderr is copied to ours line by line.  After the final message the
daemon closes the child's stdin, so the child sees end of input and exits.

If the child exits, answers a message with the wrong status, cannot be
written to, or (with ``timeoutInSeconds``) takes too long, the Java daemon
exits.  :class:`~shardstream.kcl.MultiLangProcessor` kills the child, reports it through its
``on_failure`` callback (``shardstream kcl`` then stops the worker and exits
with status 1) and raises :class:`~shardstream.kcl.MultiLangError`.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import sqlite3
from collections.abc import Mapping

from ..consumer.processor import InvalidCheckpointError, LeaseLostError

__all__ = ["checkpoint_error_name", "decode_message", "record_message", "record_messages"]

#: Messages a child may write (the Java daemon's ``Message`` subtypes); other JSON lines are skipped.
_MESSAGE_ACTIONS = frozenset(
    {"checkpoint", "status", "initialize", "processRecords", "shutdown", "shutdownRequested", "leaseLost", "shardEnded"}
)


def _epoch_millis(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(round(value.timestamp() * 1000))
    return int(round(float(value) * 1000))  # GetRecords JSON: epoch seconds


def record_message(record: Mapping) -> dict:
    """A GetRecords record as the daemon sends it (the KCL's ``JsonFriendlyRecord``).

    Parameters
    ----------
    record : dict
        ``SequenceNumber``, ``Data`` (bytes), ``PartitionKey``,
        ``ApproximateArrivalTimestamp`` (datetime or epoch seconds) and, for
        records taken out of a KPL aggregate, ``SubSequenceNumber``.

    Examples
    --------
    >>> import datetime
    >>> record_message({"SequenceNumber": "49", "Data": b"hi", "PartitionKey": "k",
    ...     "ApproximateArrivalTimestamp": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)})
    {'data': 'aGk=', 'partitionKey': 'k', 'sequenceNumber': '49', 'approximateArrivalTimestamp': 1704067200000, \
'subSequenceNumber': 0, 'action': 'record'}
    """
    data = record["Data"]
    if isinstance(data, str):  # already base64 (raw JSON)
        encoded = data
    else:
        encoded = base64.b64encode(bytes(data)).decode("ascii")
    return {
        "data": encoded,
        "partitionKey": record["PartitionKey"],
        "sequenceNumber": record["SequenceNumber"],
        "approximateArrivalTimestamp": _epoch_millis(record.get("ApproximateArrivalTimestamp")),
        "subSequenceNumber": int(record.get("SubSequenceNumber") or 0),
        "action": "record",
    }


def record_messages(records) -> list[dict]:
    """A batch of records as ``processRecords`` carries them (:func:`record_message` each).

    Parameters
    ----------
    records : list of dict or pyarrow.RecordBatch
        GetRecords records (``record_format="dicts"``), or a batch in
        ``shardstream.unpack.USER_RECORD_SCHEMA`` (``record_format="arrow"``;
        ``RECORD_SCHEMA`` reads as sub-sequence 0).

    Returns
    -------
    list of dict

    Examples
    --------
    >>> record_messages([{"SequenceNumber": "7", "Data": b"", "PartitionKey": "k"}])
    [{'data': '', 'partitionKey': 'k', 'sequenceNumber': '7', 'approximateArrivalTimestamp': None, \
'subSequenceNumber': 0, 'action': 'record'}]
    """
    if isinstance(records, list):
        return [record_message(r) for r in records]
    # a pyarrow RecordBatch in shardstream.USER_RECORD_SCHEMA (a Consumer with record_format="arrow")
    return [
        record_message(
            {
                "SequenceNumber": row["sequence_number"],
                "Data": row["data"],
                "PartitionKey": row["partition_key"],
                "ApproximateArrivalTimestamp": row["approximate_arrival_timestamp"],
                "SubSequenceNumber": row.get("sub_sequence_number", 0),
            }
        )
        for row in records.to_pylist()
    ]


def checkpoint_error_name(exc: BaseException) -> str:
    """The KCL exception name the daemon reports to a child for a failed checkpoint.

    ==========================================  ============================================
    :class:`~shardstream.consumer.LeaseLostError`        ``ShutdownException``
    :class:`~shardstream.consumer.InvalidCheckpointError` ``IllegalArgumentException`` (as the
                                                          KCL's checkpointer raises for a value
                                                          outside what was delivered)
    a busy/locked lease table                   ``ThrottlingException``
    anything else                               ``KinesisClientLibDependencyException``
    ==========================================  ============================================

    Parameters
    ----------
    exc : BaseException
        What the checkpoint raised.

    Returns
    -------
    str
        The name from the table above.

    Examples
    --------
    >>> checkpoint_error_name(LeaseLostError("gone"))
    'ShutdownException'
    """
    if isinstance(exc, LeaseLostError):
        return "ShutdownException"
    if isinstance(exc, (InvalidCheckpointError, ValueError, TypeError)):
        return "IllegalArgumentException"
    if isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in ("locked", "busy")):
        return "ThrottlingException"
    if type(exc).__name__ in (
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
    ):
        return "ThrottlingException"
    return "KinesisClientLibDependencyException"


def decode_message(line: str) -> dict | None:
    """A protocol message from a line of the child's stdout, or None for other output.

    A checkpoint request's ``sequenceNumber`` comes back as a string (or
    None) and its ``subSequenceNumber`` as an integer (or None).

    Parameters
    ----------
    line : str
        One line, without its line ending.

    Returns
    -------
    dict or None
        None for lines that are not protocol messages (``print`` output,
        unknown actions, malformed fields), which the daemon skips.

    Examples
    --------
    >>> decode_message('{"action": "checkpoint", "sequenceNumber": 49, "subSequenceNumber": "2"}')
    {'action': 'checkpoint', 'sequenceNumber': '49', 'subSequenceNumber': 2}
    >>> decode_message("hello from print()") is None
    True
    """
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("action") not in _MESSAGE_ACTIONS:
        return None
    if message["action"] == "status":
        if not isinstance(message.get("responseFor"), (str, type(None))):
            return None
    elif message["action"] == "checkpoint":
        seq = message.get("sequenceNumber")
        if isinstance(seq, bool) or not isinstance(seq, (str, int, type(None))):
            return None
        sub = message.get("subSequenceNumber")
        if isinstance(sub, str) and sub.lstrip("-").isdigit():
            sub = int(sub)
        if isinstance(sub, bool) or not isinstance(sub, (int, type(None))):
            return None
        message = {**message, "sequenceNumber": None if seq is None else str(seq), "subSequenceNumber": sub}
    return message
