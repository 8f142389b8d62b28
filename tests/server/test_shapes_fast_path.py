"""The PutRecords fast path of shapes.validate never accepts what the full model walk rejects."""

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardstream.errors import KinesisError, SerializationException
from shardstream.server import codec, shapes

keys = st.one_of(st.text(min_size=0, max_size=300), st.integers(), st.none())
data = st.one_of(
    st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
    st.text(max_size=12),
    st.none(),
    st.integers(),
)
hash_keys = st.one_of(st.none(), st.text(max_size=45), st.integers(0, 2**130).map(str))
# members the model does not have (and "StreamName", which entries do not have): never on the fast path
strays = st.one_of(st.none(), st.integers(), st.text(max_size=3))
entries = st.fixed_dictionaries(
    {"PartitionKey": keys, "Data": data}, optional={"ExplicitHashKey": hash_keys, "StreamName": strays}
)
bodies = st.fixed_dictionaries(
    {"Records": st.lists(entries, min_size=0, max_size=8)},
    optional={"StreamName": st.one_of(st.text(max_size=130), st.just("stream-1")), "Limit": strays},
)


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_fast_path_agrees_with_the_model(body):
    if shapes._put_records_certainly_valid(body):
        # Only base64 characters are left unchecked: the codec words those identically.
        try:
            shapes._validate_model("PutRecords", body)
        except SerializationException as model_error:
            assert "can not be converted to a Blob" in str(model_error)
            with pytest.raises(SerializationException) as codec_error:
                codec.decode_params("PutRecords", body)
            assert str(codec_error.value) == str(model_error)
    else:
        try:
            shapes._validate_model("PutRecords", body)
        except KinesisError:
            pass


def test_fast_path_takes_ordinary_batches():
    body = {"StreamName": "s", "Records": [{"Data": "eA==", "PartitionKey": f"k{i}"} for i in range(500)]}
    assert shapes._put_records_certainly_valid(body)
    assert not shapes._put_records_certainly_valid({**body, "Records": body["Records"] * 2})
    assert not shapes._put_records_certainly_valid({**body, "Extra": None})
    assert not shapes._put_records_certainly_valid({**body, "Records": [{"Data": "eA==", "PartitionKey": "k", "X": 1}]})
