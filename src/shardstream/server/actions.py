"""Kinesis operations mapped onto the engine's public API.

``ACTIONS`` maps an operation name to ``fn(engine, params) -> dict`` where
``params`` is the decoded request (blobs as bytes, timestamps as datetimes).
``OPERATIONS`` is every operation in the vendored service model (:mod:`.model`);
those not in ``ACTIONS`` are answered by :func:`unsupported` with an
InvalidArgumentException -- shardstream never fakes a success.

``StreamId`` (reserved by Kinesis, "not implemented") is accepted where the
model has it: the shape layer validates it and the actions ignore it.
``DryRun`` on PutRecord, PutRecords, GetRecords, GetShardIterator and
SubscribeToShard runs the call's checks and answers DryRunOperationException.

SubscribeToShard is the one action that returns no dict: it returns a
:class:`~shardstream.fanout.Subscription`, which the application streams as
an event stream (:mod:`.eventstream`).
"""

from __future__ import annotations

from ..errors import InvalidArgumentException, KinesisError
from . import codec
from . import model as _service_model

__all__ = ["ACTIONS", "OPERATIONS", "UNSUPPORTED", "dispatch", "unsupported"]

#: Every operation of the Kinesis 2013-12-02 API (the vendored service model, :mod:`.model`).
OPERATIONS: frozenset[str] = _service_model.operations()


def partition_key_required(engine, operation: str, p: dict) -> bool:
    """Whether ``operation``'s records must carry a PartitionKey, for request validation.

    True (the model's rule before AUTO distribution, and its error texts) except
    for PutRecord/PutRecords naming an existing stream whose record
    distribution is AUTO.
    """
    if operation not in ("PutRecord", "PutRecords"):
        return True
    name, arn = p.get("StreamName"), p.get("StreamARN")
    if not all(isinstance(v, (str, type(None))) for v in (name, arn)) or name is arn is None:
        return True  # shape validation words what is wrong
    try:
        return engine.stream(name, stream_arn=arn).record_distribution != "AUTO"
    except KinesisError:
        return True


def _stream(engine, p: dict):
    """The stream a request names by StreamName and/or StreamARN."""
    return engine.stream(p.get("StreamName"), stream_arn=p.get("StreamARN"))


def create_stream(engine, p: dict) -> dict:
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
    return engine.delete_stream(
        p.get("StreamName"),
        stream_arn=p.get("StreamARN"),
        enforce_consumer_deletion=bool(p.get("EnforceConsumerDeletion", False)),
    )


def describe_stream(engine, p: dict) -> dict:
    return _stream(engine, p).describe(p.get("Limit"), p.get("ExclusiveStartShardId"))


def describe_stream_summary(engine, p: dict) -> dict:
    return engine.describe_stream_summary(p.get("StreamName"), stream_arn=p.get("StreamARN"))


def list_streams(engine, p: dict) -> dict:
    return engine.list_streams(p.get("Limit"), p.get("ExclusiveStartStreamName"), p.get("NextToken"))


def list_shards(engine, p: dict) -> dict:
    return engine.list_shards(
        p.get("StreamName"),
        p.get("NextToken"),
        p.get("ExclusiveStartShardId"),
        p.get("MaxResults"),
        stream_arn=p.get("StreamARN"),
        stream_creation_timestamp=p.get("StreamCreationTimestamp"),
        shard_filter=p.get("ShardFilter"),
    )


def _with_encryption(stream, out: dict) -> dict:
    """A put response with ``EncryptionType`` when the stream encrypts (spec 1.5)."""
    if stream.encrypted:
        out["EncryptionType"] = stream.encryption_type
    return out


def _dry_run(p: dict) -> bool:
    return p.get("DryRun") is True


def put_record(engine, p: dict) -> dict:
    stream = _stream(engine, p)
    # Without a PartitionKey a USER_PARTITION_KEY stream raises the model's old "must not be null".
    out = stream.put_record(
        p.get("Data"),
        p.get("PartitionKey"),
        p.get("ExplicitHashKey"),
        p.get("SequenceNumberForOrdering"),
        dry_run=_dry_run(p),
    )
    return _with_encryption(stream, out)


def put_records(engine, p: dict) -> dict:
    stream = _stream(engine, p)
    return _with_encryption(stream, stream.put_records(p.get("Records"), dry_run=_dry_run(p)))


def get_shard_iterator(engine, p: dict) -> dict:
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
    """GetRecords; for the JSON wire, the body itself (:class:`~.codec.EncodedJSON`) written from Arrow."""
    iterator = p.get("ShardIterator")
    if not isinstance(iterator, str):
        raise InvalidArgumentException("Invalid ShardIterator.")
    stream = engine.iterator_stream(iterator)
    dry_run = _dry_run(p)
    if json_wire and not dry_run and not stream.encrypted:
        body = codec.get_records_json(stream.get_record_batch(iterator, p.get("Limit")))
        if body is not None:
            return body
    out = stream.get_records(iterator, p.get("Limit"), wire=json_wire, dry_run=dry_run)
    if stream.encrypted:
        for record in out["Records"]:
            record["EncryptionType"] = stream.encryption_type
    return out


def split_shard(engine, p: dict) -> dict:
    return engine.split_shard(
        p.get("StreamName"), p.get("ShardToSplit"), p.get("NewStartingHashKey"), stream_arn=p.get("StreamARN")
    )


def merge_shards(engine, p: dict) -> dict:
    return engine.merge_shards(
        p.get("StreamName"), p.get("ShardToMerge"), p.get("AdjacentShardToMerge"), stream_arn=p.get("StreamARN")
    )


def update_shard_count(engine, p: dict) -> dict:
    return _stream(engine, p).update_shard_count(p.get("TargetShardCount"), p.get("ScalingType", "UNIFORM_SCALING"))


def increase_stream_retention_period(engine, p: dict) -> dict:
    return _stream(engine, p).increase_stream_retention_period(p.get("RetentionPeriodHours"))


def decrease_stream_retention_period(engine, p: dict) -> dict:
    return _stream(engine, p).decrease_stream_retention_period(p.get("RetentionPeriodHours"))


def add_tags_to_stream(engine, p: dict) -> dict:
    return _stream(engine, p).add_tags_to_stream(p.get("Tags"))


def remove_tags_from_stream(engine, p: dict) -> dict:
    return _stream(engine, p).remove_tags_from_stream(p.get("TagKeys"))


def list_tags_for_stream(engine, p: dict) -> dict:
    return _stream(engine, p).list_tags_for_stream(p.get("ExclusiveStartTagKey"), p.get("Limit"))


def update_stream_record_distribution_strategy(engine, p: dict) -> dict:
    return engine.update_stream_record_distribution_strategy(p.get("StreamARN"), p.get("RecordDistributionStrategy"))


def update_stream_mode(engine, p: dict) -> dict:
    return engine.update_stream_mode(p.get("StreamARN"), p.get("StreamModeDetails") or {})


def describe_limits(engine, p: dict) -> dict:
    return engine.describe_limits()


def update_stream_warm_throughput(engine, p: dict) -> dict:
    return _stream(engine, p).update_stream_warm_throughput(p.get("WarmThroughputMiBps"))


def update_max_record_size(engine, p: dict) -> dict:
    return engine.update_max_record_size(p.get("StreamARN"), p.get("MaxRecordSizeInKiB"))


def start_stream_encryption(engine, p: dict) -> dict:
    return _stream(engine, p).start_stream_encryption(p.get("EncryptionType"), p.get("KeyId"))


def stop_stream_encryption(engine, p: dict) -> dict:
    return _stream(engine, p).stop_stream_encryption(p.get("EncryptionType"), p.get("KeyId"))


def enable_enhanced_monitoring(engine, p: dict) -> dict:
    return _stream(engine, p).enable_enhanced_monitoring(p.get("ShardLevelMetrics"))


def disable_enhanced_monitoring(engine, p: dict) -> dict:
    return _stream(engine, p).disable_enhanced_monitoring(p.get("ShardLevelMetrics"))


def tag_resource(engine, p: dict) -> dict:
    return engine.tag_resource(p.get("ResourceARN"), p.get("Tags"))


def untag_resource(engine, p: dict) -> dict:
    return engine.untag_resource(p.get("ResourceARN"), p.get("TagKeys"))


def list_tags_for_resource(engine, p: dict) -> dict:
    return engine.list_tags_for_resource(p.get("ResourceARN"))


def put_resource_policy(engine, p: dict) -> dict:
    return engine.put_resource_policy(p.get("ResourceARN"), p.get("Policy"))


def get_resource_policy(engine, p: dict) -> dict:
    return engine.get_resource_policy(p.get("ResourceARN"))


def delete_resource_policy(engine, p: dict) -> dict:
    return engine.delete_resource_policy(p.get("ResourceARN"))


def register_stream_consumer(engine, p: dict) -> dict:
    return engine.register_stream_consumer(p.get("StreamARN"), p.get("ConsumerName"), p.get("Tags"))


def describe_stream_consumer(engine, p: dict) -> dict:
    return engine.describe_stream_consumer(p.get("StreamARN"), p.get("ConsumerName"), p.get("ConsumerARN"))


def list_stream_consumers(engine, p: dict) -> dict:
    return engine.list_stream_consumers(
        p.get("StreamARN"),
        p.get("NextToken"),
        p.get("MaxResults"),
        stream_creation_timestamp=p.get("StreamCreationTimestamp"),
    )


def deregister_stream_consumer(engine, p: dict) -> dict:
    return engine.deregister_stream_consumer(p.get("StreamARN"), p.get("ConsumerName"), p.get("ConsumerARN"))


def subscribe_to_shard(engine, p: dict, *, json_wire: bool = False):
    """A :class:`~shardstream.fanout.Subscription` (records in JSON wire form when ``json_wire``)."""
    return engine.subscribe_to_shard(
        p.get("ConsumerARN"), p.get("ShardId"), p.get("StartingPosition"), wire=json_wire, dry_run=_dry_run(p)
    )


def describe_account_settings(engine, p: dict) -> dict:
    return engine.describe_account_settings()


def update_account_settings(engine, p: dict) -> dict:
    return engine.update_account_settings(p.get("MinimumThroughputBillingCommitment"))


ACTIONS = {
    "UpdateStreamWarmThroughput": update_stream_warm_throughput,
    "CreateStream": create_stream,
    "DeleteStream": delete_stream,
    "DescribeStream": describe_stream,
    "DescribeStreamSummary": describe_stream_summary,
    "ListStreams": list_streams,
    "ListShards": list_shards,
    "PutRecord": put_record,
    "PutRecords": put_records,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
    "SplitShard": split_shard,
    "MergeShards": merge_shards,
    "UpdateShardCount": update_shard_count,
    "IncreaseStreamRetentionPeriod": increase_stream_retention_period,
    "DecreaseStreamRetentionPeriod": decrease_stream_retention_period,
    "AddTagsToStream": add_tags_to_stream,
    "RemoveTagsFromStream": remove_tags_from_stream,
    "ListTagsForStream": list_tags_for_stream,
    "UpdateStreamMode": update_stream_mode,
    "UpdateStreamRecordDistributionStrategy": update_stream_record_distribution_strategy,
    "DescribeLimits": describe_limits,
    "UpdateMaxRecordSize": update_max_record_size,
    "StartStreamEncryption": start_stream_encryption,
    "StopStreamEncryption": stop_stream_encryption,
    "EnableEnhancedMonitoring": enable_enhanced_monitoring,
    "DisableEnhancedMonitoring": disable_enhanced_monitoring,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "PutResourcePolicy": put_resource_policy,
    "GetResourcePolicy": get_resource_policy,
    "DeleteResourcePolicy": delete_resource_policy,
    "DescribeAccountSettings": describe_account_settings,
    "UpdateAccountSettings": update_account_settings,
    "RegisterStreamConsumer": register_stream_consumer,
    "DescribeStreamConsumer": describe_stream_consumer,
    "ListStreamConsumers": list_stream_consumers,
    "DeregisterStreamConsumer": deregister_stream_consumer,
    "SubscribeToShard": subscribe_to_shard,
}

#: Operations of the API that shardstream does not implement yet (answered with InvalidArgumentException).
UNSUPPORTED: frozenset[str] = OPERATIONS - ACTIONS.keys()


def unsupported(operation: str) -> InvalidArgumentException:
    return InvalidArgumentException(f"{operation} is not supported by shardstream yet")


def dispatch(engine, operation: str, params: dict, *, json_wire: bool = False):
    """Run ``operation`` on ``engine``; InvalidArgumentException for the unsupported ones.

    ``json_wire``: the response goes out as JSON, so GetRecords (and
    SubscribeToShard's events) may hand back records already in wire form
    (base64 text, epoch seconds).  Returns the response dict, or for
    SubscribeToShard a :class:`~shardstream.fanout.Subscription`.
    """
    action = ACTIONS.get(operation)
    if action is None:
        raise unsupported(operation)
    if operation == "GetRecords":
        return get_records(engine, params, json_wire=json_wire)
    if operation == "SubscribeToShard":
        return subscribe_to_shard(engine, params, json_wire=json_wire)
    return action(engine, params)
