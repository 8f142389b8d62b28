"""The replicator's checkpoint: per source shard, how far it is known to be applied on the target.

A JSON document written atomically (a temporary file, ``fsync``, ``rename``,
``fsync`` of the directory), so a replicator killed at any moment finds
either the previous checkpoint or the new one, never a torn one.

The checkpoint is a *lower bound*, not the truth: the truth is what the
target shard holds.  On resume the replicator reads the target shard after
the checkpoint's target position and counts the records it finds there;
those are the next source records, already applied (see
:mod:`shardstream.replication.copier`).  So the checkpoint may be written
lazily (once a second) without ever causing a duplicate.

Each save also appends the (source, target) sequence-number pairs that moved
to ``<checkpoint>.map`` (JSON lines): the position map that carries consumer
checkpoints over to the target at promotion (:mod:`.handover`).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["CheckpointFile", "ShardPosition"]


@dataclass
class ShardPosition:
    """Where one source shard's replication stands.

    Attributes
    ----------
    target_shard : str or None
        The target shard its records go to (None until it is mapped).
    start : str or None
        The sequence number of the first source record replicated (fixed,
        and saved, before the first write; None: nothing to start from yet).
    source : str or None
        The last source sequence number known applied on the target.
    target : str or None
        The target sequence number of that record (None: none yet).
    done : bool
        The source shard is closed and every one of its records is applied.
    """

    target_shard: str | None = None
    start: str | None = None
    source: str | None = None
    target: str | None = None
    done: bool = False

    @classmethod
    def from_doc(cls, doc: dict) -> ShardPosition:
        """A position from its saved form.

        Parameters
        ----------
        doc : dict
            What :meth:`CheckpointFile.save` wrote for it.
        """
        return cls(**{k: doc.get(k) for k in ("target_shard", "start", "source", "target")}, done=bool(doc.get("done")))


class CheckpointFile:
    """The checkpoint document of a replicator, in memory and (when given a path) on disk.

    Parameters
    ----------
    path : path-like or None
        The JSON file; None keeps the checkpoint in memory only (a replicator
        that cannot resume after its process ends).
    """

    def __init__(self, path=None):
        self.path = None if path is None else Path(path)
        self._lock = threading.Lock()
        self._shards: dict[str, ShardPosition] = {}
        self._mapped: dict[str, tuple] = {}
        if self.path is not None and self.path.exists():
            doc = json.loads(self.path.read_bytes())
            self._shards = {k: ShardPosition.from_doc(v) for k, v in doc.get("shards", {}).items()}

    @staticmethod
    def key(stream: str, shard_id: str) -> str:
        """The key of ``shard_id`` of ``stream`` in the document."""
        return f"{stream}/{shard_id}"

    def get(self, stream: str, shard_id: str) -> ShardPosition:
        """A copy of the position of ``shard_id`` of ``stream`` (a new, empty one if unknown)."""
        with self._lock:
            found = self._shards.get(self.key(stream, shard_id))
            return ShardPosition() if found is None else ShardPosition(**asdict(found))

    def set(self, stream: str, shard_id: str, position: ShardPosition) -> None:
        """Remember ``position`` for ``shard_id`` of ``stream`` (in memory; :meth:`save` writes it)."""
        with self._lock:
            self._shards[self.key(stream, shard_id)] = ShardPosition(**asdict(position))

    def positions(self) -> dict[str, ShardPosition]:
        """Every known position by ``stream/shard`` key (copies)."""
        with self._lock:
            return {k: ShardPosition(**asdict(v)) for k, v in self._shards.items()}

    @property
    def map_path(self) -> Path | None:
        """The position map's file (None without a checkpoint file)."""
        return None if self.path is None else self.path.with_name(self.path.name + ".map")

    def save(self) -> None:
        """Write the document atomically and durably (nothing without a path)."""
        if self.path is None:
            return
        with self._lock:
            moved = [
                (k, p.source, p.target)
                for k, p in self._shards.items()
                if p.source is not None and p.target is not None and self._mapped.get(k) != (p.source, p.target)
            ]
            if moved:  # the map first: a pair in the checkpoint is always in the map too
                with open(self.map_path, "ab") as f:
                    f.write("".join(json.dumps({"k": k, "s": s, "t": t}) + "\n" for k, s, t in moved).encode())
                    f.flush()
                    os.fsync(f.fileno())
                self._mapped.update({k: (s, t) for k, s, t in moved})
            body = json.dumps({"version": 1, "shards": {k: asdict(v) for k, v in self._shards.items()}}).encode()
            tmp = self.path.with_name(self.path.name + ".tmp")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
