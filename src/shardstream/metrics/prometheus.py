"""The engine's metrics in Prometheus's text format (``GET /_shardstream/metrics``).

:class:`EngineCollector` is a ``prometheus_client`` collector: on each scrape
it reads the engines' counters and latest per-second values, so nothing is
kept twice.  What it exposes:

* ``shardstream_incoming_records_total`` / ``shardstream_incoming_bytes_total``
  ``{region, stream, shard}``: counters, straight from the shard rings (records
  and bytes appended since the engine opened the stream);
* ``shardstream_shard_records`` ``{region, stream, shard}``: records the shard holds;
* ``shardstream_get_records_iterator_age_milliseconds`` ``{region, stream}``: the
  largest iterator age GetRecords saw in the last minute;
* ``shardstream_get_records_total`` ``{region, stream}``: GetRecords calls in the window;
* ``shardstream_queue_records_in_flight`` / ``shardstream_queue_dead_letter_records``
  ``{region, queue}``: queue state now;
* ``shardstream_consumer_lag_records`` ``{region, stream, group, shard}``: a
  consumer group's lag as of its last read (groups reading embedded streams
  of the served engine, within the last minute).

Needs ``prometheus_client`` (the ``server`` extra).
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

__all__ = ["EngineCollector", "exposition"]

_RECENT_S = 60


class EngineCollector:
    """A Prometheus collector over engines (see the module's documentation).

    Parameters
    ----------
    engines : callable
        Returns the engines to expose, ``[(region, engine), ...]``, at each scrape.
    """

    def __init__(self, engines):
        self._engines = engines

    def collect(self):
        """The metric families of one scrape (``prometheus_client`` calls it)."""
        records = CounterMetricFamily(
            "shardstream_incoming_records", "Records appended to a shard", labels=["region", "stream", "shard"]
        )
        nbytes = CounterMetricFamily(
            "shardstream_incoming_bytes", "Key and data bytes appended to a shard", labels=["region", "stream", "shard"]
        )
        shard_labels = ["region", "stream", "shard"]
        held = GaugeMetricFamily("shardstream_shard_records", "Records a shard holds", labels=shard_labels)
        age = GaugeMetricFamily(
            "shardstream_get_records_iterator_age_milliseconds",
            "Largest GetRecords iterator age in the last minute",
            labels=["region", "stream"],
        )
        gets = CounterMetricFamily(
            "shardstream_get_records", "GetRecords calls in the metrics window", labels=["region", "stream"]
        )
        in_flight = GaugeMetricFamily(
            "shardstream_queue_records_in_flight", "Records delivered and not acknowledged", labels=["region", "queue"]
        )
        dead = GaugeMetricFamily("shardstream_queue_dead_letter_records", "Dead letters", labels=["region", "queue"])
        lag = GaugeMetricFamily(
            "shardstream_consumer_lag_records",
            "Records after the last one a consumer group was handed, as of its last read in the last minute",
            labels=["region", "stream", "group", "shard"],
        )
        for region, engine in self._engines():
            metrics = engine.metrics
            now_s = metrics.now_ms() // 1000
            for stream in engine.catalog.live():
                for shard, log in zip(stream.shards, stream.logs):
                    labels = [region, stream.name, shard.shard_id]
                    records.add_metric(labels, log.count + log.evicted_records + log.trimmed_records)
                    nbytes.add_metric(labels, log.appended_bytes)
                    held.add_metric(labels, log.count)
                dims = {"StreamName": stream.name}
                since = now_s - _RECENT_S
                recent = metrics.table("GetRecords.IteratorAgeMilliseconds", dims, start=since, end=now_s + 1)
                if recent.num_rows:
                    age.add_metric([region, stream.name], max(recent.column("maximum").to_pylist()))
                calls = metrics.table("GetRecords.Success", dims)
                gets.add_metric([region, stream.name], sum(calls.column("sum").to_pylist()))
            for namespace, name, dims in metrics.keys():
                if namespace == "shardstream" and name == "ConsumerLagRecords":
                    recent = metrics.table(name, dims, namespace=namespace, start=now_s - _RECENT_S, end=now_s + 1)
                    if recent.num_rows:
                        d = dict(dims)
                        labels = [region, d["StreamName"], d["ConsumerGroup"], d["ShardId"]]
                        lag.add_metric(labels, recent.column("maximum")[-1].as_py())
            for queue in engine.queues.all():
                flying, dead_letters = queue.counts()
                in_flight.add_metric([region, queue.name], flying)
                dead.add_metric([region, queue.name], dead_letters)
        yield from (records, nbytes, held, age, gets, in_flight, dead, lag)


def exposition(engines) -> bytes:
    """The Prometheus text exposition of ``engines`` (a callable as :class:`EngineCollector` takes).

    Parameters
    ----------
    engines : callable
    """
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engines))
    return generate_latest(registry)
