"""Authorization of the resource a request acts on (``--auth`` key tables, spec 12).

A key limited to stream A signs requests that name stream B through the member
each action reads (``StreamARN``, ``ConsumerARN``, ``ResourceARN``, a shard
iterator, a ListShards NextToken), with decoys naming A in members the
operation ignores or ranks lower.  Every one must be AccessDeniedException and
leave B as it was (checked with an unrestricted key); the same key's honest
requests on A go through.  The operations come from the vendored model, so an
operation that gains a resource member cannot be left out.
"""

from __future__ import annotations

import functools
import itertools
import json
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import shardstream
from shardstream.server import model, resources
from shardstream.server.actions import ACTIONS, UNSUPPORTED
from shardstream.testing import start_server

from .test_auth import raw, signed

JSON = "application/x-amz-json-1.1"
TARGET = "Kinesis_20131202."
ACCOUNT = "000000000000"
KEYS = {
    "keys": {
        "AKIDADMIN": {"secret": "admin-secret"},
        "AKIDA": {"secret": "a-secret", "streams": ["A"]},
    }
}
SHARD0 = "shardId-000000000000"


def arn(name: str, region: str = "us-east-1", account: str = ACCOUNT) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{name}"


def client(url, akid, secret):
    return boto3.session.Session().client(
        "kinesis",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=10),
    )


def post(url, operation, params, akid="AKIDA", secret="a-secret"):
    """A JSON request of any members, signed by botocore's SigV4Auth: (status, parsed body)."""
    return raw(url, operation, params, signed(url, operation, params, akid, secret))


# -- the attacks: key A, naming B by the member the action reads ---------------------------

_BY_NAME_OR_ARN = {  # operations taking StreamName and StreamARN: the extra members of each
    "AddTagsToStream": {"Tags": {"x": "1"}},
    "DecreaseStreamRetentionPeriod": {"RetentionPeriodHours": 24},
    "DeleteStream": {},
    "DescribeStream": {},
    "DescribeStreamSummary": {},
    "DisableEnhancedMonitoring": {"ShardLevelMetrics": ["ALL"]},
    "EnableEnhancedMonitoring": {"ShardLevelMetrics": ["ALL"]},
    "GetShardIterator": {"ShardId": SHARD0, "ShardIteratorType": "TRIM_HORIZON"},
    "IncreaseStreamRetentionPeriod": {"RetentionPeriodHours": 48},
    "ListShards": {},
    "ListTagsForStream": {},
    "MergeShards": {"ShardToMerge": SHARD0, "AdjacentShardToMerge": "shardId-000000000001"},
    "PutRecord": {"Data": "eA==", "PartitionKey": "k"},
    "PutRecords": {"Records": [{"Data": "eA==", "PartitionKey": "k"}]},
    "RemoveTagsFromStream": {"TagKeys": ["owner"]},
    "SplitShard": {"ShardToSplit": SHARD0, "NewStartingHashKey": "1000"},
    "StartStreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
    "StopStreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
    "UpdateShardCount": {"TargetShardCount": 4, "ScalingType": "UNIFORM_SCALING"},
    "UpdateStreamWarmThroughput": {"WarmThroughputMiBps": 10},
}
_BY_ARN_ONLY = {  # operations taking StreamARN and no StreamName
    "UpdateStreamMode": {"StreamModeDetails": {"StreamMode": "ON_DEMAND"}},
    "UpdateMaxRecordSize": {"MaxRecordSizeInKiB": 2048},
    "UpdateStreamRecordDistributionStrategy": {"RecordDistributionStrategy": "AUTO"},
    "RegisterStreamConsumer": {"ConsumerName": "evil"},
    "ListStreamConsumers": {},
}
_BY_RESOURCE_ARN = {
    "TagResource": {"Tags": {"x": "1"}},
    "UntagResource": {"TagKeys": ["owner"]},
    "ListTagsForResource": {},
    "PutResourcePolicy": {"Policy": '{"Version": "2012-10-17", "Statement": []}'},
    "GetResourcePolicy": {},
    "DeleteResourcePolicy": {},
}


_BY_QUEUE_ARN = {  # the queue operations: a queue of B by its ARN (Entries filled in by attacks)
    "DescribeQueue": {},
    "UpdateQueue": {"QueueAttributes": {"VisibilityTimeoutSeconds": 1}},
    "DeleteQueue": {},
    "ReceiveQueueRecords": {"WaitTimeSeconds": 1},
    "ReceiveDeadLetterQueueRecords": {"WaitTimeSeconds": 1},
    "AcknowledgeQueueRecords": {},
    "UpdateQueueRecordsVisibility": {},
    "AcknowledgeDeadLetterQueueRecords": {},
    "UpdateDeadLetterQueueRecordsVisibility": {},
    "RestoreDeadLetterQueueRecords": {},
}


def attacks(w) -> dict[str, list[dict]]:
    """Per operation, requests of key A that name B through the member the action reads (``w``: the world)."""
    out: dict[str, list[dict]] = {}
    for op, extra in _BY_NAME_OR_ARN.items():
        out[op] = [
            {**extra, "StreamName": "A", "StreamARN": arn("B")},  # the action reads the ARN
            {**extra, "StreamName": "B"},
            {**extra, "StreamARN": arn("B")},
            {**extra, "StreamARN": arn("B", region="eu-west-1")},  # another region's B: still B
            {**extra, "StreamARN": arn("B", account="111111111111")},  # another account's B: still B
        ]
    out["ListShards"].append({"NextToken": w.shard_token_b})
    out["ListShards"].append({"NextToken": w.shard_token_b, "StreamARN": None})
    for op, extra in _BY_ARN_ONLY.items():
        out[op] = [{**extra, "StreamName": "A", "StreamARN": arn("B")}, {**extra, "StreamARN": arn("B")}]
    out["ListStreamConsumers"].append({"StreamARN": arn("B"), "NextToken": w.consumer_token_b, "StreamName": "A"})
    for op, extra in _BY_RESOURCE_ARN.items():
        out[op] = [
            {**extra, "StreamName": "A", "StreamARN": arn("A"), "ResourceARN": arn("B")},
            {**extra, "StreamName": "A", "ResourceARN": w.consumer_b},
            {**extra, "StreamARN": arn("A"), "ResourceARN": w.queue_b},
        ]
    for op in ("DescribeStreamConsumer", "DeregisterStreamConsumer"):
        out[op] = [
            {"StreamName": "A", "ConsumerARN": w.consumer_b},
            {"StreamName": "A", "StreamARN": arn("B"), "ConsumerName": "cb"},
        ]
    out["SubscribeToShard"] = [
        {"StreamName": "A", "StreamARN": arn("A"), "ConsumerARN": w.consumer_b, "ShardId": SHARD0,
         "StartingPosition": {"Type": "TRIM_HORIZON"}},
        {"ConsumerARN": w.consumer_b, "ShardId": SHARD0, "StartingPosition": {"Type": "TRIM_HORIZON"}},
    ]  # fmt: skip
    out["GetRecords"] = [
        {"ShardIterator": w.iterator_b, "StreamARN": arn("A")},  # the action reads by iterator alone
        {"ShardIterator": w.iterator_b, "StreamName": "A"},
        {"ShardIterator": w.iterator_b},  # an iterator another key minted for B
    ]
    out["CreateStream"] = [{"StreamName": "C", "ShardCount": 1}]
    handle = [{"ReceiptHandle": "h"}]
    for op, extra in _BY_QUEUE_ARN.items():
        out[op] = [{**extra, "StreamName": "A", "StreamARN": arn("A"), "QueueARN": w.queue_b}]
    for op in ("AcknowledgeQueueRecords", "AcknowledgeDeadLetterQueueRecords", "RestoreDeadLetterQueueRecords"):
        out[op][0]["Entries"] = handle
    for op in ("UpdateQueueRecordsVisibility", "UpdateDeadLetterQueueRecordsVisibility"):
        out[op][0]["Entries"] = [{**handle[0], "VisibilityTimeoutSeconds": 0}]
    return out


ATTACKED = sorted(
    attacks(SimpleNamespace(shard_token_b="", consumer_token_b="", consumer_b="", iterator_b="", queue_b=""))
)


@pytest.fixture(scope="module")
def world():
    with start_server(shardstream.Engine(), auth=KEYS) as srv:
        admin = client(srv.url, "AKIDADMIN", "admin-secret")
        for name in ("A", "B"):
            admin.create_stream(StreamName=name, ShardCount=2)
            admin.put_record(StreamName=name, Data=b"mine", PartitionKey="k")
            admin.add_tags_to_stream(StreamName=name, Tags={"owner": name})
            admin.put_resource_policy(ResourceARN=arn(name), Policy=json.dumps({"owner": name}))
        consumer_b = admin.register_stream_consumer(StreamARN=arn("B"), ConsumerName="cb")["Consumer"]["ConsumerARN"]
        admin.tag_resource(ResourceARN=consumer_b, Tags={"owner": "B"})
        admin.register_stream_consumer(StreamARN=arn("B"), ConsumerName="cb2")
        consumer_token_b = admin.list_stream_consumers(StreamARN=arn("B"), MaxResults=1)["NextToken"]
        iterator_b = admin.get_shard_iterator(StreamName="B", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
        shard_token_b = admin.list_shards(StreamName="B", MaxResults=1)["NextToken"]
        admin.update_stream_mode(StreamARN=arn("B"), StreamModeDetails={"StreamMode": "ON_DEMAND"})
        config = [{"StreamARN": arn("B"), "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        queue_b = admin.create_queue(QueueName="qb", StreamConfigurationList=config)["QueueDescription"]["QueueARN"]
        yield SimpleNamespace(
            url=srv.url,
            engine=srv.engine,
            admin=admin,
            consumer_b=consumer_b,
            iterator_b=iterator_b["ShardIterator"],
            shard_token_b=shard_token_b,
            consumer_token_b=consumer_token_b,
            queue_b=queue_b,
        )


def state_of_b(w) -> dict:
    """Everything about B an unrestricted key can see, records included."""
    admin = w.admin
    summary = admin.describe_stream_summary(StreamName="B")["StreamDescriptionSummary"]
    consumers = admin.list_stream_consumers(StreamARN=arn("B"))["Consumers"]
    records = []
    for shard in admin.list_shards(StreamName="B")["Shards"]:
        it = admin.get_shard_iterator(StreamName="B", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        records += [r["Data"] for r in admin.get_records(ShardIterator=it["ShardIterator"])["Records"]]
    return {
        "streams": admin.list_streams()["StreamNames"],
        "summary": summary,
        "shards": admin.list_shards(StreamName="B")["Shards"],
        "tags": admin.list_tags_for_stream(StreamName="B")["Tags"],
        "policy": admin.get_resource_policy(ResourceARN=arn("B"))["Policy"],
        "consumers": consumers,
        "consumer_tags": [admin.list_tags_for_resource(ResourceARN=c["ConsumerARN"])["Tags"] for c in consumers],
        "records": records,
        "queues": [
            admin.describe_queue(QueueARN=q["QueueARN"])["QueueDescription"]
            for q in admin.list_queues()["QueueSummaries"]
        ],
    }


def test_every_operation_naming_a_resource_is_attacked():
    shapes = model.load()["shapes"]
    naming = set()
    for op, spec in model.load()["operations"].items():
        members = set(shapes[spec["input"]["shape"]]["members"]) if "input" in spec else set()
        if members & {"StreamName", "StreamARN", "ConsumerARN", "ResourceARN", "ShardIterator"} or any(
            m.endswith("ARN") for m in members
        ):
            naming.add(op)
    served = naming & ACTIONS.keys()
    assert served == set(ATTACKED), "an operation naming a resource has no authorization test (or a stale one)"
    # the rest (channels) are refused outright; serving one needs its resources authorized and tested
    assert naming - served <= UNSUPPORTED
    for op in naming - served:
        assert not set(resources.resource_members(op)), op
    for op in served:  # and each is resolved through a member the model gives it
        assert resources.resource_members(op), op


@pytest.mark.parametrize("operation", ATTACKED)
def test_key_limited_to_a_cannot_touch_b(world, operation):
    before = state_of_b(world)
    for params in attacks(world)[operation]:
        status, body = post(world.url, operation, params)
        assert (status, body.get("__type")) == (400, "AccessDeniedException"), (params, body)
        prefix = (
            f"User: arn:aws:iam::{ACCOUNT}:user/AKIDA is not authorized to perform: kinesis:{operation} on resource: "
        )
        assert body["message"].startswith(prefix), body
        because = f" because no identity-based policy allows the kinesis:{operation} action"
        assert body["message"].endswith(because), body
        resource = body["message"][len(prefix) : -len(because)]
        named = params.get("ConsumerARN") or params.get("ResourceARN") or params.get("QueueARN")
        if operation == "CreateStream":
            assert resource == arn("C")
        elif named is not None:
            assert resource == named  # the resource as the request named it
        elif operation in ("GetRecords", "ListShards") and ("ShardIterator" in params or "NextToken" in params):
            assert resource == arn("B")  # the token's stream, not the decoy
        elif "StreamARN" in params:
            assert resource == params["StreamARN"]
        else:
            assert resource == arn("B")
    assert state_of_b(world) == before


def test_resolution_follows_the_action(world):
    engine = world.engine
    resolve = resources.resolve
    # members the operation does not take name nothing; the one it reads decides
    assert resolve(engine, "UpdateStreamMode", {"StreamName": "A", "StreamARN": arn("B")}).stream == "B"
    assert resolve(engine, "UpdateStreamMode", {"StreamName": "A"}).stream is None
    assert resolve(engine, "TagResource", {"StreamName": "A", "ResourceARN": world.consumer_b}).stream == "B"
    assert resolve(engine, "DescribeStreamConsumer", {"StreamARN": arn("A"), "ConsumerARN": world.consumer_b}) == (
        resources.Target("B", world.consumer_b, "ConsumerARN")
    )
    assert resolve(engine, "DescribeStreamConsumer", {"StreamARN": arn("A"), "ConsumerName": "cb"}).stream == "A"
    assert resolve(engine, "GetRecords", {"ShardIterator": world.iterator_b, "StreamARN": arn("A")}).stream == "B"
    assert resolve(engine, "ListShards", {"NextToken": world.shard_token_b}).stream == "B"
    assert resolve(engine, "PutRecord", {"StreamName": "A", "StreamARN": arn("B")}).stream == "B"
    assert resolve(engine, "PutRecord", {"StreamName": "A", "StreamARN": None}).stream == "A"
    # what the action cannot use names no stream (the action answers its own error)
    assert resolve(engine, "GetRecords", {"ShardIterator": "not-an-iterator"}).stream is None
    assert resolve(engine, "ListShards", {"NextToken": world.iterator_b}).stream is None
    assert resolve(engine, "PutRecord", {"StreamARN": 5, "StreamName": "A"}).stream is None
    assert resolve(engine, "PutRecord", {"StreamARN": "arn:aws:s3:::bucket", "StreamName": "A"}).stream is None
    assert resolve(engine, "ListStreams", {"StreamName": "B"}).stream is None
    # a stream ARN's name is everything after "stream/", as the engine reads it
    assert resolve(engine, "DescribeStream", {"StreamARN": arn("A/consumer/x:1")}).stream == "A/consumer/x:1"


def test_other_regions_and_accounts_are_the_actions_to_refuse(world):
    # a key limited to A is limited by name: A's ARN in another region or account passes authorization,
    # and the engine, which serves one region and account, refuses it
    for other in (arn("A", region="eu-west-1"), arn("A", account="111111111111")):
        status, body = post(
            world.url, "UpdateStreamMode", {"StreamARN": other, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}
        )
        assert (status, body) == (400, {"__type": "InvalidArgumentException", "message": f"Invalid StreamARN {other}"})
    consumer_elsewhere = world.consumer_b.replace(":us-east-1:", ":eu-west-1:").replace("stream/B/", "stream/A/")
    status, body = post(world.url, "DescribeStreamConsumer", {"ConsumerARN": consumer_elsewhere})
    assert (status, body["__type"]) == (400, "ResourceNotFoundException")


def test_undecodable_tokens_get_the_actions_errors(world):
    """For a key that may use every stream; a key limited to some is denied them (the next test)."""
    admin_post = functools.partial(post, akid="AKIDADMIN", secret="admin-secret")
    status, body = admin_post(world.url, "GetRecords", {"ShardIterator": "AAAA" * 40})
    assert (status, body) == (400, {"__type": "InvalidArgumentException", "message": "Invalid ShardIterator."})
    status, body = admin_post(world.url, "ListShards", {"NextToken": "AAAA" * 10})
    assert (status, body) == (400, {"__type": "InvalidArgumentException", "message": "Invalid NextToken."})
    # ListStreamConsumers' token names its stream too: the action refuses it with another StreamARN
    status, body = admin_post(
        world.url, "ListStreamConsumers", {"StreamARN": arn("A"), "NextToken": world.consumer_token_b}
    )
    assert (status, body) == (400, {"__type": "InvalidArgumentException", "message": "Invalid NextToken."})
    # another listing's token: refused by ListShards (it used to be a 500)
    token = world.admin.list_streams(Limit=1)["NextToken"]
    status, body = admin_post(world.url, "ListShards", {"NextToken": token})
    assert (status, body) == (400, {"__type": "InvalidArgumentException", "message": "Invalid NextToken."})


def test_resources_that_name_no_stream_are_denied_to_a_limited_key(world):
    # authorization fails closed: what names no stream the key may use is denied, whatever the action would say
    denied = (
        "User: arn:aws:iam::000000000000:user/AKIDA is not authorized to perform: kinesis:{0} on resource: {1} "
        "because no identity-based policy allows the kinesis:{0} action"
    )
    anywhere = "arn:aws:kinesis:us-east-1:000000000000:*"
    cases = [
        ("GetRecords", {"ShardIterator": "AAAA" * 40}, anywhere),
        ("ListShards", {"NextToken": "AAAA" * 10}, anywhere),
        ("ListShards", {"NextToken": world.iterator_b}, anywhere),
        (
            "UpdateStreamMode",
            {"StreamARN": "arn:aws:s3:::bucket", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}},
            "arn:aws:s3:::bucket",
        ),
        (
            "DescribeStreamConsumer",
            {"ConsumerARN": "arn:aws:kinesis:us-east-1:000000000000:nothing"},
            "arn:aws:kinesis:us-east-1:000000000000:nothing",
        ),
    ]
    for operation, params, resource in cases:
        status, body = post(world.url, operation, params)
        assert (status, body) == (
            400,
            {"__type": "AccessDeniedException", "message": denied.format(operation, resource)},
        )


def test_key_limited_to_a_uses_a(world):
    """The honest forms of the same operations, through boto3, with the limited key."""
    a = client(world.url, "AKIDA", "a-secret")
    A = arn("A")
    assert a.describe_stream(StreamName="A")["StreamDescription"]["StreamName"] == "A"
    assert a.describe_stream_summary(StreamARN=A)["StreamDescriptionSummary"]["StreamName"] == "A"
    token = a.list_shards(StreamName="A", MaxResults=1)["NextToken"]
    assert [s["ShardId"] for s in a.list_shards(NextToken=token)["Shards"]] == ["shardId-000000000001"]
    shard_k = a.put_record(StreamARN=A, Data=b"x", PartitionKey="k")["ShardId"]
    assert a.put_records(StreamName="A", Records=[{"Data": b"y", "PartitionKey": "k"}])["FailedRecordCount"] == 0
    it = a.get_shard_iterator(StreamName="A", StreamARN=A, ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")
    assert isinstance(a.get_records(ShardIterator=it["ShardIterator"])["Records"], list)
    a.add_tags_to_stream(StreamName="A", Tags={"t": "1"})
    assert {"Key": "t", "Value": "1"} in a.list_tags_for_stream(StreamARN=A)["Tags"]
    a.remove_tags_from_stream(StreamName="A", TagKeys=["t"])
    a.tag_resource(ResourceARN=A, Tags={"u": "2"})
    assert {"Key": "u", "Value": "2"} in a.list_tags_for_resource(ResourceARN=A)["Tags"]
    a.untag_resource(ResourceARN=A, TagKeys=["u"])
    a.put_resource_policy(ResourceARN=A, Policy="{}")
    assert a.get_resource_policy(ResourceARN=A)["Policy"] == "{}"
    a.delete_resource_policy(ResourceARN=A)
    a.increase_stream_retention_period(StreamName="A", RetentionPeriodHours=48)
    a.decrease_stream_retention_period(StreamARN=A, RetentionPeriodHours=24)
    a.enable_enhanced_monitoring(StreamName="A", ShardLevelMetrics=["IncomingBytes"])
    a.disable_enhanced_monitoring(StreamName="A", ShardLevelMetrics=["IncomingBytes"])
    a.start_stream_encryption(StreamName="A", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    a.stop_stream_encryption(StreamName="A", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    a.update_max_record_size(StreamARN=A, MaxRecordSizeInKiB=2048)
    consumer = a.register_stream_consumer(StreamARN=A, ConsumerName="ca")["Consumer"]["ConsumerARN"]
    assert a.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerName"] == "ca"
    assert a.describe_stream_consumer(StreamARN=A, ConsumerName="ca")["ConsumerDescription"]["ConsumerARN"] == consumer
    assert [c["ConsumerName"] for c in a.list_stream_consumers(StreamARN=A)["Consumers"]] == ["ca"]
    sub = a.subscribe_to_shard(ConsumerARN=consumer, ShardId=shard_k, StartingPosition={"Type": "TRIM_HORIZON"})
    events = sub["EventStream"]
    first = [e["SubscribeToShardEvent"]["Records"] for e in itertools.islice(events, 3)]
    events.close()
    assert [r["Data"] for r in sum(first, [])][:2] == [b"mine", b"x"]
    a.deregister_stream_consumer(ConsumerARN=consumer)
    a.split_shard(StreamName="A", ShardToSplit=SHARD0, NewStartingHashKey="1000")
    a.merge_shards(StreamName="A", ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000003")
    a.update_stream_mode(StreamARN=A, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    a.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})  # names no stream
    a.update_stream_warm_throughput(StreamARN=A, WarmThroughputMiBps=10)
    a.update_stream_record_distribution_strategy(StreamARN=A, RecordDistributionStrategy="AUTO")
    with pytest.raises(ClientError) as exc:  # authorized; A exists
        a.create_stream(StreamName="A", ShardCount=1)
    assert exc.value.response["Error"]["Code"] == "ResourceInUseException"
    a.delete_stream(StreamName="A")
    # keys limited to streams still call the operations that name none
    assert "B" in a.list_streams()["StreamNames"]
    assert a.describe_limits()["ShardLimit"] > 0


def test_a_key_limited_to_a_cannot_make_a_queue_on_b(world):
    before = state_of_b(world)
    for target in (arn("B"), arn("B", region="eu-west-1")):
        config = [{"StreamARN": target, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        status, body = post(world.url, "CreateQueue", {"QueueName": "evil", "StreamConfigurationList": config})
        assert (status, body.get("__type")) == (400, "AccessDeniedException"), body
        assert body["message"].endswith(
            f"kinesis:CreateQueue on resource: {target} because no identity-based policy allows the kinesis:CreateQueue action"
        )
    assert state_of_b(world) == before
