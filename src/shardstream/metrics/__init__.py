"""Metrics: Kinesis's CloudWatch metrics and our own, counted where the work happens.

:class:`MetricRegistry` (``engine.metrics``) keeps 1-second aggregates per
series and answers CloudWatch's GetMetricStatistics, GetMetricData and
ListMetrics; :class:`MetricSampler` turns the core's cumulative counters
(records and bytes appended per shard) and the state of queues into
per-second values once a second.
"""

from .registry import KINESIS, OURS, STATISTICS, MetricRegistry
from .series import SecondSeries

__all__ = ["KINESIS", "OURS", "STATISTICS", "MetricRegistry", "SecondSeries"]
