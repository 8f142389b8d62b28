"""A stream's shape on the target: created, its settings kept equal, its shard lineage followed.

The target stream mirrors the source's shard map: it is created with the
source's root shards (equal hash ranges, so ``create_stream(n)`` on both
sides gives the same ranges), and each source split or merge is applied to
the target once the parents' records are all there.  A source shard's
records are then written with the ``ExplicitHashKey`` of its target shard's
first hash key, so each lands in the corresponding target shard whatever
its partition key; partition keys are kept as they are.

Settings followed: retention, tags (the source's, set on the target; tags
only on the target are left alone) and, at creation, the capacity mode.
"""

from __future__ import annotations

import logging

from ..errors import ResourceInUseException, ResourceNotFoundException

__all__ = ["StreamMirror", "hash_range", "is_closed", "list_all_streams"]

log = logging.getLogger("shardstream.replication")


def hash_range(shard: dict) -> tuple[int, int]:
    """``(start, end)`` hash keys of a boto3 ``Shard`` dict.

    Parameters
    ----------
    shard : dict
    """
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def is_closed(shard: dict) -> bool:
    """The shard takes no more records (its range has an ending sequence number).

    Parameters
    ----------
    shard : dict
    """
    return bool(shard["SequenceNumberRange"].get("EndingSequenceNumber"))


def list_all_streams(engine) -> list[str]:
    """Every stream name of ``engine`` (ListStreams, all pages)."""
    names: list[str] = []
    page = engine.list_streams()
    names += page["StreamNames"]
    while page.get("HasMoreStreams") and names:
        page = engine.list_streams(exclusive_start_stream_name=names[-1])
        names += page["StreamNames"]
    return names


def _wait_active(stream) -> None:
    if hasattr(stream, "wait_active"):  # a remote stream; an embedded one writes to new shards at once
        stream.wait_active()


def _summary(stream) -> dict:
    return stream.describe_summary()["StreamDescriptionSummary"]


def _tags(stream) -> dict:
    tags, start = {}, None
    while True:
        page = stream.list_tags_for_stream(start) if start else stream.list_tags_for_stream()
        tags.update({t["Key"]: t.get("Value", "") for t in page["Tags"]})
        if not page.get("HasMoreTags") or not page["Tags"]:
            return tags
        start = page["Tags"][-1]["Key"]


class StreamMirror:
    """One source stream and its mirror on the target.

    Parameters
    ----------
    source, target : Engine or RemoteEngine
    name : str
        The stream (the same name on both sides).

    Attributes
    ----------
    source_stream, target_stream
        The two stream handles (after :meth:`ensure`).
    """

    def __init__(self, source, target, name: str):
        self.name = name
        self._source = source
        self._target = target
        self.source_stream = source.stream(name)
        self.target_stream = None

    def source_shards(self) -> list[dict]:
        """The source's listed shards."""
        return self.source_stream.list_shards()

    def target_shards(self) -> list[dict]:
        """The target's listed shards."""
        return self.target_stream.list_shards()

    def ensure(self) -> None:
        """Create the target stream if missing (the source's root shards, mode, retention, tags), then sync."""
        try:
            self.target_stream = self._target.stream(self.name)
        except ResourceNotFoundException:
            summary = _summary(self.source_stream)
            shards = self.source_shards()
            ids = {s["ShardId"] for s in shards}
            roots = [
                s for s in shards if s.get("ParentShardId") not in ids and s.get("AdjacentParentShardId") not in ids
            ]
            mode = summary["StreamModeDetails"]["StreamMode"]
            try:
                self.target_stream = self._target.create_stream(
                    self.name,
                    None if mode == "ON_DEMAND" else len(roots),
                    summary["RetentionPeriodHours"],
                    stream_mode=mode,
                    tags=_tags(self.source_stream) or None,
                )
            except ResourceInUseException:  # made meanwhile (another replicator, or our own earlier try)
                self.target_stream = self._target.stream(self.name)
            _wait_active(self.target_stream)
            log.info("replica stream %s created with %d shards", self.name, len(roots))
        self.sync_settings()

    def sync_settings(self) -> None:
        """Make the target's retention and tags the source's."""
        source, target = _summary(self.source_stream), _summary(self.target_stream)
        hours, now = source["RetentionPeriodHours"], target["RetentionPeriodHours"]
        if hours > now:
            self.target_stream.increase_stream_retention_period(hours)
        elif hours < now:
            self.target_stream.decrease_stream_retention_period(hours)
        want, have = _tags(self.source_stream), _tags(self.target_stream)
        changed = {k: v for k, v in want.items() if have.get(k) != v}
        if changed:
            self.target_stream.add_tags_to_stream(changed)
        if hours != now or changed:
            _wait_active(self.target_stream)

    def map_shard(self, shard: dict, source_shards: dict, mapped: dict) -> str:
        """The target shard for the source ``shard``, resharding the target first if it has none yet.

        Parameters
        ----------
        shard : dict
            The source shard (its parents, if listed, fully replicated).
        source_shards : dict
            The source's listed shards by id.
        mapped : dict
            Target shard ids of source shards already mapped.

        Returns
        -------
        str
            The target shard id.
        """
        lo_hi = hash_range(shard)
        parents = [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p in source_shards]
        targets = self.target_shards()
        if not parents:  # a root: the target shard of the same range that has no parent there
            ids = {t["ShardId"] for t in targets}
            same = [t for t in targets if hash_range(t) == lo_hi]
            roots = [t for t in same if t.get("ParentShardId") not in ids] or [t for t in same if not is_closed(t)]
            if not roots:
                raise ValueError(f"{self.name}: no target shard covers {shard['ShardId']}'s hash range")
            return roots[0]["ShardId"]
        tparents = {mapped[p] for p in parents}
        child = self._child(targets, tparents, lo_hi)
        if child is not None:
            return child
        if len(parents) == 2:
            self.target_stream.merge_shards(mapped[shard["ParentShardId"]], mapped[shard["AdjacentParentShardId"]])
        else:
            parent_lo = hash_range(source_shards[parents[0]])[0]
            split_at = lo_hi[1] + 1 if lo_hi[0] == parent_lo else lo_hi[0]
            self.target_stream.split_shard(mapped[parents[0]], str(split_at))
        _wait_active(self.target_stream)
        log.info("replica stream %s: %s mirrored", self.name, "merge" if len(parents) == 2 else "split")
        child = self._child(self.target_shards(), tparents, lo_hi)
        if child is None:
            raise ValueError(f"{self.name}: the target did not make a shard for {shard['ShardId']}")
        return child

    @staticmethod
    def _child(targets: list[dict], tparents: set, lo_hi: tuple) -> str | None:
        for t in targets:
            if {t.get("ParentShardId"), t.get("AdjacentParentShardId")} - {None} == tparents and hash_range(t) == lo_hi:
                return t["ShardId"]
        return None
