"""A consumer-group worker process for the tests: logs what it processes, then checkpoints.

    python group_worker.py URL STREAM LEASE_FILE WORKER_ID OUT_FILE FAILOVER_MS

Each output line is tab-separated: ``time  kind  session  shard  value``, with kind
``record`` (value: sequence number), ``initialize`` (value: starting position),
``shard_ended``, ``lease_lost`` or ``shutdown``; a session is one processor instance.
Lines are flushed before the checkpoint, so a record checkpointed was logged.
"""

from __future__ import annotations

import itertools
import os
import sys
import time

import shardstream

url, stream_name, lease_file, worker_id, out_path, failover_ms = sys.argv[1:7]
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
        out.flush()
        checkpointer.checkpoint()

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
    stream, "group", Logger, worker_id=worker_id, leases=lease_file, failover_ms=int(failover_ms), idle_ms=50
).run()
out.write(f"{time.time():.6f}\texit\t-\t-\t{worker_id}\n")
