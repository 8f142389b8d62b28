"""Carrying a consumer group's checkpoints from the old primary's sequence numbers to the target's.

The target numbers records its own way, so a checkpoint (a source sequence
number) means nothing there.  The replicator's position map
(``<checkpoint>.map``, :mod:`.checkpoint`) holds exact (source, target) pairs
of replicated records, one per shard per checkpoint save.  A checkpoint ``S``
becomes the target sequence number paired with the largest source sequence
number ``<= S``: the group resumes at or before where it was, never after it,
so it may see again the records between that pair and ``S`` (at most about a
second of replication) and skips none.  A checkpoint before every pair becomes
``TRIM_HORIZON``; ``TRIM_HORIZON``, ``LATEST``, ``AT_TIMESTAMP`` and
``SHARD_END`` stay as they are.

Each lease is moved with the lease table's conditional ``reset``, which also
clears its owner: a worker still holding it loses it, so it cannot write an
old-primary checkpoint afterwards.  Run it before promoting the target (which
is when consumers can read it again): :meth:`Replicator.promote` and
``shardstream replicate --promote URL --checkpoint FILE --leases PATH --group G
--stream S`` do.
"""

from __future__ import annotations

import bisect
import json
import logging
from pathlib import Path

__all__ = ["SHARD_END_SUB", "carry_checkpoints", "read_position_map"]

log = logging.getLogger("shardstream.replication")

#: The sub-sequence number that marks a whole (aggregated) record as processed.
SHARD_END_SUB = 2**31 - 1


def read_position_map(path) -> dict[str, list[tuple[int, str]]]:
    """``{"stream/shard": [(source as int, target), ...]}`` sorted, from a position map file.

    Parameters
    ----------
    path : path-like
        ``<checkpoint>.map``; a torn last line (a replicator killed while appending) is ignored.
    """
    pairs: dict[str, list[tuple[int, str]]] = {}
    path = Path(path)
    if not path.exists():
        return pairs
    for line in path.read_bytes().splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        pairs.setdefault(doc["k"], []).append((int(doc["s"]), doc["t"]))
    for found in pairs.values():
        found.sort()
    return pairs


def _carried(pairs: list[tuple[int, str]], checkpoint: str, sub: int) -> tuple[str, int]:
    at = bisect.bisect_right(pairs, (int(checkpoint), "\uffff")) - 1
    if at < 0:
        return "TRIM_HORIZON", 0
    source, target = pairs[at]
    return target, sub if source == int(checkpoint) else SHARD_END_SUB


def carry_checkpoints(map_path, leases, group: str, stream: str) -> dict[str, tuple[str, str]]:
    """Move every sequence-number checkpoint of ``group`` on ``stream`` to the target's numbering.

    Parameters
    ----------
    map_path : path-like
        The replicator's position map (``<checkpoint>.map``).
    leases : path-like, str or LeaseStore
        The group's lease table, as a Consumer's ``leases=`` names it.
    group : str
    stream : str
        The stream the group consumes.

    Returns
    -------
    dict
        ``{shard: (old checkpoint, new checkpoint)}`` of the leases moved; ``{}`` when the
        group's checkpoints were carried over already (a marker file beside the map says so:
        carrying twice would move positions that are already the target's).
    """
    from ..consumer.stores import open_lease_store

    marker = Path(map_path).with_name(f"{Path(map_path).name}.carried-{group}")
    if marker.exists():
        log.warning("group %s: checkpoints were carried over already (%s)", group, marker)
        return {}

    pairs = read_position_map(map_path)
    store = open_lease_store(leases, group)
    moved = {}
    try:
        for key in [lease.lease_key for lease in store.list()]:
            for _ in range(100):  # a worker may checkpoint meanwhile: again with what it holds then
                lease = store.get(key)
                if lease is None or not lease.checkpoint.isdigit():
                    break
                pairs_of = pairs.get(f"{stream}/{key}", [])
                checkpoint, sub = _carried(pairs_of, lease.checkpoint, lease.checkpoint_sub_sequence_number)
                if store.reset(key, lease.counter, checkpoint, sub):
                    moved[key] = (lease.checkpoint, checkpoint)
                    break
    finally:
        if store is not leases:
            store.close()
    marker.write_text(json.dumps(moved))
    log.warning("group %s: %d checkpoints carried over to the target's sequence numbers", group, len(moved))
    return moved
