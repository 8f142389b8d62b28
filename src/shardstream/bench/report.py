"""The result tables of ``shardstream bench``, printed with rich."""

from __future__ import annotations

from .async_round import PATH as ASYNC_PATH

__all__ = ["print_tables", "tables"]


def _num(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _us(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _latency_cells(stats: dict, floor_p99) -> list[str]:
    """samples, lost, p50, p99, p99.9 and p99 as a multiple of the floor's, as table cells."""
    return [
        _num(stats["samples"]),
        _num(stats["lost"]),
        _us(stats["p50_us"]),
        _us(stats["p99_us"]),
        _us(stats["p999_us"]),
        _ratio(stats["p99_us"], floor_p99),
    ]


def _ratio(value, floor) -> str:
    if value is None or not floor:
        return "-"
    return f"{value / floor:,.1f}×"


def tables(result: dict) -> list:
    """The throughput table and (with a latency phase) the latency table.

    Parameters
    ----------
    result : dict
        A run's result (:class:`~shardstream.bench.runner.BenchRun`'s ``result``).

    Returns
    -------
    list of rich.table.Table
    """
    from rich.table import Table

    target, w = result["target"], result["workload"]
    shape = (
        f"{w['record_size']} B records, {w['shards']} shards, batches of {w['batch']}, "
        f"{w['producers']} producer(s), {w['consumers']} consumer(s)"
    )
    out = Table(title=f"throughput: {target['url']} ({target['kind']})", caption=shape)
    for column in ("", "records", "seconds", "records/s", "MB/s", "call p50 ms", "call p99 ms"):
        out.add_column(column, justify="right" if column else "left")
    tp = result["throughput"]
    put = tp["put"]
    out.add_row(
        "put",
        _num(put["records"]),
        _num(put["seconds"], 2),
        _num(put["records_per_s"]),
        _num(put["mb_per_s"], 1),
        _num(put["call_ms_p50"], 3),
        _num(put["call_ms_p99"], 3),
    )
    if "get" in tp:
        get = tp["get"]
        out.add_row(
            "get", _num(get["records"]), _num(get["seconds"], 2), _num(get["records_per_s"]), _num(get["mb_per_s"], 1)
        )
    made = [out]
    lat = result.get("latency")
    if lat:
        caption = (
            f"{lat['samples']} records put one by one every {lat['interval_ms']:g} ms "
            f"(achieved {lat['put_rate_per_s']:,.0f}/s; put_record p50 {lat['put_call_us']['p50']:,.0f} us); "
            f"the polling reader made {lat['poll']['getrecords_per_s']:,.0f} GetRecords calls/s"
        )
        if lat["saturated"]:
            caption += "; the putter could not keep that pace: raise --latency-interval"
        floor = lat.get("floor")
        if floor and floor.get("p50_us"):
            caption += (
                f"; floor ({floor['what']}, same pace) p50 {floor['p50_us']:,.1f} us, p99 {floor['p99_us']:,.1f} us"
            )
        table = Table(title="put -> get latency (microseconds)", caption=caption)
        for column in ("reader", "samples", "lost", "p50", "p99", "p99.9", "p99/floor"):
            table.add_column(column, justify="right" if column != "reader" else "left", no_wrap=True)
        labels = {"poll": "GetRecords loop", "subscribe": "SubscribeToShard", ASYNC_PATH: "SubscribeToShard, asyncio"}
        floor_p99 = floor["p99_us"] if floor and floor.get("p50_us") else None
        for path in ("poll", "subscribe", ASYNC_PATH):
            if path not in lat:
                continue
            s = lat[path]
            if "error" in s:
                table.add_row(labels[path], "-", "-", "-", "-", "-", "-")
                table.caption += f"; {labels[path]}: unavailable, {s['error']}"
                continue
            table.add_row(labels[path], *_latency_cells(s, floor_p99))
            sent = s.get("from_request_sent")
            if sent and sent.get("p50_us") is not None:
                table.add_row("  timed from the send", *_latency_cells(sent, floor_p99))
        if floor_p99:
            table.add_row(f"floor: {floor['what']}", *_latency_cells(floor, floor_p99))
        made.append(table)
    return made


def print_tables(result: dict) -> None:
    """Print :func:`tables` of ``result`` to stdout.

    Parameters
    ----------
    result : dict
    """
    from rich.console import Console

    console = Console()
    if not console.is_terminal and console.width < 100:  # piped: rich's default of 80 columns cuts numbers
        console = Console(width=100)
    for table in tables(result):
        console.print(table)
