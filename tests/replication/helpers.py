"""Reading whole streams back, to compare a replica with its source."""

from __future__ import annotations


def shard_records(engine, name: str) -> dict[str, list[tuple[str, bytes]]]:
    """``{shard id: [(partition key, data), ...]}`` of every listed shard, in order."""
    stream = engine.stream(name)
    out = {}
    for shard in stream.list_shards():
        it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")["ShardIterator"]
        records = []
        while it is not None:
            page = stream.get_records(it, 10_000)
            records += [(r["PartitionKey"], bytes(r["Data"])) for r in page["Records"]]
            it = page.get("NextShardIterator")
            if not page["Records"]:
                break
        out[shard["ShardId"]] = records
    return out


def shard_map(engine, name: str) -> list[tuple]:
    """``(id, parent, adjacent parent, start, end, closed)`` of every listed shard."""
    return [
        (
            s["ShardId"],
            s.get("ParentShardId"),
            s.get("AdjacentParentShardId"),
            s["HashKeyRange"]["StartingHashKey"],
            s["HashKeyRange"]["EndingHashKey"],
            "EndingSequenceNumber" in s["SequenceNumberRange"],
        )
        for s in engine.stream(name).list_shards()
    ]
