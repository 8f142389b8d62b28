"""The data-plane actions: writing and reading records, enhanced fan-out consumers and SubscribeToShard.

Each function is one Kinesis operation, ``fn(engine, p)`` as in
:mod:`.stream_actions`; GetRecords and SubscribeToShard also take
``json_wire``.  They are dispatched through
:data:`shardstream.server.actions.ACTIONS` and re-exported there.
ProvisionedThroughputExceededException comes only from an engine that
emulates throttling (:mod:`shardstream.throttle`) or from a full shard log.
"""

from __future__ import annotations

import time

from ..errors import InvalidArgumentException
from . import codec

__all__ = [
    "deregister_stream_consumer",
    "describe_stream_consumer",
    "get_records",
    "get_shard_iterator",
    "list_stream_consumers",
    "put_record",
    "put_records",
    "register_stream_consumer",
    "subscribe_to_shard",
]


def _with_encryption(stream, out: dict) -> dict:
    """A put response with ``EncryptionType`` when the stream encrypts (spec 1.5)."""
    if stream.encrypted:
        out["EncryptionType"] = stream.encryption_type
    return out


def _dry_run(p: dict) -> bool:
    return p.get("DryRun") is True


# -- records ----------------------------------------------------------------------------


def put_record(engine, p: dict) -> dict:
    """PutRecord (``Stream.put_record``).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``Data``, ``PartitionKey``,
        ``ExplicitHashKey``, ``SequenceNumberForOrdering`` and ``DryRun``.

    Returns
    -------
    dict
        ``{"ShardId", "SequenceNumber"}``, plus ``EncryptionType`` when the stream encrypts.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ValidationException, SerializationException
        A malformed key, data or hash key (a USER_PARTITION_KEY stream needs a PartitionKey).
    InvalidArgumentException
        A record too large, a hash key out of range, a bad ordering number.
    ProvisionedThroughputExceededException
        The shard is throttled, or its log is full of records still inside retention.
    DryRunOperationException
        ``DryRun`` and the put would have succeeded.
    """
    started = time.perf_counter()
    stream = engine.stream(p.get("StreamName"), stream_arn=p.get("StreamARN"))
    # Without a PartitionKey a USER_PARTITION_KEY stream raises the model's old "must not be null".
    data, key = p.get("Data"), p.get("PartitionKey")
    out = stream.put_record(
        data, key, p.get("ExplicitHashKey"), p.get("SequenceNumberForOrdering"), dry_run=_dry_run(p)
    )
    stream.meters.put_record(stream.now_ms(), len(data) + len((key or "").encode()), started)
    return _with_encryption(stream, out)


def put_records(engine, p: dict) -> dict:
    """PutRecords (:meth:`Stream.put_records`): each entry succeeds or fails on its own.

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``Records`` and ``DryRun``.

    Returns
    -------
    dict
        ``{"FailedRecordCount", "Records": [...]}`` (failed entries carry ``ErrorCode`` and
        ``ErrorMessage``), plus ``EncryptionType`` when the stream encrypts.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ValidationException
        An entry breaks a constraint, or there are not 1 to 500 entries.
    InvalidArgumentException
        An out-of-range ExplicitHashKey, or more than 5 MiB in total.
    DryRunOperationException
        ``DryRun`` and the request would have been accepted.
    """
    stream = engine.stream(p.get("StreamName"), stream_arn=p.get("StreamARN"))
    return _with_encryption(stream, stream.put_records(p.get("Records"), dry_run=_dry_run(p)))


def get_shard_iterator(engine, p: dict) -> dict:
    """GetShardIterator (:meth:`Stream.get_shard_iterator`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``ShardId``, ``ShardIteratorType``,
        ``StartingSequenceNumber``, ``Timestamp`` and ``DryRun``.

    Returns
    -------
    dict
        ``{"ShardIterator": token}`` (valid five minutes).

    Raises
    ------
    ResourceNotFoundException
        No such stream or shard.
    InvalidArgumentException, ValidationException
        A bad iterator type, a sequence number missing, out of place or not of the shard, a timestamp
        missing or in the future.
    ProvisionedThroughputExceededException
        The shard is throttled.
    DryRunOperationException
        ``DryRun`` and the call would have succeeded.
    """
    return engine.get_shard_iterator(
        p.get("StreamName"),
        p.get("ShardId"),
        p.get("ShardIteratorType"),
        p.get("StartingSequenceNumber"),
        p.get("Timestamp"),
        stream_arn=p.get("StreamARN"),
        dry_run=_dry_run(p),
    )


def get_records(engine, p: dict, *, json_wire: bool = False):
    """GetRecords (:meth:`Stream.get_records`); for the JSON wire, the body itself written from Arrow.

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ShardIterator``, ``Limit`` and ``DryRun``.
    json_wire : bool
        The response goes out as JSON: records in wire form (``Data`` base64,
        timestamps epoch seconds), and for an unencrypted stream the whole body
        encoded from the Arrow batch when :func:`.codec.get_records_json` can.

    Returns
    -------
    dict or EncodedJSON
        ``{"Records", "NextShardIterator", "MillisBehindLatest"}`` (``ChildShards`` instead of
        the iterator at the end of a closed shard; records carry ``EncryptionType`` when the
        stream encrypts), or that body already encoded (:class:`~.codec.EncodedJSON`).

    Raises
    ------
    InvalidArgumentException
        A ShardIterator that is not a string or is malformed.
    SerializationException, ValidationException
        A Limit that is not an int of 1 to 10,000.
    ExpiredIteratorException
        An iterator more than five minutes old.
    ResourceNotFoundException
        The iterator's stream or shard is gone.
    ProvisionedThroughputExceededException
        The shard is throttled.
    DryRunOperationException
        ``DryRun`` and the call would have succeeded.
    """
    iterator = p.get("ShardIterator")
    if not isinstance(iterator, str):
        raise InvalidArgumentException("Invalid ShardIterator.")
    stream = engine.iterator_stream(iterator)
    dry_run = _dry_run(p)
    if json_wire and not dry_run and not stream.encrypted:
        body = codec.get_records_json(stream.get_record_batch(iterator, p.get("Limit"), deaggregate=False))
        if body is not None:
            return body
    out = stream.get_records(iterator, p.get("Limit"), wire=json_wire, dry_run=dry_run)
    if stream.encrypted:
        for record in out["Records"]:
            record["EncryptionType"] = stream.encryption_type
    return out


# -- enhanced fan-out -----------------------------------------------------------------------


def register_stream_consumer(engine, p: dict) -> dict:
    """RegisterStreamConsumer (:meth:`Engine.register_stream_consumer`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamARN``, ``ConsumerName`` and ``Tags``.

    Returns
    -------
    dict
        ``{"Consumer": {"ConsumerName", "ConsumerARN", "ConsumerStatus", "ConsumerCreationTimestamp"}}``.

    Raises
    ------
    ValidationException, SerializationException, InvalidArgumentException
        A malformed name, ARN or tags.
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The name is taken, or the stream is not ACTIVE (or UPDATING).
    LimitExceededException
        The stream has 20 consumers, or 5 CREATING.
    """
    return engine.register_stream_consumer(p.get("StreamARN"), p.get("ConsumerName"), p.get("Tags"))


def describe_stream_consumer(engine, p: dict) -> dict:
    """DescribeStreamConsumer (:meth:`Engine.describe_stream_consumer`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ConsumerARN``, or ``StreamARN`` and ``ConsumerName`` (they must agree when all are given).

    Returns
    -------
    dict
        ``{"ConsumerDescription": {..., "StreamARN"}}``.

    Raises
    ------
    ResourceNotFoundException
        No such consumer.
    InvalidArgumentException
        The names given disagree.
    """
    return engine.describe_stream_consumer(p.get("StreamARN"), p.get("ConsumerName"), p.get("ConsumerARN"))


def list_stream_consumers(engine, p: dict) -> dict:
    """ListStreamConsumers (:meth:`Engine.list_stream_consumers`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamARN``, ``NextToken``, ``MaxResults`` and ``StreamCreationTimestamp``.

    Returns
    -------
    dict
        ``{"Consumers": [...]}`` in name order, with ``NextToken`` while more remain.

    Raises
    ------
    ResourceNotFoundException
        No such stream, or one created at another time than ``StreamCreationTimestamp``.
    SerializationException, ValidationException, InvalidArgumentException
        A malformed ARN, MaxResults or NextToken.
    """
    return engine.list_stream_consumers(
        p.get("StreamARN"),
        p.get("NextToken"),
        p.get("MaxResults"),
        stream_creation_timestamp=p.get("StreamCreationTimestamp"),
    )


def deregister_stream_consumer(engine, p: dict) -> dict:
    """DeregisterStreamConsumer (:meth:`Engine.deregister_stream_consumer`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ConsumerARN``, or ``StreamARN`` and ``ConsumerName``, as :func:`describe_stream_consumer`.

    Returns
    -------
    dict
        ``{}``; the consumer is DELETING, then gone, and its subscriptions end.

    Raises
    ------
    ResourceNotFoundException
        No such consumer.
    InvalidArgumentException
        The names given disagree.
    """
    return engine.deregister_stream_consumer(p.get("StreamARN"), p.get("ConsumerName"), p.get("ConsumerARN"))


def subscribe_to_shard(engine, p: dict, *, json_wire: bool = False):
    """SubscribeToShard (:meth:`Engine.subscribe_to_shard`): a live feed the app streams as events.

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ConsumerARN``, ``ShardId``, ``StartingPosition`` and ``DryRun``.
    json_wire : bool
        Records in JSON wire form (``Data`` base64, timestamps epoch seconds).

    Returns
    -------
    Subscription
        A :class:`~shardstream.fanout.Subscription`, served by :mod:`.eventstream`.

    Raises
    ------
    ResourceNotFoundException
        No such consumer or shard.
    ResourceInUseException
        The consumer is not ACTIVE, or subscribed to the shard less than 5 seconds ago.
    InvalidArgumentException, ValidationException
        A bad starting position (as for GetShardIterator).
    DryRunOperationException
        ``DryRun`` and the subscription would have started.
    """
    return engine.subscribe_to_shard(
        p.get("ConsumerARN"), p.get("ShardId"), p.get("StartingPosition"), wire=json_wire, dry_run=_dry_run(p)
    )
