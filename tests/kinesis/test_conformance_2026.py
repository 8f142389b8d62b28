"""Conformance details where shardstream used to answer differently from real Kinesis (issue 10, part 4).

Embedded API; the same rules over boto3 and the HTTP server are in
tests/server/test_boto3_conformance.py.
"""

from __future__ import annotations

import pytest
from conftest import ACCOUNT, FakeClock, shard_id
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.errors import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)

MAX_INDEX = 2**31 - 1


def ref_shard_index(text: str) -> int | None:
    """The rule, written independently: decimal text after the first '-' (or all of it), at most 2**31 - 1."""
    digits = text.partition("-")[2] if "-" in text else text
    if not digits or any(c not in "0123456789" for c in digits):
        return None
    index = int(digits)
    return index if index <= MAX_INDEX else None


def could_not_find(given: str, name: str) -> str:
    return f"Could not find shard {given} in stream {name} under account {ACCOUNT}."


def does_not_exist(index: int, name: str) -> str:
    return f"Shard shardId-{index:012d} in stream {name} under account {ACCOUNT} does not exist"


def not_found(name: str) -> str:
    return f"Stream {name} under account {ACCOUNT} not found."


def raised(call) -> tuple[type, str]:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the test compares the type and text
        return type(exc), str(exc)
    return type(None), ""


# -- shard ids are parsed before the stream is looked up -----------------------------------------------

UNPARSABLE = ["2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4", "shardId-", "abc-", "shardId-1-2", "x"]
PARSABLE = {"2147483647": MAX_INDEX, "a-00002147483647": MAX_INDEX, "-00002147483647": MAX_INDEX, "shard-7": 7,
            "7": 7, "shardId-000000000007": 7}


@pytest.mark.parametrize("given", UNPARSABLE)
def test_unparsable_shard_id_on_a_missing_stream(given):
    engine = shardstream.Engine()
    for call in (
        lambda: engine.get_shard_iterator("ghost", given, "LATEST"),
        lambda: engine.split_shard("ghost", given, "12345"),
        lambda: engine.merge_shards("ghost", given, shard_id(1)),
        lambda: engine.merge_shards("ghost", shard_id(0), given),
    ):
        assert raised(call) == (ResourceNotFoundException, could_not_find(given, "ghost"))


@pytest.mark.parametrize("given, index", PARSABLE.items())
def test_valid_shard_id_on_a_missing_stream(given, index):
    engine = shardstream.Engine()
    assert raised(lambda: engine.get_shard_iterator("ghost", given, "LATEST")) == (
        ResourceNotFoundException,
        does_not_exist(index, "ghost"),
    )
    # SplitShard and MergeShards say the stream is missing (as observed on Kinesis)
    for call in (
        lambda: engine.split_shard("ghost", given, "12345"),
        lambda: engine.merge_shards("ghost", given, shard_id(1)),
    ):
        assert raised(call) == (ResourceNotFoundException, not_found("ghost"))


@pytest.mark.parametrize("given", UNPARSABLE)
def test_unparsable_shard_id_on_an_existing_stream(given):
    engine = shardstream.Engine()
    s = engine.create_stream("s", 2)
    for call in (
        lambda: engine.get_shard_iterator("s", given, "TRIM_HORIZON"),
        lambda: s.get_shard_iterator(given, "TRIM_HORIZON"),
        lambda: engine.split_shard("s", given, "12345"),
        lambda: s.split_shard(given, "12345"),
        lambda: s.merge_shards(given, shard_id(1)),
        lambda: s.merge_shards(shard_id(0), given),
    ):
        assert raised(call) == (ResourceNotFoundException, could_not_find(given, "s"))


def test_unparsable_shard_id_comes_before_the_stream_state():
    """Kinesis parses the id before it looks at the stream: a CREATING stream still says 'Could not find'."""
    engine = shardstream.Engine(transition_ms=500, clock=FakeClock())
    s = engine.create_stream("c", 2)
    assert s.status == "CREATING"
    assert raised(lambda: s.split_shard("bad", "12345")) == (ResourceNotFoundException, could_not_find("bad", "c"))
    assert raised(lambda: s.merge_shards(shard_id(0), "bad")) == (
        ResourceNotFoundException,
        could_not_find("bad", "c"),
    )
    # a valid id on a CREATING stream: the state comes first for resharding ...
    assert raised(lambda: s.split_shard(shard_id(0), "12345"))[0] is ResourceInUseException
    # ... and there are no shards yet to iterate
    assert raised(lambda: engine.get_shard_iterator("c", shard_id(0), "LATEST")) == (
        ResourceNotFoundException,
        does_not_exist(0, "c"),
    )


def test_shard_id_validation_still_comes_first():
    engine = shardstream.Engine()
    with pytest.raises(ValidationException) as ei:
        engine.get_shard_iterator("ghost", "", "LATEST")
    assert str(ei.value).startswith("2 validation errors detected: Value '' at 'shardId'")
    with pytest.raises(ValidationException) as ei:
        engine.get_shard_iterator("", "bad", "LATEST")
    assert "at 'streamName'" in str(ei.value)
    with pytest.raises(ValidationException) as ei:
        engine.split_shard("", "bad", "x")
    assert str(ei.value) == (
        "3 validation errors detected: Value 'x' at 'newStartingHashKey' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); "
        "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9_.-]+; "
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )
    with pytest.raises(ValidationException):
        engine.merge_shards("ghost", None, shard_id(0))


def test_shard_ids_by_stream_arn():
    engine = shardstream.Engine()
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/gone"
    assert raised(lambda: engine.get_shard_iterator(None, "shardId-x", "LATEST", stream_arn=arn)) == (
        ResourceNotFoundException,
        could_not_find("shardId-x", "gone"),
    )
    assert raised(lambda: engine.get_shard_iterator(None, "shardId-3", "LATEST", stream_arn=arn)) == (
        ResourceNotFoundException,
        does_not_exist(3, "gone"),
    )
    engine.create_stream("gone", 1)
    assert engine.get_shard_iterator(None, "shard-0", "LATEST", stream_arn=arn)["ShardIterator"]


_SHARD_ID_TEXT = st.one_of(
    st.from_regex(r"[a-zA-Z0-9_.-]{1,40}", fullmatch=True),
    st.builds(lambda p, n: f"{p}-{n}", st.from_regex(r"[a-zA-Z0-9_.]{0,10}", fullmatch=True),
              st.integers(0, 2**33).map(str)),
    st.integers(0, 2**33).map(lambda n: f"shardId-{n:012d}"),
)


@settings(max_examples=300, deadline=None)
@given(text=_SHARD_ID_TEXT)
def test_shard_id_parsing_property(text):
    """For any shard id the model accepts, the answer follows the parsing rule."""
    engine = shardstream.Engine()
    s = engine.create_stream("s", 3)
    index = ref_shard_index(text)
    missing = raised(lambda: engine.get_shard_iterator("ghost", text, "LATEST"))
    split_missing = raised(lambda: engine.split_shard("ghost", text, "12345"))
    present = raised(lambda: engine.get_shard_iterator("s", text, "LATEST"))
    if index is None:
        assert missing == split_missing == (ResourceNotFoundException, could_not_find(text, "ghost"))
        assert present == (ResourceNotFoundException, could_not_find(text, "s"))
        assert raised(lambda: s.read_batch(text)) == (ResourceNotFoundException, could_not_find(text, "s"))
    else:
        assert missing == (ResourceNotFoundException, does_not_exist(index, "ghost"))
        assert split_missing == (ResourceNotFoundException, not_found("ghost"))
        if index < 3:
            assert present == (type(None), "")
        else:
            assert present == (ResourceNotFoundException, does_not_exist(index, "s"))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=140))
def test_any_string_as_shard_id(text):
    """Any string at all: a ValidationException when the model refuses it, else the parsing rule."""
    engine = shardstream.Engine()
    kind, message = raised(lambda: engine.get_shard_iterator("ghost", text, "LATEST"))
    model_ok = 1 <= len(text) <= 128 and all(c.isascii() and (c.isalnum() or c in "_.-") for c in text)
    if not model_ok:
        assert kind is ValidationException and "at 'shardId'" in message
        return
    index = ref_shard_index(text)
    expected = could_not_find(text, "ghost") if index is None else does_not_exist(index, "ghost")
    assert (kind, message) == (ResourceNotFoundException, expected)


def test_invalid_argument_unchanged_for_a_found_shard():
    engine = shardstream.Engine()
    engine.create_stream("s", 1)
    with pytest.raises(InvalidArgumentException):
        engine.get_shard_iterator("s", "x-0", "AT_SEQUENCE_NUMBER")


# -- tags ----------------------------------------------------------------------------------------------

INVALID_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
)
TOO_MANY = "Failed to add tags to stream {} under account " + ACCOUNT + (
    " because a given stream cannot have more than 10 tags associated with it."
)
KEY_LENGTHS = (
    "Member must satisfy constraint: [Member must have length less than or equal to 128, "
    "Member must have length greater than or equal to 1]"
)


@pytest.fixture
def tagged():
    engine = shardstream.Engine()
    s = engine.create_stream("t", 1, tags={"keep": "me"})
    return engine, s


@pytest.mark.parametrize("bad", ["tab\there", "new\nline", "cr\rhere", "vt\x0bhere", "nbsp\u00a0here"])
def test_white_space_in_tags_is_the_space_character_only(tagged, bad):
    engine, s = tagged
    arn = s.arn
    for call in (
        lambda: s.add_tags_to_stream({bad: "v"}),
        lambda: s.add_tags_to_stream({"k": bad}),
        lambda: engine.add_tags_to_stream("t", {bad: "v"}),
        lambda: engine.tag_resource(arn, {"k": bad}),
        lambda: s.remove_tags_from_stream(["ok", bad]),
        lambda: engine.remove_tags_from_stream("t", [bad]),
        lambda: engine.untag_resource(arn, [bad]),
        lambda: engine.create_stream("other", 1, tags={bad: "v"}),
    ):
        assert raised(call) == (InvalidArgumentException, INVALID_CHARACTERS)
    assert s.tags == {"keep": "me"} and "other" not in engine


def test_spaces_and_the_listed_symbols_are_fine(tagged):
    engine, s = tagged
    tags = {"ü0 _.": "a b", "/=+-@:%": "x y z", "日本 語": "値"}
    s.add_tags_to_stream(tags)
    assert s.tags == {"keep": "me", **tags}
    s.remove_tags_from_stream(list(tags))
    assert s.tags == {"keep": "me"}


@pytest.mark.parametrize("bad", ["abc;def", "abc,def", "a#b", "a\tb", "a\nb", "a*b"])
def test_remove_tags_checks_characters(tagged, bad):
    engine, s = tagged
    assert raised(lambda: engine.remove_tags_from_stream("t", ["keep", bad])) == (
        InvalidArgumentException,
        INVALID_CHARACTERS,
    )
    assert s.tags == {"keep": "me"}  # nothing removed


def test_remove_tags_on_a_missing_stream_says_the_stream_is_missing():
    engine = shardstream.Engine()
    assert raised(lambda: engine.remove_tags_from_stream("ghost", [";"])) == (
        ResourceNotFoundException,
        not_found("ghost"),
    )
    arn = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/ghost"
    assert raised(lambda: engine.untag_resource(arn, ["a\tb"])) == (ResourceNotFoundException, not_found("ghost"))


def test_more_than_50_tags_uses_aws_wording(tagged):
    engine, s = tagged
    s.add_tags_to_stream({f"k{i:02d}": "v" for i in range(49)})
    for call in (
        lambda: s.add_tags_to_stream({"one-more": "v"}),
        lambda: engine.add_tags_to_stream("t", {"one-more": "v"}),
        lambda: engine.tag_resource(s.arn, {"one-more": "v", "k00": "w"}),
    ):
        assert raised(call) == (InvalidArgumentException, TOO_MANY.format("t"))
    assert len(s.tags) == 50 and s.tags["k00"] == "v"  # nothing changed
    s.add_tags_to_stream({"k00": "w"})  # overwriting stays within the limit
    assert raised(lambda: engine.create_stream("big", 1, tags={f"k{i}": "v" for i in range(51)})) == (
        InvalidArgumentException,
        TOO_MANY.format("big"),
    )
    assert "big" not in engine


def test_consumer_tags_follow_the_same_rules(tagged):
    engine, s = tagged
    arn = engine.register_stream_consumer(s.arn, "c")["Consumer"]["ConsumerARN"]
    engine.tag_resource(arn, {f"k{i:02d}": "v" for i in range(50)})
    assert raised(lambda: engine.tag_resource(arn, {"x": "y"})) == (InvalidArgumentException, TOO_MANY.format("t"))
    assert raised(lambda: engine.untag_resource(arn, ["a\nb"])) == (InvalidArgumentException, INVALID_CHARACTERS)
    assert raised(lambda: engine.untag_resource(arn, ["", "k00"]))[0] is ValidationException
    assert len(engine.list_tags_for_resource(arn)["Tags"]) == 50


def test_tag_key_lengths_are_reported_once_for_the_whole_list(tagged):
    engine, s = tagged
    long_key = "k" * 129
    expected = f"1 validation error detected: Value '[a, {long_key}, b, ]' at 'tagKeys' failed to satisfy constraint: "
    for call in (
        lambda: engine.remove_tags_from_stream("t", ["a", long_key, "b", ""]),
        lambda: engine.untag_resource(s.arn, ["a", long_key, "b", ""]),
    ):
        assert raised(call) == (ValidationException, expected + KEY_LENGTHS)
    keys = [f"k{i}" for i in range(51)] + [""]
    kind, message = raised(lambda: s.remove_tags_from_stream(keys))
    assert kind is ValidationException
    assert message == (
        f"2 validation errors detected: Value '[{', '.join(keys)}]' at 'tagKeys' failed to satisfy constraint: "
        f"Member must have length less than or equal to 50; Value '[{', '.join(keys)}]' at 'tagKeys' failed to "
        f"satisfy constraint: {KEY_LENGTHS}"
    )


def test_tag_map_lengths_are_reported_once_for_the_whole_map(tagged):
    engine, s = tagged
    tags = {"a": "1", "": "2", "k" * 129: "v" * 257}
    shown = "'{" + ", ".join(f"{k}={val}" for k, val in tags.items()) + "}'"
    expected = (
        f"2 validation errors detected: Value {shown} at 'tags' failed to satisfy constraint: Map keys must satisfy "
        "constraint: [Member must have length less than or equal to 128, Member must have length greater than or "
        f"equal to 1]; Value {shown} at 'tags' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 256, Member must have length greater than or equal to 0]"
    )
    for call in (lambda: s.add_tags_to_stream(tags), lambda: engine.tag_resource(s.arn, tags)):
        assert raised(call) == (ValidationException, expected)
    assert s.tags == {"keep": "me"}


# -- resource policies ---------------------------------------------------------------------------------


def test_delete_resource_policy_without_one():
    engine = shardstream.Engine()
    s = engine.create_stream("p", 1)
    expected = (ResourceNotFoundException, f"No resource policy found for resource ARN {s.arn}.")
    assert raised(lambda: engine.delete_resource_policy(s.arn)) == expected
    assert raised(s.delete_resource_policy) == expected
    engine.put_resource_policy(s.arn, "{}")
    assert engine.delete_resource_policy(s.arn) == {}
    assert raised(lambda: engine.delete_resource_policy(s.arn)) == expected
    consumer = engine.register_stream_consumer(s.arn, "c")["Consumer"]["ConsumerARN"]
    assert raised(lambda: engine.delete_resource_policy(consumer)) == (
        ResourceNotFoundException,
        f"No resource policy found for resource ARN {consumer}.",
    )
    engine.put_resource_policy(consumer, '{"a": 1}')
    assert engine.delete_resource_policy(consumer) == {}
    assert engine.get_resource_policy(consumer) == {"Policy": "{}"}


# -- lifecycle with transitions on ---------------------------------------------------------------------

T = 500


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def slow(clock):
    return shardstream.Engine(transition_ms=T, clock=clock)


def listed(engine, name) -> list[dict]:
    """The shards DescribeStream shows, checked against ListShards (all pages of one shard each)."""
    shards = engine.describe_stream(name)["StreamDescription"]["Shards"]
    page = engine.list_shards(name, max_results=1)
    paged = page["Shards"]
    while "NextToken" in page:
        page = engine.list_shards(next_token=page["NextToken"], max_results=1)
        paged += page["Shards"]
    assert paged == shards
    return shards


def ids(shards) -> list[str]:
    return [s["ShardId"] for s in shards]


def is_open(shard) -> bool:
    return "EndingSequenceNumber" not in shard["SequenceNumberRange"]


def test_creating_stream_lists_no_shards(slow, clock):
    slow.create_stream("c", 3)
    desc = slow.describe_stream("c")["StreamDescription"]
    assert (desc["StreamStatus"], desc["Shards"], desc["HasMoreShards"]) == ("CREATING", [], False)
    assert listed(slow, "c") == []
    clock.advance(T)
    assert ids(listed(slow, "c")) == [shard_id(i) for i in range(3)]


def test_deleted_while_creating_shows_deleting_with_no_shards(slow, clock):
    s = slow.create_stream("dc", 2)
    slow.delete_stream("dc")
    desc = slow.describe_stream("dc")["StreamDescription"]
    assert (desc["StreamStatus"], desc["Shards"], desc["HasMoreShards"]) == ("DELETING", [], False)
    assert listed(slow, "dc") == []
    assert raised(lambda: slow.get_shard_iterator("dc", shard_id(0), "LATEST")) == (
        ResourceNotFoundException,
        does_not_exist(0, "dc"),
    )
    assert s.read_table().num_rows == 0
    clock.advance(T)
    assert "dc" not in slow


def test_deleted_once_active_still_lists_its_shards_while_deleting(slow, clock):
    slow.create_stream("d", 2)
    clock.advance(T)
    slow.delete_stream("d")
    desc = slow.describe_stream("d")["StreamDescription"]
    assert desc["StreamStatus"] == "DELETING" and ids(desc["Shards"]) == [shard_id(0), shard_id(1)]


def test_updating_after_a_split_lists_the_old_shards(slow, clock):
    s = slow.create_stream("u", 2)
    clock.advance(T)
    before = listed(slow, "u")
    s.split_shard(shard_id(0), str(2**126))
    assert s.status == "UPDATING"
    assert listed(slow, "u") == before  # parent still open, no children yet
    assert all(is_open(x) for x in before)
    assert slow.describe_stream_summary("u")["StreamDescriptionSummary"]["StreamStatus"] == "UPDATING"
    # writes already go to the children, and they can be read
    out = s.put_record(b"x", "k", explicit_hash_key="0")
    assert out["ShardId"] == shard_id(2)
    it = s.get_shard_iterator(shard_id(2), "TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in s.get_records(it)["Records"]] == [b"x"]
    clock.advance(T - 1)
    assert listed(slow, "u") == before
    clock.advance(1)
    after = listed(slow, "u")
    assert ids(after) == [shard_id(i) for i in range(4)]
    assert not is_open(after[0]) and all(is_open(x) for x in after[1:])
    assert after[2]["ParentShardId"] == shard_id(0)


def test_updating_after_a_merge_and_a_shard_count_change(slow, clock):
    s = slow.create_stream("m", 2)
    clock.advance(T)
    before = listed(slow, "m")
    s.merge_shards(shard_id(0), shard_id(1))
    assert listed(slow, "m") == before and all(is_open(x) for x in before)
    clock.advance(T)
    merged = listed(slow, "m")
    assert ids(merged) == [shard_id(0), shard_id(1), shard_id(2)]
    assert merged[2]["AdjacentParentShardId"] == shard_id(1)
    s.update_shard_count(2)
    assert listed(slow, "m") == merged
    assert slow.list_shards("m", shard_filter={"Type": "AT_LATEST"})["Shards"] == [merged[2]]
    clock.advance(T)
    assert len(listed(slow, "m")) == 5
    assert ids(slow.list_shards("m", shard_filter={"Type": "AT_LATEST"})["Shards"]) == [shard_id(3), shard_id(4)]


def test_updating_without_a_shard_change_lists_the_current_shards(slow, clock):
    s = slow.create_stream("e", 1)
    clock.advance(T)
    s.split_shard(shard_id(0), str(2**127))
    clock.advance(T)
    current = listed(slow, "e")
    s.start_stream_encryption("KMS", "alias/aws/kinesis")
    assert s.status == "UPDATING"
    assert listed(slow, "e") == current


def test_instant_transitions_list_the_new_shards_at_once():
    engine = shardstream.Engine()
    s = engine.create_stream("i", 1)
    s.split_shard(shard_id(0), str(2**127))
    assert ids(listed(engine, "i")) == [shard_id(0), shard_id(1), shard_id(2)]


# -- the account shard limit ---------------------------------------------------------------------------


def test_default_shard_limit_is_the_us_east_1_quota():
    engine = shardstream.Engine()
    assert engine.shard_limit == 20_000
    assert engine.describe_limits()["ShardLimit"] == 20_000
    engine.create_stream("big", 600)  # more than the old default of 500
    assert engine.describe_limits()["OpenShardCount"] == 600
    assert engine.for_region("eu-west-1").describe_limits()["ShardLimit"] == 20_000


def test_explicit_shard_limit():
    engine = shardstream.Engine(shard_limit=500)
    assert engine.describe_limits()["ShardLimit"] == 500
    engine.create_stream("a", 500)
    kind, message = raised(lambda: engine.create_stream("b", 1))
    assert kind is shardstream.LimitExceededException
    assert "Current shard count for the account: 500. Limit: 500." in message
    assert shardstream.Engine(shard_limit=None).describe_limits()["ShardLimit"] == 2**31 - 1


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_bad_shard_limit(bad):
    with pytest.raises(InvalidArgumentException) as ei:
        shardstream.Engine(shard_limit=bad)
    assert str(ei.value) == f"shard_limit must be None or an int >= 0, not {bad!r}"
