"""User records into Kinesis records: one each, or aggregated by shard (KPL format); compressed if asked.

Aggregation groups the records of one batch by the shard their keys route to now (the explicit hash key,
else the MD5 of the partition key, looked up in a :class:`~shardstream.producing.shardmap.ShardMap`) and packs
each group into as few aggregates as the record limit allows, in send order.  An aggregate carries its first
user record's keys, so it lands in that shard.  A group of one record is sent as it is (no aggregate), and so
is a record too big to be aggregated.  When the shards cannot be listed, the batch goes unaggregated
(except with ``ordered``, whose lanes are shards: its records fail with the listing's error).  Compression
(:func:`shardstream.compression.compress`) then applies to each Kinesis record; it leaves a record that would
not shrink as it was.
"""

from __future__ import annotations

from .records import KinesisRecord

__all__ = ["UnitBuilder"]


class UnitBuilder:
    """Makes the Kinesis records of a batch of user records.

    Parameters
    ----------
    shard_map : ShardMap or None
        Where keys route (needed to aggregate).
    max_record_bytes : int
        The largest Kinesis record (data plus key) an aggregate may become.
    aggregate : bool
        Pack the records of a shard into KPL aggregates.
    compression : {"zstd", "gzip", "lz4"} or None
        Compress each Kinesis record with this codec.
    ordered : bool
        Give each record its lane (what ``ordered=True`` keeps in order); without it lanes are not needed.

    Raises
    ------
    ValueError
        An unknown codec, or aggregation without a shard map.
    """

    def __init__(
        self, shard_map, max_record_bytes: int, *, aggregate: bool = False, compression=None, ordered: bool = False
    ):
        self._compress = None
        if compression is not None:
            from ..compression import CODECS, compress

            if compression not in CODECS:
                raise ValueError(f"compression must be one of {', '.join(CODECS)} or None, not {compression!r}")
            self._compress = compress
        self._aggregate_builder = None
        if aggregate:
            if shard_map is None:
                raise ValueError("aggregation needs a shard map")
            from ..aggregation import AggregateBuilder

            self._aggregate_builder = AggregateBuilder
        self.codec = compression
        self.shard_map = shard_map
        self.max_record_bytes = max_record_bytes
        self.ordered = ordered

    def build(self, records: list) -> tuple[list, int]:
        """The Kinesis records carrying ``records``, in send order, and their size before compression.

        Parameters
        ----------
        records : list of UserRecord
            In send order.

        Returns
        -------
        tuple
            The :class:`~shardstream.producing.records.KinesisRecord` list and the bytes (data plus key) they
            held after aggregation, before compression.

        Raises
        ------
        KinesisError
            Listing the shards failed (aggregation with ``ordered`` only: otherwise the batch goes
            unaggregated).
        """
        if self._aggregate_builder is None:
            units = self._plain(records)
        else:
            try:
                units = self._aggregated(records)
            except Exception:
                if self.ordered:  # a lane is a shard here: without the map, order cannot be kept
                    raise
                # the shards could not be listed (throttled, unreachable...): send this batch as it is; the put
                # itself answers for a stream that is gone
                self.shard_map.invalidate()
                units = self._plain(records)
        before = sum(u.size for u in units)
        if self._compress is not None:
            compress, codec = self._compress, self.codec
            for u in units:
                data = compress(u.data, codec)
                if data is not u.data and len(data) < len(u.data):
                    u.size -= len(u.data) - len(data)
                    u.data = data
        return units, before

    def _plain(self, records: list) -> list:
        ordered = self.ordered
        return [
            KinesisRecord(
                r.partition_key,
                r.explicit_hash_key,
                r.data,
                [r],
                (r.partition_key, r.explicit_hash_key) if ordered else None,
            )
            for r in records
        ]

    def _aggregated(self, records: list) -> list:
        builders: dict = {}
        members: dict = {}
        out: list = []
        shard_of = self.shard_map.shard_of
        for r in records:
            shard = shard_of(r.partition_key, r.explicit_hash_key)
            builder = builders.get(shard)
            if builder is None:
                builder = builders[shard] = self._aggregate_builder(self.max_record_bytes)
                members[shard] = []
            try:
                fits = builder.try_add(r.partition_key, r.data, r.explicit_hash_key)
                if not fits:
                    out.append(self._finish(shard, builder, members[shard]))
                    members[shard] = []
                    fits = builder.try_add(r.partition_key, r.data, r.explicit_hash_key)
            except ValueError:  # too big to aggregate at all: it goes as it is
                fits = False
            if fits:
                members[shard].append(r)
            else:
                out.append(self._unit(r.partition_key, r.explicit_hash_key, r.data, [r], shard))
        for shard, builder in builders.items():
            if len(builder):
                out.append(self._finish(shard, builder, members[shard]))
        out.sort(key=lambda u: u.seq)
        return out

    def _finish(self, shard: str, builder, members: list) -> KinesisRecord:
        if len(members) == 1:
            r = members[0]
            builder.clear()
            return self._unit(r.partition_key, r.explicit_hash_key, r.data, members, shard)
        key, ehk, data = builder.build()
        builder.clear()
        return self._unit(key, ehk, data, members, shard)

    @staticmethod
    def _unit(key: str, ehk, data: bytes, members: list, shard: str) -> KinesisRecord:
        unit = KinesisRecord(key, ehk, data, members, shard)
        unit.shard_id = shard
        return unit
