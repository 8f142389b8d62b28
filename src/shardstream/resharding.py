"""Resharding as metadata transforms: split, merge and uniform scaling.

Records never move.  A split or merge *closes* its parent shards (they keep
their records, readable until they age out, and get an EndingSequenceNumber)
and *opens* children that take over the parents' hash-key ranges and record
their parents (``ParentShardId``, ``AdjacentParentShardId``).  Readers drain
parents before children to keep each partition key in order.

``uniform_plan`` turns ``UpdateShardCount`` into such steps without ever
giving a child more than two adjacent parents: split every open shard that
straddles a target boundary, then merge the pieces inside each target range
two at a time.  The functions here check requests and plan;
:class:`Resharding`, a part of each stream, applies the steps.
"""

from __future__ import annotations

from typing import NamedTuple

from . import validation as v
from .delegate import saves_metadata
from .errors import InvalidArgumentException, LimitExceededException, SerializationException, ValidationException
from .models import HASH_KEY_MAX, ShardInfo, shard_index_of, uniform_ranges

__all__ = [
    "MAX_SHARDS_PER_STREAM",
    "Resharding",
    "Step",
    "check_merge",
    "check_merge_request",
    "check_split",
    "check_split_request",
    "check_update_shard_count",
    "uniform_plan",
]

MAX_SHARDS_PER_STREAM = 10_000
SCALING_TYPES = ["UNIFORM_SCALING"]


class Step(NamedTuple):
    """One resharding step: ``("split", shard_index, new_starting_hash_key)`` or ``("merge", left, right)``."""

    kind: str
    first: int
    second: int


def _on_demand_refusal(stream) -> ValidationException:
    return ValidationException(
        f"Request is invalid. Stream {stream.name} under account {stream.account_id} is in On-Demand mode."
    )


def _already_resharded(stream, shard: ShardInfo) -> InvalidArgumentException:
    return InvalidArgumentException(
        f"Shard {shard.shard_id} in stream {stream.name} under account {stream.account_id} has already been "
        "merged or split, and thus is not eligible for merging or splitting."
    )


def check_split_request(shard_to_split, new_starting_hash_key, stream_name=None) -> None:
    """Check a SplitShard request's model constraints (ValidationException) in Kinesis's order.

    Parameters
    ----------
    shard_to_split, new_starting_hash_key
        The request's ShardToSplit and NewStartingHashKey (a decimal string or int).
    stream_name : str, optional
        Checked too when given.
    """
    errs: list = []
    if new_starting_hash_key is None:
        errs.append(v.Violation("null", "newStartingHashKey", "Member must not be null"))
    else:
        v.check_pattern(errs, "newStartingHashKey", str(new_starting_hash_key), v.HASH_KEY_PATTERN)
    if stream_name is not None:
        v.check_name(errs, "streamName", stream_name)
    if shard_to_split is None:
        errs.append(v.Violation("null", "shardToSplit", "Member must not be null"))
    else:
        v.check_name(errs, "shardToSplit", str(shard_to_split))
    v.raise_if_any(errs)


def check_merge_request(shard_to_merge, adjacent_shard_to_merge, stream_name=None) -> None:
    """Check a MergeShards request's model constraints (ValidationException) in Kinesis's order.

    Parameters
    ----------
    shard_to_merge, adjacent_shard_to_merge
        The request's two shard ids.
    stream_name : str, optional
        Checked too when given.
    """
    errs: list = []
    for path, value in (("shardToMerge", shard_to_merge), ("adjacentShardToMerge", adjacent_shard_to_merge)):
        if value is None:
            errs.append(v.Violation("null", path, "Member must not be null"))
        else:
            v.check_name(errs, path, str(value))
    if stream_name is not None:
        v.check_name(errs, "streamName", stream_name)
    v.raise_if_any(errs)


def check_split(stream, shard_to_split, new_starting_hash_key) -> tuple[ShardInfo, int]:
    """Check a SplitShard request against the stream in Kinesis's order; return the parent and the split point.

    The request itself has passed :func:`check_split_request` and its shard id
    has been parsed (:func:`~shardstream.models.shard_index_of`).

    Parameters
    ----------
    stream : Stream
    shard_to_split, new_starting_hash_key
        As for :meth:`Resharding.split_shard`.

    Raises
    ------
    ResourceInUseException
        The stream is not ACTIVE.
    ResourceNotFoundException
        No such shard.
    LimitExceededException
        One more shard would pass the account's shard limit.
    InvalidArgumentException
        The hash key is not inside the shard, or the shard is closed.
    ValidationException
        The stream is ON_DEMAND.
    """
    stream.require_active()
    shard = stream.resolve_shard(shard_to_split, message="reshard")
    stream.catalog.check_shard_limit(1)
    at = int(new_starting_hash_key)
    if not (shard.starting_hash_key + 1 < at < shard.ending_hash_key):
        raise InvalidArgumentException(
            f"NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {shard.shard_id} in stream "
            f"{stream.name} under account {stream.account_id} is not both greater than one plus the shard's "
            f"StartingHashKey {shard.starting_hash_key} and less than the shard's EndingHashKey "
            f"{shard.ending_hash_key}."
        )
    if not shard.is_open:
        raise _already_resharded(stream, shard)
    if stream.stream_mode == "ON_DEMAND":
        raise _on_demand_refusal(stream)
    return shard, at


def check_merge(stream, shard_to_merge, adjacent_shard_to_merge) -> tuple[ShardInfo, ShardInfo]:
    """Check a MergeShards request against the stream; return (left, right) with ``left.end + 1 == right.start``.

    The request itself has passed :func:`check_merge_request` and its shard
    ids have been parsed.

    Parameters
    ----------
    stream : Stream
    shard_to_merge, adjacent_shard_to_merge
        As for :meth:`Resharding.merge_shards`.

    Raises
    ------
    ResourceInUseException
        The stream is not ACTIVE.
    ResourceNotFoundException
        No such shard.
    InvalidArgumentException
        A shard is closed, or the two are not adjacent (in this order).
    ValidationException
        The stream is ON_DEMAND.
    """
    stream.require_active()
    left = stream.resolve_shard(shard_to_merge, message="reshard")
    right = stream.resolve_shard(adjacent_shard_to_merge, message="reshard")
    for shard in (left, right):
        if not shard.is_open:
            raise _already_resharded(stream, shard)
    if stream.stream_mode == "ON_DEMAND":
        raise _on_demand_refusal(stream)
    if left.ending_hash_key + 1 != right.starting_hash_key:
        raise InvalidArgumentException(
            f"Shards {left.shard_id} and {right.shard_id} in stream {stream.name} under account "
            f"{stream.account_id} are not an adjacent pair of shards eligible for merging"
        )
    return left, right


def check_update_shard_count(stream, target, scaling_type) -> int:
    """Validate an UpdateShardCount request; return the current open shard count.

    Parameters
    ----------
    stream : Stream
    target : int
        The TargetShardCount.
    scaling_type : str
        The ScalingType (``"UNIFORM_SCALING"``).

    Raises
    ------
    SerializationException, ValidationException
        A malformed request.
    ValidationException
        The stream is ON_DEMAND.
    ResourceInUseException
        The stream is not ACTIVE.
    LimitExceededException
        A target beyond double or below half the open shards, over
        :data:`MAX_SHARDS_PER_STREAM`, or over the account's shard limit.
    """
    errs: list = []
    if target is None:
        errs.append(v.Violation("null", "targetShardCount", "Member must not be null"))
    elif not isinstance(target, int) or isinstance(target, bool):
        raise SerializationException(f"TargetShardCount must be an int, not {type(target).__name__}")
    else:
        v.check_int_range(errs, "targetShardCount", target, 1, None)
    if scaling_type is None:
        errs.append(v.Violation("null", "scalingType", "Member must not be null"))
    else:
        v.check_enum(errs, "scalingType", scaling_type, SCALING_TYPES)
    v.raise_if_any(errs)
    if stream.stream_mode == "ON_DEMAND":
        raise _on_demand_refusal(stream)
    stream.require_active()
    current = stream.open_shard_count
    if target > 2 * current:
        raise LimitExceededException(
            "UpdateShardCount cannot scale up over double your current open shard count. "
            f"Current open shard count: {current}, Target shard count: {target}"
        )
    if 2 * target < current:
        raise LimitExceededException(
            "UpdateShardCount cannot scale down below half your current open shard count. "
            f"Current open shard count: {current}, Target shard count: {target}"
        )
    if target > MAX_SHARDS_PER_STREAM:
        raise LimitExceededException(
            f"UpdateShardCount cannot scale up to more than {MAX_SHARDS_PER_STREAM} shards in stream "
            f"{stream.name} under account {stream.account_id}. Target shard count: {target}"
        )
    stream.catalog.check_shard_limit(max(0, target - current))
    return current


def uniform_plan(open_shards: list[ShardInfo], target: int, next_index: int) -> list[Step]:
    """Splits and merges that turn ``open_shards`` into ``target`` uniform shards.

    Parameters
    ----------
    open_shards : list of ShardInfo
        The open shards; they tile 0..2**128-1.
    target : int
        The number of shards wanted; the result has the ranges of
        ``uniform_ranges(target)``.
    next_index : int
        The index the next new shard will get (children are numbered in the
        order the steps create them).

    Returns
    -------
    list of Step
        Apply in order.  Every split point lies strictly inside its shard and
        every merge joins two adjacent open shards.
    """
    targets = uniform_ranges(target)
    boundaries = [start for start, _ in targets[1:]]
    # Simulate the open set as (start, end, index) sorted by start.
    pieces = sorted((s.starting_hash_key, s.ending_hash_key, s.index) for s in open_shards)
    steps: list[Step] = []
    split_pieces = []
    for start, end, index in pieces:
        for b in boundaries:
            if start < b <= end:
                steps.append(Step("split", index, b))
                split_pieces.append((start, b - 1, next_index))
                start, index = b, next_index + 1
                next_index += 2
        split_pieces.append((start, end, index))
    # Group the pieces by target range, then merge each group left to right.
    bounds = [start for start, _ in targets] + [HASH_KEY_MAX + 1]
    t = 0
    group: list[tuple[int, int, int]] = []
    groups = []
    for piece in split_pieces:
        while piece[0] >= bounds[t + 1]:
            groups.append(group)
            group, t = [], t + 1
        group.append(piece)
    groups.append(group)
    for group in groups:
        while len(group) > 1:
            merged = []
            for i in range(0, len(group) - 1, 2):
                left, right = group[i], group[i + 1]
                steps.append(Step("merge", left[2], right[2]))
                merged.append((left[0], right[1], next_index))
                next_index += 1
            if len(group) % 2:
                merged.append(group[-1])
            group = merged
    return steps


class Resharding:
    """Splits, merges and shard-count changes of one stream (a part of :class:`~shardstream.Stream`).

    Each call checks the request as Kinesis does, then applies its steps
    under the engine's control-plane lock: children are added and routed to
    first, then the parents close, so a writer never finds no open shard.

    Parameters
    ----------
    stream : Stream
    """

    def __init__(self, stream):
        self.stream = stream

    def _apply_split(self, parent: ShardInfo, at: int, now: int) -> None:
        created = max(now, parent.created_ms)
        self.stream.add_shard(parent.starting_hash_key, at - 1, created, parent=parent.shard_id)
        self.stream.add_shard(at, parent.ending_hash_key, created, parent=parent.shard_id)
        self._close_parents([parent], now)

    def _apply_merge(self, left: ShardInfo, right: ShardInfo, now: int) -> None:
        created = max(now, left.created_ms, right.created_ms)
        self.stream.add_shard(
            left.starting_hash_key,
            right.ending_hash_key,
            created,
            parent=left.shard_id,
            adjacent_parent=right.shard_id,
        )
        self._close_parents([left, right], now)

    def _close_parents(self, parents: list[ShardInfo], now: int) -> None:
        # Route to the children first, then close the parents: a writer that
        # finds a parent closed re-reads the routing and already sees them.
        for parent in parents:
            parent.closed_ms = now
        self.stream.rebuild_routing()
        for parent in parents:
            self.stream.logs[parent.index].close()
        self.stream.writes.notify()  # subscriptions waiting on a parent see it closed (ChildShards) now

    @saves_metadata
    def split_shard(self, shard_to_split, new_starting_hash_key) -> dict:
        """Split an open shard in two at a hash key (Kinesis's SplitShard).

        The parent closes (keeping its records) and two children take
        ``[start, new - 1]`` and ``[new, end]``.

        Parameters
        ----------
        shard_to_split : str
            The open shard to split.
        new_starting_hash_key : str or int
            The first hash key of the upper child (decimal): greater than the
            shard's StartingHashKey + 1 and less than its EndingHashKey.

        Returns
        -------
        dict
            ``{}`` as boto3.
        """
        check_split_request(shard_to_split, new_starting_hash_key)
        shard_index_of(shard_to_split, self.stream.name, self.stream.account_id)
        with self.stream.catalog.lock:
            parent, at = check_split(self.stream, shard_to_split, new_starting_hash_key)
            before = self.stream.layout_snapshot()
            self._apply_split(parent, at, self.stream.now_ms())
            self.stream.begin_update(before)
        return {}

    @saves_metadata
    def merge_shards(self, shard_to_merge, adjacent_shard_to_merge) -> dict:
        """Merge two adjacent open shards (Kinesis's MergeShards).

        Parameters
        ----------
        shard_to_merge : str
            The open shard of the lower hash-key range.
        adjacent_shard_to_merge : str
            The open shard whose range starts right after it.

        Returns
        -------
        dict
            ``{}`` as boto3.
        """
        check_merge_request(shard_to_merge, adjacent_shard_to_merge)
        for shard_id in (shard_to_merge, adjacent_shard_to_merge):
            shard_index_of(shard_id, self.stream.name, self.stream.account_id)
        with self.stream.catalog.lock:
            left, right = check_merge(self.stream, shard_to_merge, adjacent_shard_to_merge)
            before = self.stream.layout_snapshot()
            self._apply_merge(left, right, self.stream.now_ms())
            self.stream.begin_update(before)
        return {}

    @saves_metadata
    def update_shard_count(self, target_shard_count, scaling_type="UNIFORM_SCALING") -> dict:
        """Reshape the stream to ``target_shard_count`` uniform shards through splits and merges.

        Every child records at most two adjacent parents, so readers that
        drain parents before children keep each partition key in order.
        Parameters
        ----------
        target_shard_count : int
            Between half and double the open shard count (and at most
            :data:`MAX_SHARDS_PER_STREAM`).
        scaling_type : str
            ``"UNIFORM_SCALING"`` (the only type).

        Returns
        -------
        dict
            ``{"StreamName", "StreamARN", "CurrentShardCount", "TargetShardCount"}``.

        Raises
        ------
        ValidationException, SerializationException, ResourceInUseException, LimitExceededException
            As :func:`check_update_shard_count`.
        """
        with self.stream.catalog.lock:
            current = check_update_shard_count(self.stream, target_shard_count, scaling_type)
            before = self.stream.layout_snapshot()
            self.reshape(target_shard_count)
            self.stream.begin_update(before)
        return {
            "StreamName": self.stream.name,
            "CurrentShardCount": current,
            "TargetShardCount": target_shard_count,
            "StreamARN": self.stream.arn,
        }

    def reshape(self, target: int) -> None:
        """Apply the uniform splits and merges that leave ``target`` open shards (checks done)."""
        now = self.stream.now_ms()
        open_shards = [s for s in self.stream.shards if s.is_open]
        for step in uniform_plan(open_shards, target, len(self.stream.shards)):
            if step.kind == "split":
                self._apply_split(self.stream.shards[step.first], step.second, now)
            else:
                self._apply_merge(self.stream.shards[step.first], self.stream.shards[step.second], now)

    @saves_metadata
    def scale_out(self) -> bool:
        """Double the open shards of an on-demand stream, within the limits; False if capped."""
        with self.stream.catalog.lock:
            if self.stream.status != "ACTIVE":
                return False
            current = self.stream.open_shard_count
            target = min(2 * current, MAX_SHARDS_PER_STREAM)
            headroom = self.stream.catalog.shard_headroom()
            if headroom is not None:
                target = min(target, current + headroom)
            if target <= current:
                return False
            before = self.stream.layout_snapshot()
            self.reshape(target)
            self.stream.begin_update(before)
            return True
