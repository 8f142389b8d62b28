"""``shardstream.Replicator``: mirror streams continuously from one engine or server to another.

What is guaranteed (see also :mod:`.copier` and :mod:`.standby`):

* Into a shardstream target (an embedded engine, or ``shardstream serve
  --standby``): every source record is applied exactly once, in order per
  shard, parents before children, even when the replicator is killed
  (SIGKILL) at any moment and restarted with the same checkpoint file.
* Into a foreign Kinesis endpoint (AWS, kinesalite, ...): at least once.  The
  same resync runs, but nothing stops another writer from adding records to
  the target shards, so a restart may repeat records.
* Replication is asynchronous: records the source acknowledged but the
  replicator had not yet applied are lost if the source is lost.
  :meth:`Replicator.replicated` says how far each shard is applied.
"""

from __future__ import annotations

import logging
import threading
import time

from ..errors import KinesisError
from ..metrics.registry import MetricRegistry
from .checkpoint import CheckpointFile
from .copier import ReplicationForkError, Retry, ShardCopier
from .mirror import StreamMirror, list_all_streams
from .standby import PromotedException, mark_replica_writes

__all__ = ["LAG_MS_METRIC", "LAG_RECORDS_METRIC", "ReplicationForkError", "Replicator"]

log = logging.getLogger("shardstream.replication")

LAG_RECORDS_METRIC = "ReplicationLagRecords"
LAG_MS_METRIC = "ReplicationLagMilliseconds"
NAMESPACE = "shardstream"


def _engine(where):
    if isinstance(where, str):
        from ..client import connect

        return connect(where)
    return where


class Replicator:
    """Mirror streams of ``source`` on ``target``: settings, shard lineage and every record.

    Parameters
    ----------
    source, target : Engine, RemoteEngine or str
        Engines, or URLs for :func:`shardstream.connect`.  A remote target's
        requests carry the replica header a standby server takes writes with.
    streams : list of str, optional
        The streams to mirror (default: all of the source's, including ones
        created later).
    checkpoint : path-like, optional
        The checkpoint file (JSON) to resume from; None keeps it in memory.
    page_limit : int
        Records per GetRecords of a source shard.
    poll_interval : float
        Seconds :meth:`run` waits when every shard is caught up.
    settings_interval : float
        Seconds between looks at new streams, new shards and settings.

    Attributes
    ----------
    metrics : MetricRegistry
        ``ReplicationLagRecords`` and ``ReplicationLagMilliseconds`` (namespace
        ``shardstream``, dimensions StreamName and ShardId), one value per
        :meth:`lag` call; an embedded target's ``engine.metrics`` gets them
        too, once a second.

    Examples
    --------
    >>> import shardstream
    >>> primary, standby = shardstream.Engine(), shardstream.Engine()
    >>> _ = primary.create_stream("orders", 2).put_record(b"x", "k")
    >>> shardstream.Replicator(primary, standby).sync()
    1
    """

    def __init__(
        self,
        source,
        target,
        streams=None,
        *,
        checkpoint=None,
        page_limit: int = 1000,
        poll_interval: float = 0.05,
        settings_interval: float = 2.0,
    ):
        self.source = _engine(source)
        self.target = _engine(target)
        # engines made here from URLs are closed here (close()); the ones given are their owner's
        self._owned = [e for given, e in ((source, self.source), (target, self.target)) if isinstance(given, str)]
        if hasattr(self.target, "client"):
            mark_replica_writes(self.target.client)
        self._names = None if streams is None else list(streams)
        self.checkpoint = CheckpointFile(checkpoint)
        self.page_limit = page_limit
        self.poll_interval = poll_interval
        self.settings_interval = settings_interval
        self._lock = threading.Lock()
        self._mirrors: dict[str, StreamMirror] = {}
        self._copiers: dict[tuple[str, str], ShardCopier] = {}
        self._last_look = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.promoted = False
        self._lag: dict[tuple[str, str], tuple[int, int]] = {}
        self.metrics = MetricRegistry(lambda: int(time.time() * 1000))
        if hasattr(self.target, "metrics"):
            self.target.metrics.add_source(self)

    # -- discovery -----------------------------------------------------------------------

    def _look(self) -> None:
        """Find streams and shards to copy, mirroring settings and reshards as their parents finish."""
        names = self._names if self._names is not None else list_all_streams(self.source)
        for name in names:
            mirror = self._mirrors.get(name)
            if mirror is None:
                mirror = StreamMirror(self.source, self.target, name)
                mirror.ensure()
                self._mirrors[name] = mirror
            else:
                mirror.sync_settings()
            self._add_shards(mirror)
        self._last_look = time.monotonic()

    def _add_shards(self, mirror: StreamMirror) -> None:
        shards = {s["ShardId"]: s for s in mirror.source_shards()}
        mapped = {}
        for key, pos in self.checkpoint.positions().items():
            stream, _, shard_id = key.partition("/")
            if stream == mirror.name and pos.target_shard:
                mapped[shard_id] = pos.target_shard
        done = {sid for (s, sid), c in self._copiers.items() if s == mirror.name and c.done}
        done |= {
            k.partition("/")[2]
            for k, p in self.checkpoint.positions().items()
            if p.done and k.startswith(mirror.name + "/")
        }
        targets = None
        for shard_id in sorted(shards):  # in the source's order, so the target numbers its shards alike
            shard = shards[shard_id]
            if (mirror.name, shard_id) in self._copiers:
                continue
            parents = [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p in shards]
            if any(p not in done for p in parents):
                break  # parents first: the target reshards only once their records are all there
            target_id = mapped.get(shard_id) or mirror.map_shard(shard, shards, mapped)
            mapped[shard_id] = target_id
            if targets is None or target_id not in targets:
                targets = {t["ShardId"]: t for t in mirror.target_shards()}
            copier = ShardCopier(
                mirror.name,
                shard_id,
                mirror.source_stream,
                mirror.target_stream,
                targets[target_id],
                self.checkpoint,
                self.page_limit,
            )
            self._copiers[(mirror.name, shard_id)] = copier
            self.checkpoint.set(mirror.name, shard_id, copier.position)
        self.checkpoint.save()

    # -- copying -------------------------------------------------------------------------

    def run_once(self) -> int:
        """One pass: look for new streams and shards if due, then one page per shard; records applied."""
        with self._lock:
            if not self._mirrors or time.monotonic() - self._last_look >= self.settings_interval:
                self._look()
            applied, finished = 0, False
            for copier in list(self._copiers.values()):
                if copier.done:
                    continue
                try:
                    applied += copier.step()
                except Retry as exc:
                    log.warning("%s/%s: %s; resyncing", copier.stream_name, copier.shard_id, exc)
                    time.sleep(0.1)
                except PromotedException:
                    raise
                except (KinesisError, ConnectionError, OSError):
                    copier.invalidate()  # e.g. an iterator that expired while the source was away
                    raise
                finished = finished or copier.done
            if finished:  # children may start now
                self._look()
            return applied

    def sync(self, timeout: float = 60.0) -> int:
        """Copy until every shard is caught up (a pass applies nothing); the records applied.

        Parameters
        ----------
        timeout : float
            TimeoutError if not caught up after this many seconds.
        """
        deadline, total = time.monotonic() + timeout, 0
        self._last_look = 0.0
        while True:
            applied = self.run_once()
            total += applied
            if not applied and all(c.done or c.caught_up for c in self._copiers.values()):
                self.checkpoint.save()
                return total
            if time.monotonic() > deadline:
                raise TimeoutError(f"replication not caught up after {timeout} s")

    def run(self, report=None, report_interval: float = 1.0) -> None:
        """Replicate until :meth:`stop` (or :meth:`promote`); writes the checkpoint once a second.

        Parameters
        ----------
        report : callable, optional
            Called with :meth:`status` every ``report_interval`` seconds.
        report_interval : float
        """
        last_save = last_report = time.monotonic()
        while not self._stop.is_set():
            try:
                applied = self.run_once()
            except PromotedException:
                log.warning("the target was promoted: replication stops")
                self.promoted = True
                break
            except (ConnectionError, OSError, KinesisError) as exc:  # a source or target away, a stream gone
                log.warning("replication paused: %s", exc)
                applied = 0
                self._stop.wait(0.5)
            now = time.monotonic()
            if now - last_save >= 1.0:
                self.checkpoint.save()
                last_save = now
            if report is not None and now - last_report >= report_interval:
                self.lag(cap=10_000)
                report(self.status())
                last_report = now
            if not applied:
                self._stop.wait(self.poll_interval)
        self.checkpoint.save()

    def start(self) -> Replicator:
        """Run :meth:`run` on a background thread; returns self."""

        def target():
            try:
                self.run()
            except BaseException as exc:  # kept for the owner: error
                self.error = exc
                log.exception("replicator stopped")

        self._thread = threading.Thread(target=target, name="shardstream-replicator", daemon=True)
        self._thread.start()
        return self

    def stop_soon(self) -> None:
        """Ask :meth:`run` to stop after its current pass (safe from a signal handler)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop :meth:`run` (and its thread), saving the checkpoint."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.checkpoint.save()

    def close(self) -> None:
        """Stop, and close the engines this replicator made from URLs (not the ones it was given)."""
        self.stop()
        for engine in self._owned:
            engine.close()

    def promote(self, leases=None, group: str | None = None, stream: str | None = None) -> dict:
        """Stop replicating, carry a consumer group's checkpoints over, and make the target a primary.

        Parameters
        ----------
        leases : path-like, str or LeaseStore, optional
            A consumer group's lease table whose checkpoints move to the
            target's sequence numbers first (:mod:`.handover`; needs a
            checkpoint file, whose position map it reads).
        group, stream : str, optional
            The group, and the stream it consumes (default: the only mirrored one).

        Returns
        -------
        dict
            What was replicated (:meth:`replicated`) when replication stopped.
        """
        self.stop()
        if leases is not None:
            from .handover import carry_checkpoints

            if self.checkpoint.map_path is None:
                raise ValueError("carrying checkpoints over needs the replicator's checkpoint file")
            if stream is None:
                (stream,) = self._mirrors
            carry_checkpoints(self.checkpoint.map_path, leases, group, stream)
        url = getattr(self.target, "url", None)
        if url and url.startswith("http"):
            from .standby import promote

            promote(url)
        self.promoted = True
        return self.replicated()

    # -- state ---------------------------------------------------------------------------

    def replicated(self) -> dict:
        """``{"stream/shard": last source sequence number applied}`` (None: nothing yet)."""
        return {k: p.source for k, p in self.checkpoint.positions().items()}

    def lag(self, cap: int = 100_000) -> dict:
        """Measure each shard's lag, record it as metrics; ``{stream: {shard: {"records", "ms"}}}``.

        Parameters
        ----------
        cap : int
            Count at most this many records per shard (the backlog is read to count it;
            :meth:`run`'s reports count up to 10,000).
        """
        now = int(time.time() * 1000)
        out: dict = {}
        with self._lock:
            if not self._mirrors:
                self._look()
            copiers = list(self._copiers.values())
        for c in copiers:
            records, ms = c.lag(now, cap)
            self._lag[(c.stream_name, c.shard_id)] = (records, ms)
            dims = {"StreamName": c.stream_name, "ShardId": c.shard_id}
            self.metrics.record(LAG_RECORDS_METRIC, dims, records, unit="Count", namespace=NAMESPACE)
            self.metrics.record(LAG_MS_METRIC, dims, ms, unit="Milliseconds", namespace=NAMESPACE)
            out.setdefault(c.stream_name, {})[c.shard_id] = {"records": records, "ms": ms}
        return out

    def sample_metrics(self, metrics) -> None:
        """Record the last measured lags in ``metrics`` (a target engine's registry, once a second).

        Parameters
        ----------
        metrics : MetricRegistry
        """
        for (stream, shard), (records, ms) in list(self._lag.items()):
            dims = {"StreamName": stream, "ShardId": shard}
            metrics.record(LAG_RECORDS_METRIC, dims, records, unit="Count", namespace=NAMESPACE)
            metrics.record(LAG_MS_METRIC, dims, ms, unit="Milliseconds", namespace=NAMESPACE)

    def status(self) -> dict:
        """Per shard: target shard, records applied by this process, last source sequence number, lag."""
        out = {}
        for (stream, shard), c in list(self._copiers.items()):
            records, ms = self._lag.get((stream, shard), (None, None))
            out[f"{stream}/{shard}"] = {
                "target_shard": c.target_shard_id,
                "applied": c.applied,
                "source_sequence": c.position.source,
                "done": c.done,
                "lag_records": records,
                "lag_ms": ms,
            }
        return out
