"""``shardstream bench``: one workload against the embedded engine, a server or any Kinesis endpoint.

The run has two phases (:mod:`shardstream.bench`), each on a fresh stream:

1. **throughput**: ``--producers`` threads put ``--records`` records (or for
   ``--duration`` seconds) of ``--record-size`` bytes in batches of
   ``--batch`` while ``--consumers`` threads read every shard with
   GetRecords; records/s and MB/s for put and get.
2. **latency**: for each read path in turn -- a GetRecords loop over every
   shard (as tight as the API allows: ``--poll-interval``), then a
   SubscribeToShard subscriber per shard (the engine's own cadence) --
   ``--latency-samples`` records put one at a time, one every
   ``--latency-interval`` ms (1 embedded, 5 over HTTP), each stamped with
   ``time.perf_counter_ns()``; the reader notes when each arrives:
   p50/p99/p99.9/max of the put-to-read time.  For an engine behind a URL
   the readers run in a child process, so they do not share the putter's GIL.

``--url`` takes ``memory://`` (default), ``file:///dir``, ``http(s)://host:port``
(a ``shardstream serve``, kinesalite, LocalStack), ``aws://region``, or
``serve``: a ``shardstream serve`` child on a free loopback port for the run.
Progress bars go to stderr, the result tables to stdout (``--json``: the
result as JSON instead), ``--plot FILE.png`` draws throughput over time and
the latency CDFs.  Progress, tables and the plot need the ``viz`` extra
(rich, matplotlib); ``--no-progress --json`` needs neither.
"""

from __future__ import annotations

import importlib
import json

import click

__all__ = ["bench", "missing_extras"]

_VIZ_HINT = "pip install 'shardstream[viz]'"


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def missing_extras(url: str, progress: bool, as_json: bool, plot: str | None) -> list[str]:
    """What the options ask for that is not installed, one message each.

    Parameters
    ----------
    url : str
    progress : bool
        Progress bars wanted.
    as_json : bool
        JSON instead of tables.
    plot : str or None
        The PNG asked for.

    Returns
    -------
    list of str
    """
    missing = []
    if (progress or not as_json) and not _importable("rich"):
        what = "progress bars" if as_json else "the result table (and progress bars)"
        missing.append(f"{what} need rich, from the viz extra: {_VIZ_HINT} (or use --no-progress --json)")
    if plot is not None and not _importable("matplotlib"):
        missing.append(f"--plot needs matplotlib, from the viz extra: {_VIZ_HINT}")
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https", "aws", "serve") and not _importable("botocore"):
        missing.append(f"--url {url} needs botocore, from the aws extra: pip install 'shardstream[aws]'")
    if url == "serve" and not _importable("aiohttp"):
        missing.append("--url serve needs the server extra: pip install 'shardstream[server]'")
    return missing


@click.command()
@click.option(
    "--url",
    default="memory://",
    show_default=True,
    help="memory://, file:///dir, http(s)://host:port, aws://region, or 'serve': a shardstream serve child "
    "on a free loopback port.",
)
@click.option(
    "--records",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Records to put in the throughput phase.",
)
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), default=None, help="Put for this many seconds instead."
)
@click.option("--record-size", type=click.IntRange(1, 1024 * 1024), default=100, show_default=True, help="Bytes.")
@click.option("--shards", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--batch", type=click.IntRange(1, 500), default=500, show_default=True, help="Records per put call.")
@click.option("--producers", type=click.IntRange(min=1), default=1, show_default=True, help="Producer threads.")
@click.option("--consumers", type=click.IntRange(min=0), default=1, show_default=True, help="Consumer threads.")
@click.option(
    "--latency-samples",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Records timed from put to read, per read path (0: no latency phase).",
)
@click.option(
    "--latency-interval",
    type=click.FloatRange(min=0),
    default=None,
    help="Milliseconds between latency records [default: 1 embedded, 5 through HTTP (a put_record round trip "
    "takes milliseconds there: 1 would saturate the putter)].",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Milliseconds the polling reader pauses after a round with nothing new (0: none).",
)
@click.option("--no-subscribe", is_flag=True, help="Time only the polling reader, not a SubscribeToShard subscriber.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (to stdout) instead of tables.")
@click.option("--plot", type=click.Path(dir_okay=False, writable=True), default=None, help="Write a PNG plot here.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def bench(
    url,
    records,
    duration,
    record_size,
    shards,
    batch,
    producers,
    consumers,
    latency_samples,
    latency_interval,
    poll_interval,
    no_subscribe,
    as_json,
    plot,
    no_progress,
):
    """Measure throughput and put->get latency of an engine, a server or a Kinesis endpoint."""
    missing = missing_extras(url, not no_progress, as_json, plot)
    if missing:
        raise click.ClickException("; ".join(missing))
    if plot is not None and not plot.lower().endswith(".png"):
        raise click.BadParameter(f"{plot!r}: the plot is a PNG file (name it *.png)", param_hint="--plot")
    from .bench.workload import Workload

    if latency_interval is None:
        latency_interval = 1.0 if url.split(":", 1)[0].lower() in ("memory", "file") else 5.0
    try:
        workload = Workload(
            records=records,
            record_size=record_size,
            shards=shards,
            batch=batch,
            producers=producers,
            consumers=consumers,
            duration_s=duration,
            latency_samples=latency_samples,
            latency_interval_s=latency_interval / 1e3,
            poll_interval_s=poll_interval / 1e3,
            subscribe=not no_subscribe,
        )
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    run = _run(url, workload, not no_progress)
    if as_json:
        click.echo(json.dumps(run.result, indent=2))
    else:
        from .bench.report import print_tables

        print_tables(run.result)
    if plot is not None:
        from .bench.plot import write_plot

        write_plot(run.result, run.latencies_us, plot)
        if not as_json:
            click.echo(f"plot written to {plot}", err=True)


def _run(url: str, workload, progress: bool):
    """Open ``url``, run ``workload`` with or without progress bars, close; the run."""
    from .bench.progress import NoProgress, RichProgress
    from .bench.runner import run_bench
    from .bench.target import open_target
    from .stream_cli import kinesis_errors

    with kinesis_errors(url):
        try:
            target = open_target(url, connections=workload.shards + workload.producers + workload.consumers + 4)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--url") from None
        except RuntimeError as err:
            raise click.ClickException(str(err)) from None
        with target, RichProgress() if progress else NoProgress() as bars:
            try:
                return run_bench(target, workload, bars)
            except (TimeoutError, RuntimeError) as err:  # a reader that did not start or failed
                raise click.ClickException(str(err)) from None
