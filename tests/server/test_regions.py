"""One engine per region: streams are scoped by the region a request is signed for."""

from shardstream.testing import boto3_client


def test_regions_have_separate_streams(server):
    east = boto3_client(server.url, region="us-east-1")
    west = boto3_client(server.url, region="eu-west-1")
    east.create_stream(StreamName="orders", ShardCount=1)
    west.create_stream(StreamName="orders", ShardCount=2)  # same name, other region: no conflict
    east_desc = east.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    west_desc = west.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    assert east_desc["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
    assert west_desc["StreamARN"] == "arn:aws:kinesis:eu-west-1:000000000000:stream/orders"
    assert (east_desc["OpenShardCount"], west_desc["OpenShardCount"]) == (1, 2)
    west.put_record(StreamName="orders", Data=b"w", PartitionKey="k")
    assert server.engine.stream("orders").read_table().num_rows == 0  # the default engine is us-east-1's
    assert boto3_client(server.url, region="ap-south-1").list_streams()["StreamNames"] == []
