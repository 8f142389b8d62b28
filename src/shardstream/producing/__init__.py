"""The parts of :class:`shardstream.Producer`, one job each.

* :mod:`~shardstream.producing.records`: a user record, checked at ``send()``; a Kinesis record (a unit of a
  PutRecords call: one user record, or an aggregate of several);
* :mod:`~shardstream.producing.buffer`: the records waiting to be sent, back-pressure, flush waits;
* :mod:`~shardstream.producing.units`: user records into Kinesis records (aggregation by shard, compression);
* :mod:`~shardstream.producing.shardmap`: which shard a hash key routes to (from ListShards);
* :mod:`~shardstream.producing.retry`: which failures are retried, and when (exponential backoff, full jitter);
* :mod:`~shardstream.producing.targets`: one PutRecords call on an embedded or remote stream, per-entry answers;
* :mod:`~shardstream.producing.sender`: the background thread's loop (calls, results, retries, order);
* :mod:`~shardstream.producing.stats`: the counters.
"""
