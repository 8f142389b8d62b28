"""The control-plane actions on streams: create, delete, describe, list, reshard, retention, modes, limits.

Each function is one Kinesis operation, ``fn(engine, p)``: ``p`` is the
validated, decoded request (:mod:`.shapes`, :mod:`.codec`), the result the
response body (``{}`` for an empty one).  They are dispatched through
:data:`shardstream.server.actions.ACTIONS` and re-exported there.  Errors are
the engine's :class:`~shardstream.errors.KinesisError` subclasses, raised as
they come; each docstring names the usual ones (the engine method it calls
documents them in full).
"""

from __future__ import annotations

from .resources import named_stream

__all__ = [
    "create_stream",
    "decrease_stream_retention_period",
    "delete_stream",
    "describe_limits",
    "describe_stream",
    "describe_stream_summary",
    "increase_stream_retention_period",
    "list_shards",
    "list_streams",
    "merge_shards",
    "split_shard",
    "update_max_record_size",
    "update_shard_count",
    "update_stream_mode",
    "update_stream_record_distribution_strategy",
    "update_stream_warm_throughput",
]


# -- streams --------------------------------------------------------------------------


def create_stream(engine, p: dict) -> dict:
    """CreateStream (:meth:`Engine.create_stream`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName``, ``ShardCount``, ``StreamModeDetails.StreamMode``,
        ``MaxRecordSizeInKiB``, ``Tags`` and ``RecordDistributionStrategy``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ValidationException, InvalidArgumentException
        A bad name, shard count, mode, record size, tags or distribution strategy.
    ResourceInUseException
        A stream of that name exists.
    LimitExceededException
        The engine's shard limit would be exceeded.
    """
    kwargs = {}
    mode = (p.get("StreamModeDetails") or {}).get("StreamMode")
    if mode is not None:
        kwargs["stream_mode"] = mode
    if p.get("MaxRecordSizeInKiB") is not None:
        kwargs["max_record_size_kib"] = p["MaxRecordSizeInKiB"]
    if p.get("Tags"):
        kwargs["tags"] = p["Tags"]
    if p.get("RecordDistributionStrategy") is not None:
        kwargs["record_distribution"] = p["RecordDistributionStrategy"]
    engine.create_stream(p.get("StreamName"), p.get("ShardCount"), **kwargs)
    return {}


def delete_stream(engine, p: dict) -> dict:
    """DeleteStream (:meth:`Engine.delete_stream`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``EnforceConsumerDeletion`` (default false).

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream has registered consumers and ``EnforceConsumerDeletion`` is not set.
    """
    return engine.delete_stream(
        p.get("StreamName"),
        stream_arn=p.get("StreamARN"),
        enforce_consumer_deletion=bool(p.get("EnforceConsumerDeletion", False)),
    )


def describe_stream(engine, p: dict) -> dict:
    """DescribeStream (:meth:`Stream.describe`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``Limit`` and ``ExclusiveStartShardId``.

    Returns
    -------
    dict
        ``{"StreamDescription": {...}}`` with one page of shards.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    InvalidArgumentException
        A malformed StreamARN, or neither StreamName nor StreamARN.
    """
    return named_stream(engine, p).describe(p.get("Limit"), p.get("ExclusiveStartShardId"))


def describe_stream_summary(engine, p: dict) -> dict:
    """DescribeStreamSummary (:meth:`Engine.describe_stream_summary`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``.

    Returns
    -------
    dict
        ``{"StreamDescriptionSummary": {...}}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    InvalidArgumentException
        A malformed StreamARN, or neither StreamName nor StreamARN.
    """
    return engine.describe_stream_summary(p.get("StreamName"), stream_arn=p.get("StreamARN"))


def list_streams(engine, p: dict) -> dict:
    """ListStreams (:meth:`Engine.list_streams`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``Limit``, ``ExclusiveStartStreamName`` and ``NextToken``.

    Returns
    -------
    dict
        ``{"StreamNames", "StreamSummaries", "HasMoreStreams"}``, with ``NextToken`` while more remain.

    Raises
    ------
    ValidationException
        A Limit out of range.
    InvalidArgumentException
        A NextToken not made by this engine.
    ExpiredNextTokenException
        A NextToken more than five minutes old.
    """
    return engine.list_streams(p.get("Limit"), p.get("ExclusiveStartStreamName"), p.get("NextToken"))


def list_shards(engine, p: dict) -> dict:
    """ListShards (:meth:`Engine.list_shards`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``NextToken``, ``ExclusiveStartShardId``,
        ``MaxResults``, ``StreamCreationTimestamp`` and ``ShardFilter``.

    Returns
    -------
    dict
        ``{"Shards": [...]}``, with ``NextToken`` while more remain.

    Raises
    ------
    ResourceNotFoundException
        No such stream (or one created at another time than ``StreamCreationTimestamp``).
    InvalidArgumentException, ValidationException
        A bad token, a token combined with a stream name, or a bad shard filter.
    ExpiredNextTokenException
        A NextToken more than five minutes old.
    """
    return engine.list_shards(
        p.get("StreamName"),
        p.get("NextToken"),
        p.get("ExclusiveStartShardId"),
        p.get("MaxResults"),
        stream_arn=p.get("StreamARN"),
        stream_creation_timestamp=p.get("StreamCreationTimestamp"),
        shard_filter=p.get("ShardFilter"),
    )


# -- resharding, retention, modes -------------------------------------------------------


def split_shard(engine, p: dict) -> dict:
    """SplitShard (:meth:`Stream.split_shard`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``ShardToSplit`` and ``NewStartingHashKey``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream or shard.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException
        The hash key is not inside the shard, or the shard is closed.
    ValidationException
        A malformed request, or an ON_DEMAND stream.
    LimitExceededException
        The engine's shard limit would be exceeded.
    """
    return engine.split_shard(
        p.get("StreamName"), p.get("ShardToSplit"), p.get("NewStartingHashKey"), stream_arn=p.get("StreamARN")
    )


def merge_shards(engine, p: dict) -> dict:
    """MergeShards (:meth:`Stream.merge_shards`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``ShardToMerge`` and ``AdjacentShardToMerge``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream or shard.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException
        The shards are not adjacent, or one is closed.
    ValidationException
        A malformed request, or an ON_DEMAND stream.
    """
    return engine.merge_shards(
        p.get("StreamName"), p.get("ShardToMerge"), p.get("AdjacentShardToMerge"), stream_arn=p.get("StreamARN")
    )


def update_shard_count(engine, p: dict) -> dict:
    """UpdateShardCount (:meth:`Stream.update_shard_count`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``TargetShardCount`` and ``ScalingType``
        (default ``UNIFORM_SCALING``).

    Returns
    -------
    dict
        ``{"StreamName", "StreamARN", "CurrentShardCount", "TargetShardCount"}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    SerializationException, ValidationException
        A target that is not a positive int, or an ON_DEMAND stream.
    LimitExceededException
        A target outside half to double the open shards, or past a shard limit.
    """
    return named_stream(engine, p).update_shard_count(
        p.get("TargetShardCount"), p.get("ScalingType", "UNIFORM_SCALING")
    )


def increase_stream_retention_period(engine, p: dict) -> dict:
    """IncreaseStreamRetentionPeriod (:meth:`Stream.increase_stream_retention_period`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``RetentionPeriodHours``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException
        Hours out of range, or below the current retention period.
    """
    return named_stream(engine, p).increase_stream_retention_period(p.get("RetentionPeriodHours"))


def decrease_stream_retention_period(engine, p: dict) -> dict:
    """DecreaseStreamRetentionPeriod (:meth:`Stream.decrease_stream_retention_period`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``RetentionPeriodHours``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException
        Hours out of range, or above the current retention period.
    """
    return named_stream(engine, p).decrease_stream_retention_period(p.get("RetentionPeriodHours"))


def update_stream_mode(engine, p: dict) -> dict:
    """UpdateStreamMode (:meth:`Engine.update_stream_mode`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamARN`` and ``StreamModeDetails`` (``{"StreamMode": ...}``).

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException
        PROVISIONED asked of a stream with the AUTO record distribution strategy.
    LimitExceededException
        The stream switched capacity mode twice in the last 24 hours.
    """
    return engine.update_stream_mode(p.get("StreamARN"), p.get("StreamModeDetails") or {})


def update_stream_record_distribution_strategy(engine, p: dict) -> dict:
    """UpdateStreamRecordDistributionStrategy (:meth:`Stream.update_record_distribution_strategy`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamARN`` and ``RecordDistributionStrategy``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException
        AUTO asked of a stream that is not ON_DEMAND.
    """
    return engine.update_stream_record_distribution_strategy(p.get("StreamARN"), p.get("RecordDistributionStrategy"))


def update_stream_warm_throughput(engine, p: dict) -> dict:
    """UpdateStreamWarmThroughput (:meth:`Stream.update_stream_warm_throughput`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``WarmThroughputMiBps``.

    Returns
    -------
    dict
        ``{"StreamARN", "StreamName", "WarmThroughput": {"TargetMiBps", "CurrentMiBps"}}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    SerializationException, ValidationException
        Not an int, or a stream that is not ON_DEMAND.
    InvalidArgumentException
        The account's minimum throughput billing commitment is not enabled.
    """
    return named_stream(engine, p).update_stream_warm_throughput(p.get("WarmThroughputMiBps"))


def update_max_record_size(engine, p: dict) -> dict:
    """UpdateMaxRecordSize (:meth:`Stream.update_max_record_size`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamARN`` and ``MaxRecordSizeInKiB``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    ValidationException, InvalidArgumentException
        A size outside 1024..10240, or above what the stream's shards can take.
    """
    return engine.update_max_record_size(p.get("StreamARN"), p.get("MaxRecordSizeInKiB"))


def describe_limits(engine, p: dict) -> dict:
    """DescribeLimits (:meth:`Engine.describe_limits`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Not read (the operation has no input members).

    Returns
    -------
    dict
        ``{"ShardLimit", "OpenShardCount", "OnDemandStreamCount", "OnDemandStreamCountLimit"}``.
    """
    return engine.describe_limits()
