"""``GET /_shardstream/metrics`` of a real server, parsed with prometheus_client's own parser."""

from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import shardstream
from shardstream.consumer import Consumer
from shardstream.testing import boto3_client, start_server


def scrape(url: str) -> dict:
    with urllib.request.urlopen(url + "/_shardstream/metrics") as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_the_scrape_shows_what_the_streams_and_queues_did():
    engine = shardstream.Engine()
    with start_server(engine) as server:
        kinesis = boto3_client(server.url)
        kinesis.create_stream(StreamName="s", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        records = [{"Data": b"x" * 10, "PartitionKey": f"p{i}"} for i in range(40)]
        assert kinesis.put_records(StreamName="s", Records=records)["FailedRecordCount"] == 0
        shards = [s["ShardId"] for s in kinesis.list_shards(StreamName="s")["Shards"]]
        for shard in shards:
            iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
            kinesis.get_records(ShardIterator=iterator["ShardIterator"])
        arn = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamARN"]
        config = [{"StreamARN": arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        queue = kinesis.create_queue(QueueName="q", StreamConfigurationList=config)["QueueDescription"]["QueueARN"]
        got = kinesis.receive_queue_records(QueueARN=queue, Limit=7, WaitTimeSeconds=1)["QueueRecords"]
        samples = scrape(server.url)
        with Consumer(engine.stream("s"), "billing", idle_ms=10) as consumer:  # a group reading the served engine
            read = 0
            for batch in consumer:
                read += len(batch.records)
                if read >= 40:
                    break
        after = scrape(server.url)
    engine.close()

    def per_shard(name):
        return {
            dict(labels)["shard"]: value
            for (n, labels), value in samples.items()
            if n == name and dict(labels)["stream"] == "s"
        }

    assert sum(per_shard("shardstream_incoming_records_total").values()) == 40
    assert sum(per_shard("shardstream_incoming_bytes_total").values()) == sum(
        10 + len(r["PartitionKey"]) for r in records
    )
    assert sum(per_shard("shardstream_shard_records").values()) == 40
    assert set(per_shard("shardstream_shard_records")) == set(shards)
    labels = (("region", "us-east-1"), ("stream", "s"))
    assert samples[("shardstream_get_records_total", labels)] == len(shards)
    assert samples[("shardstream_get_records_iterator_age_milliseconds", labels)] >= 0
    assert samples[("shardstream_queue_records_in_flight", (("queue", "q"), ("region", "us-east-1")))] == len(got)
    assert samples[("shardstream_queue_dead_letter_records", (("queue", "q"), ("region", "us-east-1")))] == 0
    assert not [k for k in samples if k[0] == "shardstream_consumer_lag_records"]
    lags = {dict(labels)["shard"]: v for (n, labels), v in after.items() if n == "shardstream_consumer_lag_records"}
    assert set(lags) <= set(shards) and lags and all(v == 0 for v in lags.values())  # caught up
