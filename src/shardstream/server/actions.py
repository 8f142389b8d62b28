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
an event stream (:mod:`.eventstream`); GetRecords may return the JSON body
itself (:class:`~.codec.EncodedJSON`).

The actions live in :mod:`.stream_actions` (streams, shards, retention,
modes, limits), :mod:`.settings_actions` (tags, encryption, monitoring,
resource policies, account settings), :mod:`.record_actions` (records,
consumers, SubscribeToShard) and :mod:`.queue_actions` (queues); this module imports them, so
``actions.put_record`` and the rest are still here.
"""

from __future__ import annotations

from ..errors import InvalidArgumentException, KinesisError
from . import model as _service_model
from .queue_actions import (
    LONG_POLLS,
    acknowledge_dead_letter_queue_records,
    acknowledge_queue_records,
    create_queue,
    delete_queue,
    describe_queue,
    list_queues,
    long_poll_now,
    receive_dead_letter_queue_records,
    receive_queue_records,
    restore_dead_letter_queue_records,
    update_dead_letter_queue_records_visibility,
    update_queue,
    update_queue_records_visibility,
)
from .record_actions import (
    deregister_stream_consumer,
    describe_stream_consumer,
    get_records,
    get_shard_iterator,
    list_stream_consumers,
    put_record,
    put_records,
    register_stream_consumer,
    subscribe_to_shard,
)
from .settings_actions import (
    add_tags_to_stream,
    delete_resource_policy,
    describe_account_settings,
    disable_enhanced_monitoring,
    enable_enhanced_monitoring,
    get_resource_policy,
    list_tags_for_resource,
    list_tags_for_stream,
    put_resource_policy,
    remove_tags_from_stream,
    start_stream_encryption,
    stop_stream_encryption,
    tag_resource,
    untag_resource,
    update_account_settings,
)
from .stream_actions import (
    create_stream,
    decrease_stream_retention_period,
    delete_stream,
    describe_limits,
    describe_stream,
    describe_stream_summary,
    increase_stream_retention_period,
    list_shards,
    list_streams,
    merge_shards,
    split_shard,
    update_max_record_size,
    update_shard_count,
    update_stream_mode,
    update_stream_record_distribution_strategy,
    update_stream_warm_throughput,
)

__all__ = ["ACTIONS", "LONG_POLLS", "OPERATIONS", "UNSUPPORTED", "dispatch", "long_poll_now", "unsupported"]

#: Every operation of the Kinesis 2013-12-02 API (the vendored service model, :mod:`.model`).
OPERATIONS: frozenset[str] = _service_model.operations()


def partition_key_required(engine, operation: str, p: dict) -> bool:
    """Whether ``operation``'s records must carry a PartitionKey, for request validation.

    Parameters
    ----------
    engine : Engine
    operation : str
    p : dict
        The request body as parsed, not yet validated (reads ``StreamName`` / ``StreamARN``).

    Returns
    -------
    bool
        True (the model's rule before AUTO distribution, and its error texts)
        except for PutRecord/PutRecords naming an existing stream whose record
        distribution is AUTO.  Never raises: a stream that cannot be found
        gives True, and the action words the error.
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
    "CreateQueue": create_queue,
    "DescribeQueue": describe_queue,
    "ListQueues": list_queues,
    "UpdateQueue": update_queue,
    "DeleteQueue": delete_queue,
    "ReceiveQueueRecords": receive_queue_records,
    "AcknowledgeQueueRecords": acknowledge_queue_records,
    "UpdateQueueRecordsVisibility": update_queue_records_visibility,
    "ReceiveDeadLetterQueueRecords": receive_dead_letter_queue_records,
    "AcknowledgeDeadLetterQueueRecords": acknowledge_dead_letter_queue_records,
    "UpdateDeadLetterQueueRecordsVisibility": update_dead_letter_queue_records_visibility,
    "RestoreDeadLetterQueueRecords": restore_dead_letter_queue_records,
}

#: Operations of the API that shardstream does not implement yet (answered with InvalidArgumentException).
UNSUPPORTED: frozenset[str] = OPERATIONS - ACTIONS.keys()


def unsupported(operation: str) -> InvalidArgumentException:
    """The error for an operation of the model that shardstream does not implement.

    Parameters
    ----------
    operation : str

    Returns
    -------
    InvalidArgumentException
        ``"<operation> is not supported by shardstream yet"`` (returned, not raised).
    """
    return InvalidArgumentException(f"{operation} is not supported by shardstream yet")


def dispatch(engine, operation: str, params: dict, *, json_wire: bool = False):
    """Run ``operation`` on ``engine``; InvalidArgumentException for the unsupported ones.

    Parameters
    ----------
    engine : Engine
    operation : str
        A Kinesis operation name (``"PutRecord"``, ...).
    params : dict
        The validated, decoded request (:func:`.shapes.validate`, :func:`.codec.decode_params`).
    json_wire : bool
        The response goes out as JSON, so GetRecords (and SubscribeToShard's
        events) may hand back records already in wire form (base64 text,
        epoch seconds).

    Returns
    -------
    dict, EncodedJSON or Subscription
        The response dict; for GetRecords on the JSON wire possibly the
        encoded body (:class:`~.codec.EncodedJSON`); for SubscribeToShard a
        :class:`~shardstream.fanout.Subscription`.

    Raises
    ------
    InvalidArgumentException
        ``operation`` is in :data:`UNSUPPORTED` (or not an operation at all).
    KinesisError
        Whatever the action raises (see each action's docstring).
    """
    action = ACTIONS.get(operation)
    if action is None:
        raise unsupported(operation)
    if operation == "GetRecords":
        return get_records(engine, params, json_wire=json_wire)
    if operation == "SubscribeToShard":
        return subscribe_to_shard(engine, params, json_wire=json_wire)
    return action(engine, params)
