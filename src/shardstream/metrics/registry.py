"""An engine's metrics: series by namespace, name and dimensions, asked in CloudWatch's shapes or as Arrow.

``engine.metrics`` is a :class:`MetricRegistry`.  The engine's parts record
into it (per call or per batch; the :class:`~shardstream.metrics.sampler.MetricSampler`
turns the core's cumulative counters into per-second values), and anyone can
ask it:

* :meth:`MetricRegistry.get_metric_statistics`, :meth:`MetricRegistry.get_metric_data`
  and :meth:`MetricRegistry.list_metrics`: CloudWatch's operations, in boto3's shapes;
* :meth:`MetricRegistry.table`: one series as a ``pyarrow.Table`` per period
  (``.to_pandas()`` and pandas' ``.plot()`` from there).

Series live in the namespace ``AWS/Kinesis`` under Kinesis's names and units
(``IncomingRecords``, ``GetRecords.IteratorAgeMilliseconds``, ...) with the
dimensions ``StreamName`` (and ``ShardId`` for shard-level metrics), and in
``shardstream`` for our own (queue depth, consumer-group lag, ...).  Each is
kept as 1-second aggregates for ``window_s`` seconds (3 hours by default):
CloudWatch's high-resolution storage, in fixed memory per series.

Examples
--------
>>> from shardstream.metrics import MetricRegistry
>>> now = [1_700_000_000_000]
>>> metrics = MetricRegistry(lambda: now[0])
>>> metrics.record("IncomingRecords", {"StreamName": "s"}, 500, unit="Count")
>>> now[0] += 1_000
>>> metrics.record("IncomingRecords", {"StreamName": "s"}, 300, unit="Count")
>>> stats = metrics.get_metric_statistics(
...     "AWS/Kinesis", "IncomingRecords", [{"Name": "StreamName", "Value": "s"}],
...     1_699_999_999, 1_700_000_060, 60, ["Sum", "SampleCount"])
>>> [(d["Sum"], d["SampleCount"]) for d in stats["Datapoints"]]
[(800.0, 2.0)]
"""

from __future__ import annotations

import re
import threading
import weakref

import numpy as np
import pyarrow as pa

from .._native import system_now_ms
from ..errors import InvalidParameterValueException, MissingRequiredParameterException
from ..models import ms_to_datetime, to_epoch_ms
from .series import BUCKETS, SecondSeries, bucket_value

__all__ = ["KINESIS", "OURS", "STATISTICS", "MetricRegistry", "clock_ms"]

KINESIS = "AWS/Kinesis"
OURS = "shardstream"
#: CloudWatch's plain statistics.
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
DEFAULT_WINDOW_S = 3 * 3600
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,10})?|100)$")
_MAX_DATAPOINTS = 100_800


def clock_ms(clock):
    """A function giving ``clock()`` as int ms, or the system's time in ms when ``clock`` is None.

    Parameters
    ----------
    clock : callable or None
    """
    if clock is None:
        return system_now_ms
    return lambda: int(clock())


def _dims_key(dimensions) -> tuple:
    if isinstance(dimensions, tuple):  # already a key's (name, value) pairs
        return tuple(sorted(dimensions))
    if isinstance(dimensions, dict):
        return tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))
    return tuple(sorted((d["Name"], d["Value"]) for d in dimensions or ()))


def _period_ok(period) -> bool:
    return isinstance(period, int) and not isinstance(period, bool) and (period in (1, 5, 10, 30) or period % 60 == 0)


class MetricRegistry:
    """The metric series of one engine (see the module's documentation).

    Parameters
    ----------
    now_ms : callable
        The engine's clock (ms since the epoch).
    window_s : int
        Seconds of 1-second aggregates kept per series (default 3 hours).
    enabled : bool
        False makes :meth:`record` do nothing (the metrics-off side of the cost benchmark).
    """

    def __init__(self, now_ms, window_s: int = DEFAULT_WINDOW_S, enabled: bool = True):
        self.now_ms = now_ms
        self.window_s = int(window_s)
        self.enabled = enabled
        self._lock = threading.Lock()  # guards _series and _units
        self._series: dict[tuple, SecondSeries] = {}
        self._units: dict[tuple, str] = {}
        self._meters: weakref.WeakSet = weakref.WeakSet()
        self._sources: weakref.WeakSet = weakref.WeakSet()

    def add_meter(self, meter) -> None:
        """Flush ``meter`` (a :class:`~.call_meter.CallMeter`, held weakly) each second and before every answer.

        Parameters
        ----------
        meter : CallMeter
        """
        with self._lock:
            self._meters.add(meter)

    def add_source(self, source) -> None:
        """Have ``source.sample_metrics(self)`` called once a second by the sampler (held weakly).

        Parameters
        ----------
        source : object
            Anything with ``sample_metrics(metrics)`` (a producer's
            :class:`~shardstream.producing.stats.ProducerMetrics`).
        """
        with self._lock:
            self._sources.add(source)

    def sample_sources(self) -> None:
        """Call every source's ``sample_metrics`` (the sampler, once a second)."""
        with self._lock:
            sources = list(self._sources)
        for source in sources:
            source.sample_metrics(self)

    def flush_meters(self) -> None:
        """Hand every meter's pending second to its series."""
        with self._lock:
            meters = list(self._meters)
        for meter in meters:
            meter.flush()

    # -- recording -------------------------------------------------------------------------

    def series(self, name: str, dimensions, *, unit: str, namespace: str = KINESIS, histogram: bool = False):
        """The series of ``name`` with ``dimensions`` (made on first use).

        Parameters
        ----------
        name : str
        dimensions : dict or list of {"Name", "Value"}
        unit : str
            CloudWatch's unit (``Count``, ``Bytes``, ``Milliseconds``, ...).
        namespace : str
        histogram : bool
            Keep percentiles (latencies, ages).
        """
        key = (namespace, name, _dims_key(dimensions))
        found = self._series.get(key)
        if found is None:
            with self._lock:
                found = self._series.get(key)
                if found is None:
                    found = self._series[key] = SecondSeries(self.window_s, histogram)
                    self._units[key] = unit
        return found

    def record(
        self,
        name: str,
        dimensions,
        value: float,
        *,
        unit: str,
        count: int = 1,
        low: float | None = None,
        high: float | None = None,
        namespace: str = KINESIS,
        histogram: bool = False,
    ) -> None:
        """Record ``count`` samples summing to ``value`` now.

        Parameters
        ----------
        name, dimensions, unit, namespace, histogram
            As for :meth:`series`.
        value : float
            The samples' sum.
        count : int
        low, high : float, optional
            Their extremes (default: their mean).
        """
        if self.enabled:
            series = self.series(name, dimensions, unit=unit, namespace=namespace, histogram=histogram)
            series.add(self.now_ms() // 1000, value, count, low, high)

    def record_values(self, name: str, dimensions, values, *, unit: str, namespace: str = KINESIS) -> None:
        """Record each of ``values`` now, with percentiles (a histogram series).

        Parameters
        ----------
        name, dimensions, unit, namespace
            As for :meth:`series`.
        values : array-like of float
        """
        if self.enabled:
            series = self.series(name, dimensions, unit=unit, namespace=namespace, histogram=True)
            series.add_values(self.now_ms() // 1000, values)

    def keys(self) -> list[tuple]:
        """Every ``(namespace, name, dimensions)`` recorded, sorted."""
        with self._lock:
            return sorted(self._series)

    # -- asking ---------------------------------------------------------------------------------

    def _periods(self, key: tuple, start_s: int, end_s: int, period: int) -> dict:
        self.flush_meters()
        series = self._series.get(key)
        if series is None:
            return {}
        raw = series.seconds(start_s, end_s)
        if not len(raw["second"]):
            return {}
        slot = (raw["second"] - start_s) // period
        starts, first = np.unique(slot, return_index=True)
        out = {
            "start": start_s + starts * period,
            "sum": np.add.reduceat(raw["sum"], first),
            "count": np.add.reduceat(raw["count"], first),
            "min": np.minimum.reduceat(raw["min"], first),
            "max": np.maximum.reduceat(raw["max"], first),
        }
        if "hist" in raw:
            out["hist"] = np.add.reduceat(raw["hist"], first, axis=0)
        return out

    @staticmethod
    def _percentile(hist: np.ndarray, p: float) -> np.ndarray:
        cumulative = np.cumsum(hist, axis=1)
        total = cumulative[:, -1:]
        rank = np.maximum(1, np.ceil(total * p / 100.0))
        buckets = (cumulative < rank).sum(axis=1)
        return np.array([bucket_value(int(b)) for b in np.minimum(buckets, BUCKETS - 1)])

    def _statistic(self, periods: dict, stat: str) -> np.ndarray:
        if stat == "Sum":
            return periods["sum"]
        if stat == "SampleCount":
            return periods["count"].astype(np.float64)
        if stat == "Average":
            return periods["sum"] / np.maximum(periods["count"], 1)
        if stat == "Minimum":
            return periods["min"]
        if stat == "Maximum":
            return periods["max"]
        if "hist" not in periods:
            return np.full(len(periods["start"]), np.nan)
        values = self._percentile(periods["hist"], float(stat[1:]))
        # a percentile never lies outside what was seen
        return np.clip(values, periods["min"], periods["max"])

    @staticmethod
    def _check_time(start, end, period) -> tuple[int, int]:
        if start is None or end is None or period is None:
            missing = "StartTime" if start is None else "EndTime" if end is None else "Period"
            raise MissingRequiredParameterException(f"The parameter {missing} is required.")
        if not _period_ok(period):
            raise InvalidParameterValueException("The parameter Period must be 1, 5, 10, 30, or a multiple of 60.")
        start_s, end_s = to_epoch_ms(start) // 1000, to_epoch_ms(end) // 1000
        if end_s <= start_s:
            raise InvalidParameterValueException("The parameter StartTime must be less than the parameter EndTime.")
        return start_s, end_s

    @staticmethod
    def _check_stat(stat) -> str:
        if stat in STATISTICS or (isinstance(stat, str) and _PERCENTILE.match(stat)):
            return stat
        raise InvalidParameterValueException(f"The value {stat} for parameter Stat is not supported.")

    def get_metric_statistics(
        self,
        namespace,
        metric_name,
        dimensions=None,
        start_time=None,
        end_time=None,
        period=None,
        statistics=None,
        extended_statistics=None,
        unit=None,
    ) -> dict:
        """CloudWatch's GetMetricStatistics: one datapoint per period that has data.

        Parameters
        ----------
        namespace, metric_name : str
        dimensions : list of {"Name", "Value"}, optional
            Exactly the series' dimensions.
        start_time, end_time : datetime or epoch seconds
        period : int
            1, 5, 10, 30 or a multiple of 60 (seconds).
        statistics : list of str, optional
            From ``SampleCount``, ``Average``, ``Sum``, ``Minimum``, ``Maximum``.
        extended_statistics : list of str, optional
            Percentiles such as ``p99`` (series that keep histograms).
        unit : str, optional
            Only answer when the series has this unit.

        Returns
        -------
        dict
            ``{"Label": metric_name, "Datapoints": [{"Timestamp", <statistic>: value, "Unit",
            "ExtendedStatistics": {...}}]}`` in time order.
        """
        if not namespace or not metric_name:
            raise MissingRequiredParameterException("The parameters Namespace and MetricName are required.")
        start_s, end_s = self._check_time(start_time, end_time, period)
        statistics = [self._check_stat(s) for s in statistics or ()]
        if any(s not in STATISTICS for s in statistics):
            raise InvalidParameterValueException("Statistics must be SampleCount, Average, Sum, Minimum or Maximum.")
        extended = [self._check_stat(s) for s in extended_statistics or ()]
        if not statistics and not extended:
            raise MissingRequiredParameterException("Either Statistics or ExtendedStatistics must be given.")
        wanted = -(-(end_s - start_s) // period)
        if wanted > 1440:
            raise InvalidParameterValueException(
                f"You have requested up to {wanted:,} datapoints, which exceeds the limit of 1,440. You may "
                "reduce the datapoints requested by increasing Period, or decreasing the time range."
            )
        key = (namespace, metric_name, _dims_key(dimensions))
        series_unit = self._units.get(key)
        periods = self._periods(key, start_s, end_s, period) if unit in (None, series_unit) else {}
        points = []
        if periods:
            values = {s: self._statistic(periods, s) for s in statistics + extended}
            for i, start in enumerate(periods["start"].tolist()):
                point: dict = {"Timestamp": ms_to_datetime(start * 1000), "Unit": series_unit}
                for s in statistics:
                    point[s] = float(values[s][i])
                if extended:
                    point["ExtendedStatistics"] = {s: float(values[s][i]) for s in extended}
                points.append(point)
        return {"Label": metric_name, "Datapoints": points}

    def get_metric_data(
        self, metric_data_queries, start_time=None, end_time=None, next_token=None, scan_by=None, max_datapoints=None
    ) -> dict:
        """CloudWatch's GetMetricData for ``MetricStat`` queries (metric math is not supported).

        Parameters
        ----------
        metric_data_queries : list of dict
            ``{"Id", "MetricStat": {"Metric": {"Namespace", "MetricName", "Dimensions"},
            "Period", "Stat", "Unit"}, "Label", "ReturnData"}``.
        start_time, end_time : datetime or epoch seconds
        next_token : str, optional
            Not used: every answer is complete.
        scan_by : {"TimestampDescending", "TimestampAscending"}, optional
        max_datapoints : int, optional

        Returns
        -------
        dict
            ``{"MetricDataResults": [{"Id", "Label", "Timestamps", "Values", "StatusCode"}], "Messages": []}``.
        """
        if not metric_data_queries:
            raise MissingRequiredParameterException("The parameter MetricDataQueries is required.")
        if scan_by not in (None, "TimestampDescending", "TimestampAscending"):
            raise InvalidParameterValueException(f"The value {scan_by} for parameter ScanBy is not supported.")
        budget = _MAX_DATAPOINTS if max_datapoints is None else int(max_datapoints)
        results = []
        for query in metric_data_queries:
            qid = query.get("Id")
            if not qid or not re.match(r"^[a-z][a-zA-Z0-9_]*$", qid):
                raise InvalidParameterValueException(
                    f"The value {qid} for parameter MetricDataQueries.member.Id is not valid: it must start "
                    "with a lowercase letter and hold only letters, digits and underscores."
                )
            if "Expression" in query:
                raise InvalidParameterValueException("Metric math expressions are not supported by shardstream.")
            stat = query.get("MetricStat")
            if not stat:
                raise MissingRequiredParameterException(f"Query {qid} needs a MetricStat.")
            metric = stat.get("Metric") or {}
            start_s, end_s = self._check_time(start_time, end_time, stat.get("Period"))
            name = self._check_stat(stat.get("Stat"))
            key = (metric.get("Namespace"), metric.get("MetricName"), _dims_key(metric.get("Dimensions")))
            unit = stat.get("Unit")
            periods = self._periods(key, start_s, end_s, stat["Period"]) if unit in (None, self._units.get(key)) else {}
            times = [ms_to_datetime(s * 1000) for s in periods["start"].tolist()] if periods else []
            values = self._statistic(periods, name).tolist() if periods else []
            if scan_by != "TimestampAscending":
                times, values = times[::-1], values[::-1]
            if query.get("ReturnData", True) is False:
                continue
            times, values = times[:budget], values[:budget]
            budget -= len(times)
            results.append(
                {
                    "Id": qid,
                    "Label": query.get("Label") or metric.get("MetricName"),
                    "Timestamps": times,
                    "Values": [float(x) for x in values],
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    def list_metrics(self, namespace=None, metric_name=None, dimensions=None, next_token=None) -> dict:
        """CloudWatch's ListMetrics: the series with data in the window, filtered.

        Parameters
        ----------
        namespace, metric_name : str, optional
        dimensions : list of {"Name", "Value"?}, optional
            A series matches when it has every one (any value where ``Value`` is absent).
        next_token : str, optional
            Not used: one page holds every metric.

        Returns
        -------
        dict
            ``{"Metrics": [{"Namespace", "MetricName", "Dimensions": [{"Name", "Value"}]}]}``.
        """
        self.flush_meters()
        wanted = [(d.get("Name"), d.get("Value")) for d in dimensions or ()]
        out = []
        for key in self.keys():
            ns, name, dims = key
            if namespace is not None and ns != namespace or metric_name is not None and name != metric_name:
                continue
            if self._series[key].empty:
                continue
            have = dict(dims)
            if all(k in have and (v is None or have[k] == v) for k, v in wanted):
                out.append(
                    {"Namespace": ns, "MetricName": name, "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}
                )
        return {"Metrics": out}

    def plot(
        self, name: str, dimensions=None, *, statistic: str = "sum", namespace: str = KINESIS, period: int = 1, ax=None
    ):
        """Draw one series with matplotlib (the ``viz`` extra) and pandas; returns the ``Axes``.

        Parameters
        ----------
        name, dimensions, namespace, period
            As for :meth:`table`.
        statistic : str
            The column of :meth:`table` to draw (``sum``, ``average``, ``maximum``, ``p99``, ...).
        ax : matplotlib.axes.Axes, optional
            Where to draw (default: a new figure).

        Raises
        ------
        ImportError
            matplotlib or pandas is not installed (``pip install 'shardstream[viz,pandas]'``).
        KeyError
            ``statistic`` is not a column of the series' table.
        """
        try:
            import matplotlib.pyplot as plt  # noqa: F401  (pandas draws with it)
            import pandas  # noqa: F401
        except ImportError as exc:
            hint = "pip install 'shardstream[viz,pandas]'"
            raise ImportError(f"plotting metrics needs matplotlib and pandas: {hint}") from exc
        table = self.table(name, dimensions, namespace=namespace, period=period)
        if statistic not in table.column_names:
            raise KeyError(f"{statistic!r} is not a statistic of {name}: {', '.join(table.column_names[1:])}")
        frame = table.to_pandas()
        return frame.plot(x="timestamp", y=statistic, ax=ax, title=f"{name} ({statistic}, {period} s)", legend=False)

    def table(self, name: str, dimensions=None, *, namespace: str = KINESIS, period: int = 1, start=None, end=None):
        """One series per period as a ``pyarrow.Table`` (``.to_pandas().plot(x="timestamp")`` draws it).

        Parameters
        ----------
        name : str
        dimensions : dict or list of {"Name", "Value"}, optional
        namespace : str
        period : int
            Seconds per row (1, 5, 10, 30 or a multiple of 60).
        start, end : datetime or epoch seconds, optional
            Default: the whole window, up to now.

        Returns
        -------
        pyarrow.Table
            ``timestamp``, ``sum``, ``sample_count``, ``minimum``, ``maximum``, ``average``
            (and ``p50``, ``p90``, ``p99``, ``p99.9`` for series with histograms).
        """
        now_s = self.now_ms() // 1000
        start = now_s - self.window_s if start is None else start
        end = now_s + 1 if end is None else end
        start_s, end_s = self._check_time(start, end, period)
        key = (namespace, name, _dims_key(dimensions))
        periods = self._periods(key, start_s, end_s, period)
        if not periods:
            periods = {k: np.empty(0) for k in ("start", "sum", "count", "min", "max")}
        columns = {
            "timestamp": pa.array(np.asarray(periods["start"], np.int64) * 1000, pa.timestamp("ms", tz="UTC")),
            "sum": pa.array(periods["sum"], pa.float64()),
            "sample_count": pa.array(np.asarray(periods["count"], np.int64), pa.int64()),
            "minimum": pa.array(periods["min"], pa.float64()),
            "maximum": pa.array(periods["max"], pa.float64()),
            "average": pa.array(periods["sum"] / np.maximum(periods["count"], 1), pa.float64()),
        }
        if "hist" in periods:
            for p in ("p50", "p90", "p99", "p99.9"):
                columns[p] = pa.array(self._statistic(periods, p), pa.float64())
        return pa.table(columns)
