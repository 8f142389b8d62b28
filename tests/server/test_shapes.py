"""Request-shape validation (spec §1.2, §2.6, §2.7) against the vendored service model."""

from __future__ import annotations

import base64
import json
import re

import pytest

from shardstream.errors import SerializationException, ValidationException
from shardstream.server import model, shapes
from shardstream.server.shapes import validate

from .model_samples import sample as _sample

ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
CONSUMER_ARN = ARN + "/consumer/c:1700000000"
ENTRY = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"
# the model's own pattern text, which the message quotes as it is
HASH_KEY_RULE = "Member must satisfy regular expression pattern: " + model.load()["shapes"]["HashKey"]["pattern"]


def verr(operation, params) -> str:
    with pytest.raises(ValidationException) as info:
        validate(operation, params)
    return info.value.message


def serr(operation, params) -> str:
    with pytest.raises(SerializationException) as info:
        validate(operation, params)
    return info.value.message


def line(value, path, rule) -> str:
    return f"Value {value} at '{path}' failed to satisfy constraint: {rule}"


def one(value, path, rule) -> str:
    return "1 validation error detected: " + line(value, path, rule)


def b64(n: int) -> str:
    return base64.b64encode(b"x" * n).decode()


# --------------------------------------------------------------- model facts the tests rely on


def _shape(name):
    return shapes._model()["shapes"][name]


def test_model_constraints_that_differ_from_spec_examples():
    # The spec's examples come from kinesalite's (older) bounds; the installed model says:
    assert _shape("Data")["max"] == 10485760  # spec example: 1048576
    assert "max" not in _shape("PositiveIntegerObject")  # spec example: ShardCount <= 100000
    assert shapes.input_shape("CreateStream")["required"] == ["StreamName"]  # kl: ShardCount required too
    assert _shape("PutRecordsRequestEntryList")["max"] == 500


# --------------------------------------------------------------- spec §2.6 examples


def test_create_stream_empty_only_stream_name_required_in_model():
    # spec (kl, ShardCount required): 2 errors; the model only requires StreamName.
    assert verr("CreateStream", {}) == one("null", "streamName", "Member must not be null")


def test_create_stream_empty_name_and_zero_shards():
    assert verr("CreateStream", {"StreamName": "", "ShardCount": 0}) == (
        "3 validation errors detected: "
        + line("'0'", "shardCount", "Member must have value greater than or equal to 1")
        + "; "
        + line("''", "streamName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
        + "; "
        + line("''", "streamName", "Member must have length greater than or equal to 1")
    )


def test_create_stream_huge_shard_count_has_no_model_upper_bound():
    # spec (kl bound 100000) reports '2147483647' > 100000; the model has no max.
    validate("CreateStream", {"StreamName": "s", "ShardCount": 100000000000})
    # the clamp still shows in renderings: MaxRecordSizeInKiB has a max
    assert verr("CreateStream", {"StreamName": "s", "MaxRecordSizeInKiB": 100000000000}) == one(
        "'2147483647'", "maxRecordSizeInKiB", "Member must have value less than or equal to 10240"
    )


def test_put_record_data_too_long_uses_model_limit():
    # spec example: 1,048,577 bytes vs 1048576 (kl); the model allows 10485760.
    validate("PutRecord", {"StreamName": "s", "PartitionKey": "k", "Data": b64(1048577)})
    assert verr("PutRecord", {"StreamName": "s", "PartitionKey": "k", "Data": b64(10485761)}) == one(
        "'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]'",
        "data",
        "Member must have length less than or equal to 10485760",
    )


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5])
def test_blob_length_is_decoded_length(n):
    assert shapes._blob_length(b64(n)) == n
    assert shapes._plain(shapes._Blob(n), None) == f"java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]"


def test_put_record_partition_key_too_long():
    key = "k" * 257
    assert verr("PutRecord", {"StreamName": "s", "PartitionKey": key, "Data": ""}) == one(
        f"'{key}'", "partitionKey", "Member must have length less than or equal to 256"
    )


def test_put_record_empty_explicit_hash_key():
    assert verr("PutRecord", {"StreamName": "s", "PartitionKey": "k", "Data": "", "ExplicitHashKey": ""}) == one(
        "''", "explicitHashKey", HASH_KEY_RULE
    )


def test_put_records_entry_with_empty_key():
    params = {"StreamName": "s", "Records": [{"PartitionKey": "", "Data": "AAAA"}]}
    assert verr("PutRecords", params) == one(
        "''", "records.1.member.partitionKey", "Member must have length greater than or equal to 1"
    )


def test_put_records_empty_list():
    assert verr("PutRecords", {"StreamName": "s", "Records": []}) == one(
        "'[]'", "records", "Member must have length greater than or equal to 1"
    )


def test_put_records_501_entries_with_empty_keys_cut_at_10():
    records = [{"PartitionKey": "", "Data": ""} for _ in range(501)]
    msg = verr("PutRecords", {"StreamName": "s", "Records": records})
    listing = "[" + ", ".join([ENTRY] * 501) + "]"
    expected = "10 validation errors detected: " + "; ".join(
        [line(f"'{listing}'", "records", "Member must have length less than or equal to 500")]
        + [
            line("''", f"records.{i}.member.partitionKey", "Member must have length greater than or equal to 1")
            for i in range(1, 10)
        ]
    )
    assert msg == expected


def test_a_list_past_its_maximum_is_read_only_to_one_entry_past_it():
    """2.4 M entries cost what 501 do: the entries after the 501st are neither checked nor listed."""
    import time

    records = [{}] * 2_400_000 + [{"PartitionKey": 5}]  # the last one's type error is never reached
    start = time.perf_counter()
    msg = verr("PutRecords", {"StreamName": "s", "Records": records})
    assert time.perf_counter() - start < 0.5
    listing = "[" + ", ".join([ENTRY] * 501) + ", ...]"
    assert msg.startswith(
        "10 validation errors detected: "
        + line(f"'{listing}'", "records", "Member must have length less than or equal to 500")
        + "; "
        + line("null", "records.1.member.partitionKey", "Member must not be null")
    )
    tags = {f"k{i}": "v" for i in range(100_000)}
    msg = verr("AddTagsToStream", {"StreamName": "s", "Tags": tags})
    assert (
        "k200=v, ...}' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200" in msg
    )


def test_get_shard_iterator_empty_type():
    assert verr("GetShardIterator", {"StreamName": "s", "ShardId": "shardId-0", "ShardIteratorType": ""}) == one(
        "''",
        "shardIteratorType",
        "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
    )


def test_get_records_empty_iterator_and_zero_limit():
    assert verr("GetRecords", {"ShardIterator": "", "Limit": 0}) == (
        "2 validation errors detected: "
        + line("'0'", "limit", "Member must have value greater than or equal to 1")
        + "; "
        + line("''", "shardIterator", "Member must have length greater than or equal to 1")
    )


def test_get_records_limit_too_high():
    assert verr("GetRecords", {"ShardIterator": "x", "Limit": 100000}) == one(
        "'100000'", "limit", "Member must have value less than or equal to 10000"
    )


def test_list_streams_long_exclusive_start_name():
    name = "a" * 129
    assert verr("ListStreams", {"ExclusiveStartStreamName": name}) == one(
        f"'{name}'", "exclusiveStartStreamName", "Member must have length less than or equal to 128"
    )


# --------------------------------------------------------------- rendering, ordering, truncation


def test_float_integers_are_floored():
    assert verr("GetRecords", {"ShardIterator": "x", "Limit": 0.9}) == one(
        "'0'", "limit", "Member must have value greater than or equal to 1"
    )
    validate("GetRecords", {"ShardIterator": "x", "Limit": 1.5})


def test_integer_clamped_at_int_max():
    assert verr("GetRecords", {"ShardIterator": "x", "Limit": 10**30}) == one(
        "'2147483647'", "limit", "Member must have value less than or equal to 10000"
    )


def test_list_of_strings_rendering_and_member_paths():
    keys = [f"k{i}" for i in range(51)]
    assert verr("RemoveTagsFromStream", {"StreamName": "s", "TagKeys": keys}) == one(
        "'[" + ", ".join(keys) + "]'", "tagKeys", "Member must have length less than or equal to 50"
    )
    # a member of the wrong length is reported once, for the whole list (as Kinesis does)
    assert verr("RemoveTagsFromStream", {"StreamName": "s", "TagKeys": ["a", "", "k" * 129]}) == one(
        "'[a, , " + "k" * 129 + "]'",
        "tagKeys",
        "Member must satisfy constraint: [Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1]",
    )


def test_map_rendering_and_key_value_rules():
    assert verr("AddTagsToStream", {"StreamName": "s", "Tags": {}}) == one(
        "'{}'", "tags", "Member must have length greater than or equal to 1"
    )
    long_value = "v" * 257
    msg = verr("AddTagsToStream", {"StreamName": "s", "Tags": {"a": "1", "": long_value}})
    shown = "'{a=1, =" + long_value + "}'"
    assert msg == (
        "2 validation errors detected: "
        + line(
            shown,
            "tags",
            "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
            "Member must have length greater than or equal to 1]",
        )
        + "; "
        + line(
            shown,
            "tags",
            "Map value must satisfy constraint: [Member must have length less than or equal to 256, "
            "Member must have length greater than or equal to 0]",
        )
    )


def test_tags_then_stream_name_order():
    msg = verr("AddTagsToStream", {"StreamName": "", "Tags": {}})
    assert [m.split(" at ")[1].split("'")[1] for m in msg.split("; ")] == ["tags", "streamName", "streamName"]


@pytest.mark.parametrize(
    "operation, params, paths",
    [
        (
            "PutRecord",
            {
                "StreamName": "",
                "Data": b64(10485761),
                "PartitionKey": "",
                "ExplicitHashKey": "x",
                "SequenceNumberForOrdering": "x",
            },
            ["sequenceNumberForOrdering", "partitionKey", "explicitHashKey", "data", "streamName", "streamName"],
        ),
        (
            "GetShardIterator",
            {"StreamName": "", "ShardId": "", "ShardIteratorType": "x", "StartingSequenceNumber": "x"},
            ["shardId", "shardId", "shardIteratorType", "startingSequenceNumber", "streamName", "streamName"],
        ),
        (
            "DescribeStream",
            {"StreamName": "", "ExclusiveStartShardId": "", "Limit": 0},
            ["limit", "exclusiveStartShardId", "exclusiveStartShardId", "streamName", "streamName"],
        ),
        (
            "ListShards",
            {"StreamName": "", "MaxResults": 0, "NextToken": "", "ExclusiveStartShardId": "!"},
            ["exclusiveStartShardId", "maxResults", "nextToken", "streamName", "streamName"],
        ),
        (
            "ListStreams",
            {"ExclusiveStartStreamName": "!", "Limit": 0},
            ["limit", "exclusiveStartStreamName"],
        ),
        (
            "ListTagsForStream",
            {"StreamName": "!", "ExclusiveStartTagKey": "", "Limit": 51},
            ["limit", "exclusiveStartTagKey", "streamName"],
        ),
        (
            "SplitShard",
            {"ShardToSplit": "!", "StreamName": "!", "NewStartingHashKey": "01"},
            ["newStartingHashKey", "streamName", "shardToSplit"],
        ),
        (
            "MergeShards",
            {"StreamName": "!", "AdjacentShardToMerge": "!", "ShardToMerge": "!"},
            ["shardToMerge", "adjacentShardToMerge", "streamName"],
        ),
        ("IncreaseStreamRetentionPeriod", {"StreamName": "!"}, ["retentionPeriodHours", "streamName"]),
        ("DecreaseStreamRetentionPeriod", {"StreamName": "!"}, ["retentionPeriodHours", "streamName"]),
        ("RemoveTagsFromStream", {"StreamName": "!"}, ["tagKeys", "streamName"]),
        ("CreateStream", {"StreamName": "!", "ShardCount": 0}, ["shardCount", "streamName"]),
        (
            "PutRecords",
            {"StreamName": "!", "Records": [{"Data": b64(10485761), "ExplicitHashKey": "x"}]},
            [
                "records.1.member.partitionKey",
                "records.1.member.explicitHashKey",
                "records.1.member.data",
                "streamName",
            ],
        ),
    ],
)
def test_member_order(operation, params, paths):
    msg = verr(operation, params)
    assert re.findall(r" at '([^']+)' failed", msg) == paths


def test_unlisted_members_follow_in_model_order():
    msg = verr("CreateStream", {"StreamName": "!", "MaxRecordSizeInKiB": 1, "WarmThroughputMiBps": -1, "Tags": {}})
    # model order after the spec's (shardCount, streamName): StreamModeDetails, Tags, WarmThroughputMiBps, MaxRecordSizeInKiB
    assert re.findall(r" at '([^']+)' failed", msg) == [
        "streamName",
        "tags",
        "warmThroughputMiBps",
        "maxRecordSizeInKiB",
    ]


def test_at_most_ten_listed_and_count_is_ten():
    params = {"StreamName": "s", "Records": [{"PartitionKey": "", "Data": ""} for _ in range(30)]}
    msg = verr("PutRecords", params)
    assert msg.startswith("10 validation errors detected: ")
    assert msg.count("failed to satisfy constraint") == 10
    assert "records.10.member" in msg and "records.11.member" not in msg


def test_nested_put_records_entries():
    params = {
        "StreamName": "s",
        "Records": [
            {"PartitionKey": "ok", "Data": "AAAA"},
            {"Data": "AAAA"},
            {"PartitionKey": "k", "Data": "AAAA", "ExplicitHashKey": "-1"},
            {"PartitionKey": "k"},
        ],
    }
    assert verr("PutRecords", params) == (
        "3 validation errors detected: "
        + line("null", "records.2.member.partitionKey", "Member must not be null")
        + "; "
        + line(
            "'-1'",
            "records.3.member.explicitHashKey",
            HASH_KEY_RULE,
        )
        + "; "
        + line("null", "records.4.member.data", "Member must not be null")
    )


def test_shard_filter_enum_and_required_type():
    enum = "AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP"
    assert verr("ListShards", {"StreamName": "s", "ShardFilter": {"Type": "NOPE"}}) == one(
        "'NOPE'", "shardFilter.type", f"Member must satisfy enum value set: [{enum}]"
    )
    assert verr("ListShards", {"StreamName": "s", "ShardFilter": {}}) == one(
        "null", "shardFilter.type", "Member must not be null"
    )
    assert verr("ListShards", {"ShardFilter": {"Type": "AFTER_SHARD_ID", "ShardId": ""}}) == (
        "2 validation errors detected: "
        + line("''", "shardFilter.shardId", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
        + "; "
        + line("''", "shardFilter.shardId", "Member must have length greater than or equal to 1")
    )
    validate("ListShards", {"StreamName": "s", "ShardFilter": {"Type": "AT_TIMESTAMP", "Timestamp": 1704067200.5}})


def test_stream_mode_details_and_metrics_enum():
    assert verr("UpdateStreamMode", {"StreamARN": ARN, "StreamModeDetails": {"StreamMode": "X"}}) == one(
        "'X'", "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]"
    )
    assert verr("UpdateStreamMode", {"StreamARN": ARN}) == one("null", "streamModeDetails", "Member must not be null")
    msg = verr("EnableEnhancedMonitoring", {"StreamName": "s", "ShardLevelMetrics": ["ALL", "Nope"]})
    assert msg.startswith("1 validation error detected: Value 'Nope' at 'shardLevelMetrics.2.member' ")


def test_patterns_are_whole_string_and_ascii():
    assert "streamName" in verr("DescribeStreamSummary", {"StreamName": "a b"})
    assert "newStartingHashKey" in verr(
        "SplitShard", {"StreamName": "s", "ShardToSplit": "x", "NewStartingHashKey": "1" * 40}
    )
    assert "newStartingHashKey" in verr(
        "SplitShard", {"StreamName": "s", "ShardToSplit": "x", "NewStartingHashKey": "\u0661"}
    )
    validate("SplitShard", {"StreamName": "s", "ShardToSplit": "x", "NewStartingHashKey": "9" * 39})


def test_null_is_absent():
    assert validate("ListStreams", {"Limit": None, "ExclusiveStartStreamName": None}) == {}
    assert verr("CreateStream", {"StreamName": None}) == one("null", "streamName", "Member must not be null")


def unrecognized(member: str, shape: str) -> str:
    return f'Unrecognized field "{member}" (class com.amazonaws.kinesis.v20131202.{shape}), not marked as ignorable'


@pytest.mark.parametrize(
    "operation, body, member, shape",
    [
        ("ListStreams", {"Bogus": {"x": [1]}}, "Bogus", "ListStreamsInput"),
        ("ListStreams", {"Bogus": None}, "Bogus", "ListStreamsInput"),  # null or not: not a member
        ("PutRecord", {"StreamARN": "a", "streamName": "s"}, "streamName", "PutRecordInput"),  # names are exact
        (
            "PutRecords",
            {"StreamName": "s", "Records": [{"PartitionKey": "k", "Data": "", "StreamName": "x"}]},
            "StreamName",
            "PutRecordsRequestEntry",
        ),
        ("ListShards", {"ShardFilter": {"Type": "AT_LATEST", "Bogus": 1}}, "Bogus", "ShardFilter"),
        ("CreateStream", {1: "s"}, "1", "CreateStreamInput"),  # a CBOR map's integer key
    ],
)
def test_unknown_members_are_refused(operation, body, member, shape):
    with pytest.raises(SerializationException) as err:
        validate(operation, body)
    assert str(err.value) == unrecognized(member, shape)


def test_unknown_member_is_found_before_type_errors():
    with pytest.raises(SerializationException, match="Unrecognized field .StreamNme."):
        validate("ListStreams", {"Limit": "x", "StreamNme": "s"})


@pytest.mark.parametrize("operation", ["ListStreams", "DescribeStream", "ListTagsForStream"])
@pytest.mark.parametrize("number, read", [(1.5, 1), (2.0, 2), (2.999, 2), (1e30, 2**31 - 1)])
def test_numbers_in_integer_members_are_floored_and_clamped(operation, number, read):
    body = {"Limit": number} if operation == "ListStreams" else {"StreamName": "s", "Limit": number}
    if 1 <= read <= 10_000:
        assert validate(operation, body)["Limit"] == read
    else:
        assert "Value '2147483647' at 'limit'" in verr(operation, body)


def test_non_string_map_keys_are_serialization_errors():
    for key, text in [
        (1, "TruncatingBigNumber can not be converted to an String"),
        (True, "Boolean"),
        (b"k", "HeapByteBuffer can not be converted to an String"),
        (None, "Null key"),
    ]:
        for operation, body in [
            ("CreateStream", {"StreamName": "s", "Tags": {key: "a"}}),
            ("AddTagsToStream", {"StreamName": "s", "Tags": {key: "a"}}),
            ("TagResource", {"ResourceARN": "arn", "Tags": {key: "a"}}),
        ]:
            with pytest.raises(SerializationException, match=text):
                validate(operation, body)


def test_unknown_operation_is_not_checked():
    validate("NoSuchOperation", {"x": 1})


def test_params_not_modified():
    params = {"StreamName": "s", "Records": [{"PartitionKey": "k", "Data": "AAAA"}, None], "StreamARN": None}
    snapshot = repr(params)
    with pytest.raises(ValidationException):
        validate("PutRecords", params)
    params["Records"].pop()
    assert validate("PutRecords", params) == {"StreamName": "s", "Records": [{"PartitionKey": "k", "Data": "AAAA"}]}
    assert repr(params) == snapshot.replace(", None]", "]")


# --------------------------------------------------------------- spec §2.7 SerializationException texts

NUMBER = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"


@pytest.mark.parametrize(
    "operation, params, message",
    [
        ("DescribeStreamSummary", {"StreamName": 1}, f"{NUMBER} can not be converted to an String"),
        ("DescribeStreamSummary", {"StreamName": 1.5}, f"{NUMBER} can not be converted to an String"),
        ("DescribeStreamSummary", {"StreamName": True}, "class java.lang.Boolean can not be converted to an String"),
        ("ListStreams", {"Limit": "1"}, "class java.lang.String can not be converted to an Integer"),
        ("ListStreams", {"Limit": False}, "class java.lang.Boolean can not be converted to an Integer"),
        ("DeleteStream", {"StreamName": "s", "EnforceConsumerDeletion": "x"}, "'X' can not be converted to an Boolean"),
        (
            "DeleteStream",
            {"StreamName": "s", "EnforceConsumerDeletion": 1},
            f"{NUMBER} can not be converted to an Boolean",
        ),
        ("PutRecord", {"PartitionKey": "k", "Data": True}, "class java.lang.Boolean can not be converted to a Blob"),
        ("PutRecord", {"PartitionKey": "k", "Data": 12}, f"{NUMBER} can not be converted to a Blob"),
        (
            "PutRecord",
            {"PartitionKey": "k", "Data": "23456"},
            "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5",
        ),
        (
            "PutRecord",
            {"PartitionKey": "k", "Data": "=+/="},
            "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='",
        ),
        (
            "PutRecord",
            {"PartitionKey": "k", "Data": "ab!d"},
            "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'",
        ),
        (
            "PutRecord",
            {"PartitionKey": "k", "Data": "+/+="},
            "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
        ),
        (
            "PutRecord",
            {"PartitionKey": "k", "Data": "AB=="},
            "'AB==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
        ),
        (
            "PutRecord",
            {"PartitionKey": "k", "Data": "A==="},
            "'A===' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
        ),
        (
            "GetShardIterator",
            {"ShardId": "x", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": "2024"},
            "class java.lang.String can not be converted to milliseconds since epoch",
        ),
        (
            "GetShardIterator",
            {"ShardId": "x", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": True},
            "class java.lang.Boolean can not be converted to milliseconds since epoch",
        ),
        ("DescribeStreamSummary", {"StreamName": ["s"]}, "Start of list found where not expected"),
        ("ListStreams", {"Limit": []}, "Start of list found where not expected"),
        ("PutRecord", {"PartitionKey": "k", "Data": []}, "Start of list found where not expected"),
        ("DescribeStreamSummary", {"StreamName": {}}, "Start of structure or map found where not expected."),
        ("ListStreams", {"Limit": {"a": 1}}, "Start of structure or map found where not expected."),
        ("RemoveTagsFromStream", {"TagKeys": {}}, "Start of structure or map found where not expected."),
        ("PutRecords", {"Records": "x"}, "Expected list or null"),
        ("PutRecords", {"Records": 5}, "Expected list or null"),
        ("AddTagsToStream", {"Tags": "x"}, "Expected map or null"),
        ("AddTagsToStream", {"Tags": ["x"]}, "Start of list found where not expected"),
        ("ListShards", {"ShardFilter": "AT_LATEST"}, "Expected null"),
        ("ListShards", {"ShardFilter": ["AT_LATEST"]}, "Start of list found where not expected"),
        # nested members are type-checked too
        ("PutRecords", {"Records": [{"PartitionKey": 5, "Data": ""}]}, f"{NUMBER} can not be converted to an String"),
        (
            "PutRecords",
            {"Records": [{"PartitionKey": "k", "Data": False}]},
            "class java.lang.Boolean can not be converted to a Blob",
        ),
        ("PutRecords", {"Records": ["x"]}, "Expected null"),
        ("AddTagsToStream", {"Tags": {"k": 1}}, f"{NUMBER} can not be converted to an String"),
        ("ListShards", {"ShardFilter": {"Type": 1}}, f"{NUMBER} can not be converted to an String"),
    ],
)
def test_serialization_texts(operation, params, message):
    assert serr(operation, params) == message


def test_type_errors_come_before_constraint_errors():
    # streamName constraint broken, limit mistyped: the type error wins regardless of order
    assert serr("ListStreams", {"ExclusiveStartStreamName": "", "Limit": "x"}).startswith("class java.lang.String")


def test_first_type_error_in_member_order():
    # GetRecords order: limit, shardIterator
    assert (
        serr("GetRecords", {"ShardIterator": 1, "Limit": "x"})
        == "class java.lang.String can not be converted to an Integer"
    )


# --------------------------------------------------------------- every operation accepts a valid request

OPERATIONS = sorted(shapes._model()["operations"])


def test_every_model_operation_is_known():
    assert shapes.operations() == OPERATIONS
    assert len(OPERATIONS) == model.source()["operations"] == 57


# The model itself: PartitionKey optional (as for AUTO record distribution).
@pytest.mark.parametrize("operation", OPERATIONS)
def test_minimal_valid_request_passes(operation):
    sample = _sample(shapes._model()["operations"][operation]["input"]["shape"], full=False)
    validate(operation, sample, partition_key_required=False)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_full_valid_request_passes(operation):
    validate(operation, _sample(shapes._model()["operations"][operation]["input"]["shape"], full=True))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_missing_required_members_reported(operation):
    required = shapes.input_shape(operation).get("required", [])
    if not required:
        validate(operation, {}, partition_key_required=False)
        return
    with pytest.raises(ValidationException) as info:
        validate(operation, {}, partition_key_required=False)
    msg = info.value.message
    paths = re.findall(r" at '([^']+)' failed", msg)
    assert sorted(paths) == sorted(r[0].lower() + r[1:] for r in required)
    assert all(f"Value null at '{p}' failed to satisfy constraint: Member must not be null" in msg for p in paths)


def test_partition_key_required_unless_the_stream_distributes_records():
    # USER_PARTITION_KEY streams (the default): the same error as before the model made it optional
    assert verr("PutRecord", {"StreamName": "s", "Data": ""}) == one("null", "partitionKey", "Member must not be null")
    entries = {"StreamName": "s", "Records": [{"Data": "AAAA"}, {"PartitionKey": "k", "Data": "AAAA"}]}
    assert verr("PutRecords", entries) == one("null", "records.1.member.partitionKey", "Member must not be null")
    # AUTO streams: the model as it is
    validate("PutRecord", {"StreamName": "s", "Data": ""}, partition_key_required=False)
    validate("PutRecords", entries, partition_key_required=False)
    assert all("PartitionKey" not in _shape(name).get("required", ()) for name in shapes.KEYED_SHAPES)


def test_cbor_forms_accepted():
    import datetime

    validate("PutRecords", {"StreamName": "s", "Records": [{"PartitionKey": "k", "Data": b"\x00" * 3}]})
    assert verr("PutRecord", {"PartitionKey": "k", "Data": bytearray(10485761)}) == one(
        "'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]'",
        "data",
        "Member must have length less than or equal to 10485760",
    )
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    validate("GetShardIterator", {"ShardId": "x", "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": when})


@pytest.mark.parametrize("operation", OPERATIONS)
def test_what_botocore_writes_for_every_operation_passes(operation):
    """botocore's own serializer, fed every member of the model: no member is refused as unknown."""
    import datetime

    from botocore.serialize import create_serializer
    from botocore.session import get_session

    service = get_session().get_service_model("kinesis")
    op_model = service.operation_model(operation)

    def native(value, shape):  # the model sample as a boto3 caller passes it
        if shape.type_name == "structure":
            return {k: native(v, shape.members[k]) for k, v in value.items()}
        if shape.type_name == "list":
            return [native(v, shape.member) for v in value]
        if shape.type_name == "map":
            return {k: native(v, shape.value) for k, v in value.items()}
        if shape.type_name == "blob":
            return base64.b64decode(value)
        if shape.type_name == "timestamp":
            return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        return value

    params = native(_sample(op_model.input_shape.name, full=True), op_model.input_shape)
    request = create_serializer("json").serialize_to_request(params, op_model)
    body = json.loads(request["body"]) if request["body"] else {}
    assert set(body) == set(params)
    validate(operation, body)
