"""Lease tables: who processes which shard, and how far it got (the KCL's DynamoDB table, locally).

One row per shard per consumer group, with the KCL's lease fields.  Every
write that could race another worker is *conditional* (as the KCL's
DynamoDB writes are): taking and renewing a lease expect the lease counter
the worker last saw, checkpointing expects the worker to still own the lease.
A write whose condition fails changes nothing and reports False.
(Renewals are conditional on the owner alone, so that a checkpoint, which
also bumps the counter, never looks like a lost lease to its own worker.)

:class:`SQLiteLeaseStore` keeps the table in an SQLite file (WAL mode), so
worker processes on one machine share it; :class:`MemoryLeaseStore` is the
same table for the threads of one process.  Both implement
:class:`LeaseStore`, the small interface :class:`~.dynamodb.DynamoDBLeaseStore`
implements too (workers on many machines); :func:`~.stores.open_lease_store`
picks one from a Consumer's ``leases`` argument.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import sqlite3
import threading
from pathlib import Path

__all__ = ["Lease", "LeaseStore", "MemoryLeaseStore", "SQLiteLeaseStore"]


@dataclasses.dataclass
class Lease:
    """One shard's lease (KCL attribute names in brackets).

    Attributes
    ----------
    lease_key : str
        The shard id [leaseKey].
    owner : str or None
        The worker holding it [leaseOwner]; None when unassigned.
    counter : int
        Bumped by every take, renew, release and checkpoint [leaseCounter].
    checkpoint : str
        The last processed sequence number, or TRIM_HORIZON / LATEST /
        AT_TIMESTAMP (never processed) or SHARD_END [checkpoint].
    checkpoint_sub_sequence_number : int
        [checkpointSubSequenceNumber].
    owner_switches_since_checkpoint : int
        [ownerSwitchesSinceCheckpoint].
    parent_shard_ids : tuple of str
        [parentShardId].
    child_shard_ids : tuple of str
        [childShardIds], known once the shard ended.
    starting_hash_key, ending_hash_key : str
        The shard's hash-key range [startingHashKey, endingHashKey].
    """

    lease_key: str
    owner: str | None = None
    counter: int = 0
    checkpoint: str = "TRIM_HORIZON"
    checkpoint_sub_sequence_number: int = 0
    owner_switches_since_checkpoint: int = 0
    parent_shard_ids: tuple = ()
    child_shard_ids: tuple = ()
    starting_hash_key: str = ""
    ending_hash_key: str = ""

    @property
    def finished(self) -> bool:
        """The shard was read to its end and checkpointed SHARD_END."""
        return self.checkpoint == "SHARD_END"


class LeaseStore(abc.ABC):
    """The lease table of one consumer group."""

    @abc.abstractmethod
    def create_if_absent(self, lease: Lease) -> bool:
        """Add ``lease`` unless its shard has one; True if added."""

    @abc.abstractmethod
    def list(self) -> list[Lease]:
        """Every lease, by key."""

    @abc.abstractmethod
    def get(self, lease_key: str) -> Lease | None:
        """The lease of shard ``lease_key`` (a copy), or None."""

    @abc.abstractmethod
    def take(self, lease_key: str, expected_counter: int, owner: str) -> Lease | None:
        """Make ``owner`` hold the lease if its counter is still ``expected_counter``.

        Parameters
        ----------
        lease_key : str
        expected_counter : int
            The counter the taker last saw: the condition of the write.
        owner : str
            The taking worker; a change of owner counts an owner switch.

        Returns
        -------
        Lease or None
            The lease as taken (counter bumped), or None when it is missing or
            its counter moved on.
        """

    @abc.abstractmethod
    def renew(self, lease_key: str, owner: str) -> Lease | None:
        """Bump the counter of a lease ``owner`` still holds (others see it is alive).

        Conditional on the owner only: checkpoints bump the counter too, and a
        lease is lost exactly when another worker took it.

        Parameters
        ----------
        lease_key : str
        owner : str

        Returns
        -------
        Lease or None
            The renewed lease, or None when ``owner`` no longer holds it.
        """

    @abc.abstractmethod
    def release(self, lease_key: str, owner: str) -> bool:
        """Give up a lease ``owner`` holds, so another worker may take it at once.

        Parameters
        ----------
        lease_key : str
        owner : str

        Returns
        -------
        bool
            False (and nothing changes) when ``owner`` does not hold it.
        """

    @abc.abstractmethod
    def checkpoint(self, lease_key: str, owner: str, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        """Record a checkpoint if ``owner`` still holds the lease; resets owner switches.

        Parameters
        ----------
        lease_key : str
        owner : str
        checkpoint : str
            A sequence number, a starting position or ``SHARD_END``.
        sub_sequence_number : int
            Position inside a KPL-aggregated record (0 otherwise).

        Returns
        -------
        bool
            False (and nothing changes) when ``owner`` does not hold it.
        """

    @abc.abstractmethod
    def reset(self, lease_key: str, expected_counter: int, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        """Move a lease's checkpoint from outside the group (``shardstream groups reset``).

        Conditional on the counter alone: the write happens only if nobody took, renewed,
        released or checkpointed the lease since the caller saw ``expected_counter``.  The
        owner is cleared (a dead worker's lease is free at once), owner switches reset, the
        counter bumped.

        Parameters
        ----------
        lease_key : str
        expected_counter : int
            The counter the caller last saw.
        checkpoint : str
            A sequence number or a starting position (``TRIM_HORIZON``, ``LATEST``).
        sub_sequence_number : int
            With a sequence number: the last user record processed inside it; -1 means just
            before the record's first user record (the group resumes *at* that record).

        Returns
        -------
        bool
            False (and nothing changes) when the lease is missing or its counter moved on.
        """

    @abc.abstractmethod
    def set_children(self, lease_key: str, child_shard_ids) -> None:
        """Record ``child_shard_ids``, the children of shard ``lease_key`` (known once it ended)."""

    @abc.abstractmethod
    def delete(self, lease_key: str) -> None:
        """Remove the lease of shard ``lease_key`` (nothing if there is none)."""

    def close(self) -> None:  # noqa: B027 - optional: only stores with files need it
        """Release resources (files)."""


class MemoryLeaseStore(LeaseStore):
    """A lease table in this process's memory (for the threads of one process)."""

    def __init__(self):
        self._leases: dict[str, Lease] = {}
        self._lock = threading.Lock()

    def create_if_absent(self, lease: Lease) -> bool:
        with self._lock:
            if lease.lease_key in self._leases:
                return False
            self._leases[lease.lease_key] = dataclasses.replace(lease)
            return True

    def list(self) -> list[Lease]:
        with self._lock:
            return [dataclasses.replace(self._leases[k]) for k in sorted(self._leases)]

    def get(self, lease_key: str) -> Lease | None:
        with self._lock:
            lease = self._leases.get(lease_key)
            return None if lease is None else dataclasses.replace(lease)

    def take(self, lease_key: str, expected_counter: int, owner: str) -> Lease | None:
        with self._lock:
            lease = self._leases.get(lease_key)
            if lease is None or lease.counter != expected_counter:
                return None
            if lease.owner != owner:
                lease.owner_switches_since_checkpoint += 1
            lease.owner = owner
            lease.counter += 1
            return dataclasses.replace(lease)

    def renew(self, lease_key: str, owner: str) -> Lease | None:
        with self._lock:
            lease = self._leases.get(lease_key)
            if lease is None or lease.owner != owner:
                return None
            lease.counter += 1
            return dataclasses.replace(lease)

    def release(self, lease_key: str, owner: str) -> bool:
        with self._lock:
            lease = self._leases.get(lease_key)
            if lease is None or lease.owner != owner:
                return False
            lease.owner = None
            lease.counter += 1
            return True

    def checkpoint(self, lease_key: str, owner: str, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        with self._lock:
            lease = self._leases.get(lease_key)
            if lease is None or lease.owner != owner:
                return False
            lease.checkpoint = checkpoint
            lease.checkpoint_sub_sequence_number = sub_sequence_number
            lease.owner_switches_since_checkpoint = 0
            lease.counter += 1
            return True

    def reset(self, lease_key: str, expected_counter: int, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        with self._lock:
            lease = self._leases.get(lease_key)
            if lease is None or lease.counter != expected_counter:
                return False
            lease.owner = None
            lease.checkpoint = checkpoint
            lease.checkpoint_sub_sequence_number = int(sub_sequence_number)
            lease.owner_switches_since_checkpoint = 0
            lease.counter += 1
            return True

    def set_children(self, lease_key: str, child_shard_ids) -> None:
        with self._lock:
            lease = self._leases.get(lease_key)
            if lease is not None:
                lease.child_shard_ids = tuple(child_shard_ids)

    def delete(self, lease_key: str) -> None:
        with self._lock:
            self._leases.pop(lease_key, None)


_COLUMNS = (
    "lease_key, owner, counter, checkpoint, checkpoint_sub_sequence_number, owner_switches_since_checkpoint, "
    "parent_shard_ids, child_shard_ids, starting_hash_key, ending_hash_key"
)


class SQLiteLeaseStore(LeaseStore):
    """A lease table in an SQLite file, shared by worker processes on one machine.

    The file may hold the tables of many groups (rows are keyed by group and
    shard).  WAL mode lets readers run beside the one writer; each
    conditional write is one ``UPDATE ... WHERE`` statement, atomic across
    processes.

    Parameters
    ----------
    path : path-like
        The database file (created if missing).
    group : str
        The consumer group (the KCL's application name).
    """

    def __init__(self, path, group: str):
        self.path = Path(path)
        self.group = group
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS leases (group_name TEXT NOT NULL, lease_key TEXT NOT NULL, owner TEXT, "
            "counter INTEGER NOT NULL, checkpoint TEXT NOT NULL, checkpoint_sub_sequence_number INTEGER NOT NULL, "
            "owner_switches_since_checkpoint INTEGER NOT NULL, parent_shard_ids TEXT NOT NULL, "
            "child_shard_ids TEXT NOT NULL, starting_hash_key TEXT NOT NULL, ending_hash_key TEXT NOT NULL, "
            "PRIMARY KEY (group_name, lease_key))"
        )

    def _write(self, sql: str, params) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    @staticmethod
    def _lease(row) -> Lease:
        fields = list(row)
        fields[6] = tuple(json.loads(fields[6]))
        fields[7] = tuple(json.loads(fields[7]))
        return Lease(*fields)

    def create_if_absent(self, lease: Lease) -> bool:
        return bool(
            self._write(
                f"INSERT OR IGNORE INTO leases (group_name, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.group,
                    lease.lease_key,
                    lease.owner,
                    lease.counter,
                    lease.checkpoint,
                    lease.checkpoint_sub_sequence_number,
                    lease.owner_switches_since_checkpoint,
                    json.dumps(list(lease.parent_shard_ids)),
                    json.dumps(list(lease.child_shard_ids)),
                    lease.starting_hash_key,
                    lease.ending_hash_key,
                ),
            )
        )

    def list(self) -> list[Lease]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM leases WHERE group_name = ? ORDER BY lease_key", (self.group,)
            ).fetchall()
        return [self._lease(r) for r in rows]

    def get(self, lease_key: str) -> Lease | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM leases WHERE group_name = ? AND lease_key = ?", (self.group, lease_key)
            ).fetchone()
        return None if row is None else self._lease(row)

    def take(self, lease_key: str, expected_counter: int, owner: str) -> Lease | None:
        changed = self._write(
            "UPDATE leases SET owner_switches_since_checkpoint = owner_switches_since_checkpoint + "
            "(CASE WHEN owner IS ? THEN 0 ELSE 1 END), owner = ?, counter = counter + 1 "
            "WHERE group_name = ? AND lease_key = ? AND counter = ?",
            (owner, owner, self.group, lease_key, expected_counter),
        )
        return self.get(lease_key) if changed else None

    def renew(self, lease_key: str, owner: str) -> Lease | None:
        changed = self._write(
            "UPDATE leases SET counter = counter + 1 WHERE group_name = ? AND lease_key = ? AND owner = ?",
            (self.group, lease_key, owner),
        )
        if not changed:
            return None
        lease = self.get(lease_key)
        return lease if lease is not None and lease.owner == owner else None

    def release(self, lease_key: str, owner: str) -> bool:
        return bool(
            self._write(
                "UPDATE leases SET owner = NULL, counter = counter + 1 WHERE group_name = ? AND lease_key = ? "
                "AND owner = ?",
                (self.group, lease_key, owner),
            )
        )

    def checkpoint(self, lease_key: str, owner: str, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        return bool(
            self._write(
                "UPDATE leases SET checkpoint = ?, checkpoint_sub_sequence_number = ?, "
                "owner_switches_since_checkpoint = 0, counter = counter + 1 "
                "WHERE group_name = ? AND lease_key = ? AND owner = ?",
                (checkpoint, int(sub_sequence_number), self.group, lease_key, owner),
            )
        )

    def reset(self, lease_key: str, expected_counter: int, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        return bool(
            self._write(
                "UPDATE leases SET owner = NULL, checkpoint = ?, checkpoint_sub_sequence_number = ?, "
                "owner_switches_since_checkpoint = 0, counter = counter + 1 "
                "WHERE group_name = ? AND lease_key = ? AND counter = ?",
                (checkpoint, int(sub_sequence_number), self.group, lease_key, int(expected_counter)),
            )
        )

    @staticmethod
    def groups(path) -> dict[str, list[Lease]]:
        """The groups an SQLite lease file holds, with their leases (read only; no file: none).

        Parameters
        ----------
        path : path-like

        Returns
        -------
        dict of str to list of Lease
            By group name, sorted; leases by key.
        """
        path = Path(path)
        if not path.exists():
            return {}
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            try:
                rows = db.execute(
                    f"SELECT group_name, {_COLUMNS} FROM leases ORDER BY group_name, lease_key"
                ).fetchall()
            except sqlite3.OperationalError:
                return {}  # not a lease file (no table)
        finally:
            db.close()
        groups: dict[str, list[Lease]] = {}
        for row in rows:
            groups.setdefault(row[0], []).append(SQLiteLeaseStore._lease(row[1:]))
        return groups

    def set_children(self, lease_key: str, child_shard_ids) -> None:
        self._write(
            "UPDATE leases SET child_shard_ids = ? WHERE group_name = ? AND lease_key = ?",
            (json.dumps(list(child_shard_ids)), self.group, lease_key),
        )

    def delete(self, lease_key: str) -> None:
        self._write("DELETE FROM leases WHERE group_name = ? AND lease_key = ?", (self.group, lease_key))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteLeaseStore({str(self.path)!r}, group={self.group!r})"
