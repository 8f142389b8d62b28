"""The live dashboard: ``GET /_shardstream/dashboard`` and its data, ``GET /_shardstream/dashboard/data``.

The page (HTML, CSS and JavaScript shipped as package data under
``server/static/dashboard/``; nothing is loaded from anywhere else) fetches
the data endpoint once a second and redraws in place, without reloads.  The
data is one JSON snapshot of every region the server serves
(:func:`snapshot`):

* per stream: its status, its shards (id, hash-key range as decimal strings,
  parent, adjacent parent, children, open or closed, records held), and
  per-second series of the last ``seconds`` (default 120, at most 3600)
  complete seconds: records and bytes in (``IncomingRecords``,
  ``IncomingBytes``) and out (``GetRecords.Records``, ``GetRecords.Bytes``),
  the largest ``GetRecords.IteratorAgeMilliseconds``, throttles (read and
  write ``...ProvisionedThroughputExceeded``), and each consumer group's lag
  (``ConsumerLagRecords``, summed over its shards);
* per queue: records in flight and dead letters, now and per second;
* alarms: name, state, metric, threshold and reason.

Every series comes from the engine's :class:`~shardstream.metrics.MetricRegistry`
(``table``), so the page shows what the metrics API answers.
"""

from __future__ import annotations

import asyncio
from importlib import resources

import orjson
from aiohttp import web

__all__ = ["DASHBOARD_PATH", "DATA_PATH", "DEFAULT_SECONDS", "MAX_SECONDS", "install", "snapshot"]

DASHBOARD_PATH = "/_shardstream/dashboard"
DATA_PATH = "/_shardstream/dashboard/data"
_STATIC_PATH = "/_shardstream/dashboard/static/{name}"
#: Seconds of series a snapshot carries unless ``?seconds=`` says otherwise.
DEFAULT_SECONDS = 120
#: Most seconds ``?seconds=`` may ask for.
MAX_SECONDS = 3600
_KINESIS = "AWS/Kinesis"
_OURS = "shardstream"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# (key in the snapshot, metric name, statistic): the per-stream series
_STREAM_SERIES = (
    ("records_in", "IncomingRecords", "sum"),
    ("bytes_in", "IncomingBytes", "sum"),
    ("records_out", "GetRecords.Records", "sum"),
    ("bytes_out", "GetRecords.Bytes", "sum"),
    ("iterator_age_ms", "GetRecords.IteratorAgeMilliseconds", "maximum"),
    ("write_throttles", "WriteProvisionedThroughputExceeded", "sum"),
    ("read_throttles", "ReadProvisionedThroughputExceeded", "sum"),
)
_GAUGES = ("iterator_age_ms",)  # None where no second was recorded (no read), not 0


def _per_second(metrics, name: str, dims, namespace: str, stat: str, start: int, end: int, gauge: bool) -> list:
    """``stat`` of ``name`` for each second in ``[start, end)``: 0 (or None for a gauge) where none was recorded."""
    table = metrics.table(name, dims, namespace=namespace, start=start, end=end)
    out: list = [None if gauge else 0] * (end - start)
    if table.num_rows:
        stamps = table.column("timestamp").cast("int64").to_pylist()
        for ms, value in zip(stamps, table.column(stat).to_pylist()):
            i = ms // 1000 - start
            if 0 <= i < len(out):
                out[i] = int(value) if float(value).is_integer() else value
    return out


def _shards(stream) -> list[dict]:
    """The shards of ``stream`` with their lineage (children worked out from the parents)."""
    children: dict[str, list[str]] = {}
    for shard in stream.shards:
        for parent in (shard.parent, shard.adjacent_parent):
            if parent is not None:
                children.setdefault(parent, []).append(shard.shard_id)
    out = []
    for shard, log in zip(stream.shards, stream.logs):
        out.append(
            {
                "id": shard.shard_id,
                "starting_hash_key": str(shard.starting_hash_key),
                "ending_hash_key": str(shard.ending_hash_key),
                "parent": shard.parent,
                "adjacent_parent": shard.adjacent_parent,
                "children": children.get(shard.shard_id, []),
                "open": shard.is_open,
                "records": int(log.count),
            }
        )
    return out


def _lag_by_group(metrics, start: int, end: int) -> dict[str, dict[str, list]]:
    """``{stream: {group: per-second lag summed over the group's shards}}`` (None where no shard said)."""
    out: dict[str, dict[str, list]] = {}
    for namespace, name, dims in metrics.keys():
        if namespace != _OURS or name != "ConsumerLagRecords":
            continue
        d = dict(dims)
        shard = _per_second(metrics, name, dims, namespace, "maximum", start, end, gauge=True)
        group = out.setdefault(d.get("StreamName", ""), {}).setdefault(d.get("ConsumerGroup", ""), [None] * len(shard))
        for i, value in enumerate(shard):
            if value is not None:
                group[i] = (group[i] or 0) + value
    return out


def _stream(metrics, stream, start: int, end: int, lag: dict) -> dict:
    dims = {"StreamName": stream.name}
    series = {
        key: _per_second(metrics, name, dims, _KINESIS, stat, start, end, key in _GAUGES)
        for key, name, stat in _STREAM_SERIES
    }
    totals = {key: sum(v for v in values if v is not None) for key, values in series.items() if key not in _GAUGES}
    ages = [v for v in series["iterator_age_ms"] if v is not None]
    totals["iterator_age_ms"] = max(ages) if ages else None
    return {
        "name": stream.name,
        "status": stream.status,
        "shards": _shards(stream),
        "series": series,
        "totals": totals,
        "consumer_lag": lag.get(stream.name, {}),
    }


def _queue(metrics, queue, start: int, end: int) -> dict:
    dims = {"QueueName": queue.name}
    in_flight, dead = queue.counts()
    return {
        "name": queue.name,
        "in_flight": int(in_flight),
        "dead_letters": int(dead),
        "series": {
            "in_flight": _per_second(metrics, "QueueRecordsInFlight", dims, _OURS, "maximum", start, end, True),
            "dead_letters": _per_second(metrics, "QueueDeadLetterRecords", dims, _OURS, "maximum", start, end, True),
        },
    }


def _alarms(engine) -> list[dict]:
    out = []
    token = None
    while True:
        page = engine.alarms.describe_alarms(**({"NextToken": token} if token else {}))
        for alarm in page.get("MetricAlarms", []):
            out.append(
                {
                    "name": alarm["AlarmName"],
                    "state": alarm["StateValue"],
                    "namespace": alarm.get("Namespace"),
                    "metric": alarm.get("MetricName"),
                    "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
                    "comparison": alarm.get("ComparisonOperator"),
                    "threshold": alarm.get("Threshold"),
                    "reason": alarm.get("StateReason"),
                }
            )
        token = page.get("NextToken")
        if not token:
            return out


def snapshot(engines, seconds: int = DEFAULT_SECONDS) -> dict:
    """One JSON-ready snapshot of ``engines`` for the dashboard (see the module's documentation).

    Parameters
    ----------
    engines : list of (str, Engine)
        ``(region, engine)`` pairs.
    seconds : int
        Complete seconds of series, ending with the one before now.

    Returns
    -------
    dict
        ``{"regions": [{"region", "now", "start", "end", "streams", "queues", "alarms"}], "seconds"}``;
        series cover the seconds ``start`` (included) to ``end`` (excluded), epoch seconds.
    """
    regions = []
    for region, engine in engines:
        metrics = engine.metrics
        now_s = metrics.now_ms() // 1000
        start, end = now_s - seconds, now_s
        lag = _lag_by_group(metrics, start, end)
        streams = sorted(engine.catalog.live(), key=lambda s: s.name)
        regions.append(
            {
                "region": region,
                "now": now_s,
                "start": start,
                "end": end,
                "streams": [_stream(metrics, s, start, end, lag) for s in streams],
                "queues": [_queue(metrics, q, start, end) for q in sorted(engine.queues.all(), key=lambda q: q.name)],
                "alarms": _alarms(engine),
            }
        )
    return {"seconds": seconds, "regions": regions}


def _asset(name: str) -> bytes | None:
    """The packaged file ``static/dashboard/<name>``, or None if there is no such file."""
    if "/" in name or "\\" in name or name.startswith(".") or name == "":
        return None
    resource = resources.files(__package__).joinpath("static", "dashboard", name)
    try:
        return resource.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def install(app: web.Application, engines_key) -> None:
    """Add the dashboard's routes to ``app`` (before its catch-all route).

    Parameters
    ----------
    app : aiohttp.web.Application
    engines_key : aiohttp.web.AppKey
        Where ``app`` holds its regions (an object whose ``items()`` gives ``(region, engine)`` pairs).
    """

    async def page(request: web.Request) -> web.Response:
        body = _asset("index.html")
        return web.Response(body=body, headers={"Content-Type": _CONTENT_TYPES[".html"], "Cache-Control": "no-cache"})

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = _asset(name)
        suffix = name[name.rfind(".") :] if "." in name else ""
        if body is None or suffix not in _CONTENT_TYPES:
            raise web.HTTPNotFound()
        return web.Response(body=body, headers={"Content-Type": _CONTENT_TYPES[suffix], "Cache-Control": "no-cache"})

    async def data(request: web.Request) -> web.Response:
        try:
            seconds = int(request.query.get("seconds", DEFAULT_SECONDS))
        except ValueError:
            raise web.HTTPBadRequest(text="seconds must be an integer") from None
        if not 1 <= seconds <= MAX_SECONDS:
            raise web.HTTPBadRequest(text=f"seconds must be between 1 and {MAX_SECONDS}")
        engines = request.app[engines_key].items()
        body = await asyncio.get_running_loop().run_in_executor(None, _dumps, engines, seconds)
        return web.Response(body=body, headers={"Content-Type": "application/json", "Cache-Control": "no-store"})

    app.router.add_get(DASHBOARD_PATH, page)
    app.router.add_get(DATA_PATH, data)
    app.router.add_get(_STATIC_PATH, static)


def _dumps(engines, seconds: int) -> bytes:
    return orjson.dumps(snapshot(engines, seconds))
