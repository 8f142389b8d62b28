"""``shardstream top``: a server's streams, shards, queues and consumer groups, live in the terminal.

It reads the server's Prometheus endpoint (``GET /_shardstream/metrics``) every
``--interval`` seconds and shows rates from the difference of two reads:
records and bytes in and out per second per stream and shard, records held,
the GetRecords iterator age, queue records in flight and dead letters, and
consumer-group lag.  ``--once`` prints one view (two reads ``--interval``
apart) and exits; ``--json`` prints it as JSON instead of a table.

Examples
--------
::

    shardstream serve &
    shardstream top --url http://127.0.0.1:4567
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import defaultdict

import click

__all__ = ["Snapshot", "scrape", "top", "view"]


def scrape(url: str, timeout: float = 5.0) -> dict:
    """The samples of ``url``'s ``/_shardstream/metrics``: ``{(name, labels tuple): value}``.

    Parameters
    ----------
    url : str
        The server's base URL.
    timeout : float
    """
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url.rstrip("/") + "/_shardstream/metrics", timeout=timeout) as response:
        text = response.read().decode("utf-8")
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


class Snapshot:
    """What two scrapes ``seconds`` apart say (see :func:`view`).

    Parameters
    ----------
    before, after : dict
        :func:`scrape` results.
    seconds : float
        Time between them.
    """

    def __init__(self, before: dict, after: dict, seconds: float):
        self.before, self.after, self.seconds = before, after, max(seconds, 1e-9)

    def _rate(self, key) -> float:
        return max(0.0, self.after.get(key, 0.0) - self.before.get(key, 0.0)) / self.seconds

    def _rows(self, name: str):
        for (n, labels), value in sorted(self.after.items()):
            if n == name:
                yield dict(labels), (n, labels), value

    def as_dict(self) -> dict:
        """The view as JSON-ready data: ``streams``, ``shards``, ``queues`` and ``groups``."""
        streams: dict = defaultdict(
            lambda: {"records_in_per_s": 0.0, "bytes_in_per_s": 0.0, "records_held": 0, "shards": 0}
        )
        shards = []
        for labels, key, _ in self._rows("shardstream_incoming_records_total"):
            stream = streams[(labels["region"], labels["stream"])]
            bytes_key = ("shardstream_incoming_bytes_total", key[1])
            held = int(self.after.get(("shardstream_shard_records", key[1]), 0))
            row = {
                "region": labels["region"],
                "stream": labels["stream"],
                "shard": labels["shard"],
                "records_in_per_s": self._rate(key),
                "bytes_in_per_s": self._rate(bytes_key),
                "records_held": held,
            }
            shards.append(row)
            stream["records_in_per_s"] += row["records_in_per_s"]
            stream["bytes_in_per_s"] += row["bytes_in_per_s"]
            stream["records_held"] += held
            stream["shards"] += 1
        out_streams = []
        for (region, name), row in sorted(streams.items()):
            labels = (("region", region), ("stream", name))
            row.update(
                region=region,
                stream=name,
                records_out_per_s=self._rate(("shardstream_get_records_records_total", labels)),
                get_records_per_s=self._rate(("shardstream_get_records_total", labels)),
                iterator_age_ms=self.after.get(("shardstream_get_records_iterator_age_milliseconds", labels)),
            )
            out_streams.append(row)
        queues = [
            {
                "region": labels["region"],
                "queue": labels["queue"],
                "in_flight": int(value),
                "dead_letters": int(self.after.get(("shardstream_queue_dead_letter_records", key[1]), 0)),
            }
            for labels, key, value in self._rows("shardstream_queue_records_in_flight")
        ]
        groups = [
            {**{k: labels[k] for k in ("region", "stream", "group", "shard")}, "lag_records": int(value)}
            for labels, _, value in self._rows("shardstream_consumer_lag_records")
        ]
        return {"seconds": self.seconds, "streams": out_streams, "shards": shards, "queues": queues, "groups": groups}


def view(snapshot: Snapshot):
    """A ``rich`` renderable of ``snapshot``: one table each for streams, shards, queues and groups.

    Parameters
    ----------
    snapshot : Snapshot
    """
    from rich.console import Group
    from rich.table import Table

    data = snapshot.as_dict()
    streams = Table(title="streams", expand=True)
    for column in ("stream", "shards", "in rec/s", "in B/s", "out rec/s", "GetRecords/s", "held", "iterator age ms"):
        streams.add_column(column, justify="left" if column == "stream" else "right")
    for s in data["streams"]:
        age = s["iterator_age_ms"]
        streams.add_row(
            s["stream"],
            str(s["shards"]),
            f"{s['records_in_per_s']:,.0f}",
            f"{s['bytes_in_per_s']:,.0f}",
            f"{s['records_out_per_s']:,.0f}",
            f"{s['get_records_per_s']:,.1f}",
            f"{s['records_held']:,}",
            "-" if age is None else f"{age:,.0f}",
        )
    shards = Table(title="shards", expand=True)
    for column in ("stream", "shard", "in rec/s", "in B/s", "held"):
        shards.add_column(column, justify="left" if column in ("stream", "shard") else "right")
    for s in data["shards"]:
        rates = f"{s['records_in_per_s']:,.0f}", f"{s['bytes_in_per_s']:,.0f}"
        shards.add_row(s["stream"], s["shard"], *rates, f"{s['records_held']:,}")
    parts = [streams, shards]
    if data["queues"]:
        queues = Table(title="queues", expand=True)
        for column in ("queue", "in flight", "dead letters"):
            queues.add_column(column, justify="left" if column == "queue" else "right")
        for q in data["queues"]:
            queues.add_row(q["queue"], f"{q['in_flight']:,}", f"{q['dead_letters']:,}")
        parts.append(queues)
    if data["groups"]:
        groups = Table(title="consumer groups", expand=True)
        for column in ("group", "stream", "shard", "lag (records)"):
            groups.add_column(column, justify="right" if column.startswith("lag") else "left")
        for g in data["groups"]:
            groups.add_row(g["group"], g["stream"], g["shard"], f"{g['lag_records']:,}")
        parts.append(groups)
    return Group(*parts)


@click.command()
@click.option("--url", default="http://127.0.0.1:4567", show_default=True, help="The shardstream server to watch.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(min=0.05), help="Seconds per update.")
@click.option("--once", is_flag=True, help="Print one view (two reads --interval apart) and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the view as JSON.")
def top(url: str, interval: float, once: bool, as_json: bool) -> None:
    """Watch a shardstream server's streams, shards, queues and consumer groups, like top."""
    try:
        before, began = scrape(url), time.monotonic()
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(f"cannot read {url}/_shardstream/metrics: {exc}") from None
    if once or as_json:
        time.sleep(interval)
        snapshot = Snapshot(before, scrape(url), time.monotonic() - began)
        if as_json:
            click.echo(json.dumps(snapshot.as_dict(), indent=2))
        else:
            from rich.console import Console

            Console().print(view(snapshot))
        return
    from rich.live import Live

    with Live(refresh_per_second=4, screen=False) as live:
        try:
            while True:
                time.sleep(interval)
                after, now = scrape(url), time.monotonic()
                live.update(view(Snapshot(before, after, now - began)))
                before, began = after, now
        except KeyboardInterrupt:
            pass
