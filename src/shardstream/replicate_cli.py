"""``shardstream replicate``: mirror streams from one engine or server to another, or promote a standby.

``shardstream replicate SOURCE_URL TARGET_URL`` runs a
:class:`~shardstream.Replicator` until interrupted, printing every
``--interval`` seconds a line per shard (records applied, last source
sequence number applied, lag in records (counted up to 10,000) and
milliseconds), or with
``--json`` one JSON object per report: ``{"time": ..., "applied": n,
"shards": {"stream/shard": {...}}}``.  ``--checkpoint FILE`` makes it resume
where it stopped (also after SIGKILL).

``shardstream replicate --promote URL`` promotes the standby server at URL
(``POST /_shardstream/promote``): it takes ordinary writes from then on and
refuses the replicator's.  With ``--leases PATH --group G --streams S
--checkpoint FILE`` it first carries the group's checkpoints over to the
standby's sequence numbers (:mod:`shardstream.replication.handover`).
"""

from __future__ import annotations

import json
import signal
import sys
import time

import click

__all__ = ["format_report", "replicate"]


def format_report(status: dict) -> str:
    """The human-readable lines of one report (``Replicator.status()``).

    Parameters
    ----------
    status : dict
    """
    lines = []
    for key, s in sorted(status.items()):
        lag = "?" if s["lag_records"] is None else f"{s['lag_records']} records, {s['lag_ms']} ms"
        state = "done" if s["done"] else f"lag {lag}"
        lines.append(f"{key} -> {s['target_shard']}: {s['applied']} applied, {state}")
    return "\n".join(lines)


@click.command()
@click.argument("urls", nargs=-1, metavar="SOURCE_URL TARGET_URL")
@click.option("--streams", default=None, help="Comma-separated streams to mirror (default: all, new ones too).")
@click.option(
    "--checkpoint",
    "checkpoint",
    default=None,
    type=click.Path(dir_okay=False),
    help="Checkpoint file (JSON) to resume from; without it a restart starts over.",
)
@click.option("--interval", default=1.0, show_default=True, type=float, help="Seconds between reports.")
@click.option("--json", "as_json", is_flag=True, help="Reports as JSON lines.")
@click.option("--once", is_flag=True, help="Copy until caught up, report, and exit.")
@click.option(
    "--promote",
    "promote_url",
    default=None,
    metavar="URL",
    help="Promote the standby server at URL instead of replicating.",
)
@click.option("--leases", default=None, help="With --promote: a consumer group's lease table to carry over first.")
@click.option("--group", default=None, help="With --leases: the consumer group.")
def replicate(urls, streams, checkpoint, interval, as_json, once, promote_url, leases, group) -> None:
    """Mirror streams from SOURCE_URL to TARGET_URL (memory://, file:///dir, http(s)://, aws://).

    Stream creation and settings, reshards and every record, in order per
    shard.  Into a shardstream target (file:///dir, or a server started with
    ``shardstream serve --standby``) nothing is lost or repeated across
    restarts; into another Kinesis endpoint records arrive at least once.
    """
    from .replication import Replicator
    from .replication.standby import promote

    if promote_url is not None:
        if urls:
            raise click.UsageError("--promote URL takes no SOURCE_URL/TARGET_URL")
        if leases is not None:
            from pathlib import Path

            from .replication.handover import carry_checkpoints

            if not (checkpoint and group and streams):
                raise click.UsageError("--leases needs --checkpoint FILE, --group NAME and --streams STREAM")
            map_path = Path(checkpoint).with_name(Path(checkpoint).name + ".map")
            moved = carry_checkpoints(map_path, leases, group, streams)
            click.echo(json.dumps({"carried": moved}) if as_json else f"{len(moved)} checkpoints carried over")
        answer = promote(promote_url)
        click.echo(json.dumps(answer) if as_json else f"{promote_url}: {answer['role']}")
        return
    if len(urls) != 2:
        raise click.UsageError("give SOURCE_URL and TARGET_URL (or --promote URL)")
    names = None if streams is None else [s.strip() for s in streams.split(",") if s.strip()]
    replicator = Replicator(urls[0], urls[1], names, checkpoint=checkpoint)

    def report(status: dict) -> None:
        if as_json:
            applied = sum(s["applied"] for s in status.values())
            line = json.dumps({"time": time.time(), "applied": applied, "shards": status})
        else:
            line = format_report(status)
        click.echo(line)
        sys.stdout.flush()

    try:
        if once:
            replicator.sync()
        else:
            signal.signal(signal.SIGTERM, lambda *_: replicator.stop_soon())
            try:
                replicator.run(report=report, report_interval=interval)
            except KeyboardInterrupt:
                pass
        replicator.lag()
        report(replicator.status())
    finally:
        replicator.close()
