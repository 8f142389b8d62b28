"""A consumer-group worker process for the tests: logs what it processes, then checkpoints.

    python group_worker.py URL STREAM LEASES WORKER_ID OUT_FILE FAILOVER_MS [DIE_FILE] [--OPTION=VALUE ...]

URL is anything ``shardstream.connect`` takes; LEASES a Consumer's ``leases`` (an SQLite file
or ``dynamodb://<table>``).

Each output line is tab-separated: ``time  kind  session  shard  value``, with kind
``record`` (value: sequence number), ``initialize`` (value: starting position),
``checkpointed`` (value: the checkpoint written, logged once the write returned),
``shard_ended``, ``lease_lost``, ``shutdown`` or ``killed`` (value: how many records the
fatal batch held); a session is one processor instance.
Lines are flushed before the checkpoint, so a record checkpointed was logged.

With DIE_FILE, the first batch handed to ``process`` once that file exists is logged and then
the process SIGKILLs itself, before ``process`` returns and so before its checkpoint: those
records were received but never checkpointed, and another worker must deliver them again.

Options: ``--delivery=at_most_once`` (the Consumer's delivery mode; at most once the batch was
checkpointed before ``process``, so a kill loses it), ``--max-records=N`` (records per batch),
``--die-at-batch=N`` (SIGKILL inside the N-th ``process`` call of the process, as DIE_FILE does).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time

import shardstream

options = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
args = [a for a in sys.argv[1:] if not a.startswith("--")]
url, stream_name, lease_file, worker_id, out_path, failover_ms = args[:6]
die_file = args[6] if len(args) > 6 else None
die_at_batch = int(options.get("die-at-batch", 0))
batches = itertools.count(1)
out = open(out_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
sessions = itertools.count()


def log(kind: str, session: str, shard: str, value: str = "") -> None:
    out.write(f"{time.time():.6f}\t{kind}\t{session}\t{shard}\t{value}\n")


class Logger(shardstream.RecordProcessor):
    def initialize(self, shard_id, starting_position):
        self.shard_id, self.session = shard_id, f"{os.getpid()}-{next(sessions)}"
        log("initialize", self.session, shard_id, starting_position)

    def process(self, records, checkpointer, millis_behind_latest):
        for seq in records.column("sequence_number").to_pylist():
            log("record", self.session, self.shard_id, seq)
        batch = next(batches)
        if (die_file is not None and os.path.exists(die_file)) or batch == die_at_batch:
            log("killed", self.session, self.shard_id, str(records.num_rows))
            out.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        out.flush()
        checkpointer.checkpoint()
        log("checkpointed", self.session, self.shard_id, checkpointer.last_checkpoint)

    def lease_lost(self):
        log("lease_lost", self.session, self.shard_id)

    def shard_ended(self, checkpointer):
        log("shard_ended", self.session, self.shard_id)
        checkpointer.checkpoint()

    def shutdown_requested(self, checkpointer):
        log("shutdown", self.session, self.shard_id)
        checkpointer.checkpoint()


stream = shardstream.connect(url).stream(stream_name)
shardstream.Consumer(
    stream,
    "group",
    Logger,
    worker_id=worker_id,
    leases=lease_file,
    failover_ms=int(failover_ms),
    idle_ms=50,
    delivery=options.get("delivery", "at_least_once"),
    max_records=int(options.get("max-records", 10_000)),
).run()
out.write(f"{time.time():.6f}\texit\t-\t-\t{worker_id}\n")
