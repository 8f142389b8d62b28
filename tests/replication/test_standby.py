"""A standby server: refuses ordinary writes and reads until promoted; then refuses the replicator."""

from __future__ import annotations

import logging
import threading

import pytest
from serve_process import free_port

import shardstream
from shardstream.replication import PromotedException, Standby, StandbyReplicaException, promote
from shardstream.testing import start_server

from .helpers import shard_records


@pytest.fixture
def pair():
    primary, standby = shardstream.Engine(), shardstream.Engine()
    with start_server(primary) as a, start_server(standby, standby=Standby()) as b:
        yield a.url, b.url, standby


def test_standby_refuses_ordinary_writes_and_reads_until_promoted(pair):
    a, b, standby_engine = pair
    shardstream.connect(a).create_stream("s", 2).put_record(b"x", "k")
    replicator = shardstream.Replicator(a, b)
    replicator.sync()
    client = shardstream.connect(b)
    stream = client.stream("s")
    with pytest.raises(StandbyReplicaException, match="standby replica"):
        stream.put_record(b"y", "k")
    with pytest.raises(StandbyReplicaException):
        client.create_stream("other", 1)
    with pytest.raises(StandbyReplicaException):
        stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")
    assert stream.list_shards()  # the control plane's reads are answered
    assert promote(b) == {"role": "primary", "promoted": True, "changed": True}
    assert promote(b)["changed"] is False
    stream.put_record(b"y", "k")
    shardstream.connect(a).stream("s").put_record(b"z", "k")
    with pytest.raises(PromotedException):  # the replicator's writes are refused now: no fork
        replicator.sync()
    assert sorted(d for recs in shard_records(standby_engine, "s").values() for _, d in recs) == [b"x", b"y"]


def test_promotion_is_kept_in_the_data_directory(tmp_path):
    Standby(tmp_path).promote()
    assert Standby(tmp_path).promoted
    assert not Standby(tmp_path / "other").promoted


def test_promote_on_a_server_that_is_no_standby_is_refused():
    with start_server(shardstream.Engine()) as server:
        with pytest.raises(Exception, match="409"):
            promote(server.url)


def test_replicator_promote_stops_it_and_promotes_the_target(pair):
    a, b, _ = pair
    source = shardstream.connect(a).create_stream("s", 1)
    source.put_record(b"1", "k")
    replicator = shardstream.Replicator(a, b).start()
    replicated = replicator.promote()
    assert replicator.promoted and replicated["s/shardId-000000000000"] is not None
    shardstream.connect(b).stream("s").put_record(b"2", "k")


def test_several_endpoints_switch_when_one_stops_answering(caplog):
    dead = f"http://127.0.0.1:{free_port()}"
    with start_server(shardstream.Engine()) as live:
        engine = shardstream.connect(f"{dead},{live.url}", retries=0)
        with caplog.at_level(logging.WARNING, logger="shardstream.failover"):
            engine.create_stream("s", 1).put_record(b"x", "k")
        assert engine.url == live.url and engine.endpoint_switches == 1
        assert f"endpoint {dead}" in caplog.text and f"switching to {live.url}" in caplog.text
        producer = shardstream.Producer(engine.stream("s"))
        assert producer.send(b"y", "k").result(timeout=10)
        producer.close()


def test_a_client_waits_on_an_unpromoted_standby_until_promotion(pair):
    a, b, _ = pair
    shardstream.connect(a).create_stream("s", 1)
    shardstream.Replicator(a, b).sync()
    dead = f"http://127.0.0.1:{free_port()}"
    engine = shardstream.connect(f"{dead},{b}", retries=0, failover_timeout=30)
    switched = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record):
            if engine.endpoint_switches >= 3:  # refused by the standby at least once, still trying
                switched.set()

    handler = Watch()
    logging.getLogger("shardstream.failover").addHandler(handler)
    try:
        result = {}
        writer = threading.Thread(target=lambda: result.update(engine.stream("s").put_record(b"x", "k")))
        writer.start()
        assert switched.wait(10)
        assert "ShardId" not in result
        promote(b)
        writer.join(10)
        assert result["ShardId"] == "shardId-000000000000"
    finally:
        logging.getLogger("shardstream.failover").removeHandler(handler)
