"""Reading back what a producer wrote, and a stream wrapper that records the calls made on it."""

from __future__ import annotations

import threading


def read_back(stream) -> dict[str, list[dict]]:
    """Every record of every shard of ``stream`` (embedded or remote), by shard id, through GetRecords."""
    out = {}
    for shard in stream.list_shards():
        sid = shard["ShardId"]
        it = stream.get_shard_iterator(sid, "TRIM_HORIZON")["ShardIterator"]
        records = []
        while it:
            page = stream.get_records(it)
            records.extend(page["Records"])
            if not page["Records"] and page.get("MillisBehindLatest", 0) == 0:
                break
            it = page.get("NextShardIterator")
        out[sid] = records
    return out


def payloads_by_key(stream) -> dict[str, list[bytes]]:
    """The payloads of ``stream`` grouped by partition key, in stream order within each shard."""
    by_key: dict[str, list[bytes]] = {}
    for records in read_back(stream).values():
        for r in records:
            by_key.setdefault(r["PartitionKey"], []).append(bytes(r["Data"]))
    return by_key


class RecordingStream:
    """A stream's ``put_records`` and ``list_shards``, with every PutRecords request's size recorded.

    Parameters
    ----------
    stream
        The real stream behind (embedded or remote).
    """

    def __init__(self, stream):
        self.stream = stream
        self.name = stream.name
        self.calls: list[tuple[int, int]] = []  # (entries, bytes of data plus keys)
        self._lock = threading.Lock()

    def put_records(self, records):
        nbytes = sum(len(r["Data"]) + len(r["PartitionKey"].encode()) for r in records)
        with self._lock:
            self.calls.append((len(records), nbytes))
        return self.stream.put_records(records)

    def list_shards(self, shard_filter=None):
        return self.stream.list_shards(shard_filter)


def user_records(stream) -> list[tuple[str, str, int, str, bytes]]:
    """``(shard id, sequence number, sub-sequence number, partition key, data)`` of every user record in
    ``stream``: its Kinesis records decompressed (shardstream's envelope) and de-aggregated by
    ``aws-kinesis-agg``'s own deaggregator (so what we aggregate, the KPL's readers read)."""
    import base64

    from aws_kinesis_agg.deaggregator import iter_deaggregate_records

    from shardstream.compression import decompress

    out = []
    for sid, records in read_back(stream).items():
        for r in records:
            plain = {**r, "Data": decompress(bytes(r["Data"]))}
            for u in iter_deaggregate_records([plain], data_format="Boto3"):
                k = u["kinesis"]
                if k.get("aggregated"):
                    data = base64.b64decode(k["data"])
                    out.append((sid, k["sequenceNumber"], k["subSequenceNumber"], k["partitionKey"], data))
                else:
                    out.append((sid, k["sequenceNumber"], 0, k["partitionKey"], bytes(k["data"])))
    return out
