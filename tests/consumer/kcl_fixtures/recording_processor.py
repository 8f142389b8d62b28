#!/usr/bin/env python
"""A KCL record processor written against amazon_kclpy's v3 API that logs everything it sees.

    recording_processor.py OUT_FILE [MODE]

Each event is one JSON line appended to OUT_FILE: ``{"event": ..., "shard": ..., "pid": ...}`` plus
event fields.  MODE says how it checkpoints:

``every`` (default)
    ``checkpoint()`` after every batch, at shard end and on shutdown requested.
``explicit``
    ``checkpoint(last.sequence_number, last.sub_sequence_number)`` after every batch.
``probe``
    After the first batch, tries checkpoints the daemon must refuse or accept, logging the answer of each.

Like the amazon_kclpy sample, it also prints a line to stdout (not protocol: the daemon skips it)
and writes to stderr (the daemon copies it to its own stderr).
"""

from __future__ import annotations

import json
import os
import sys

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor


class Recorder(processor.RecordProcessorBase):
    def __init__(self, out_path: str, mode: str):
        self.out_path = out_path
        self.mode = mode
        self.shard = None
        self.checkpointer = None
        self.probed = False

    def log(self, event: str, **fields) -> None:
        line = json.dumps({"event": event, "shard": self.shard, "pid": os.getpid(), **fields})
        with open(self.out_path, "a") as out:
            out.write(line + "\n")

    def checkpoint(self, checkpointer, sequence_number=None, sub_sequence_number=None, label=None) -> None:
        try:
            checkpointer.checkpoint(sequence_number, sub_sequence_number)
            error = None
        except kcl.CheckpointError as exc:
            error = exc.value
        self.log("checkpoint", label=label, sequenceNumber=sequence_number, error=error)

    def initialize(self, initialize_input):
        self.shard = initialize_input.shard_id
        self.log(
            "initialize",
            sequenceNumber=initialize_input.sequence_number,
            subSequenceNumber=initialize_input.sub_sequence_number,
        )
        print(f"recording processor for {self.shard} says hello on stdout")
        sys.stderr.write(f"recording processor for {self.shard} started\n")
        sys.stderr.flush()

    def process_records(self, process_records_input):
        records = process_records_input.records
        for record in records:
            self.log(
                "record",
                sequenceNumber=record.sequence_number,
                subSequenceNumber=record.sub_sequence_number,
                partitionKey=record.partition_key,
                data=record.binary_data.decode(),
                timestampMillis=record.timestamp_millis,
            )
        self.log("batch", count=len(records), millisBehindLatest=process_records_input.millis_behind_latest)
        checkpointer = process_records_input.checkpointer
        self.checkpointer = checkpointer
        last = records[-1]
        if self.mode == "every":
            self.checkpoint(checkpointer)
        elif self.mode == "explicit":
            self.checkpoint(checkpointer, last.sequence_number, last.sub_sequence_number)
        elif self.mode == "probe" and not self.probed:
            self.probed = True
            beyond = str(int(last.sequence_number) + 1)
            self.checkpoint(checkpointer, beyond, None, label="beyond")
            self.checkpoint(checkpointer, last.sequence_number, -1, label="negative-sub")
            self.checkpoint(checkpointer, "not-a-number", None, label="garbage")
            self.checkpoint(checkpointer, records[0].sequence_number, 0, label="first")
            self.checkpoint(checkpointer, last.sequence_number, None, label="last")
            self.checkpoint(checkpointer, records[0].sequence_number, None, label="backwards")
            self.checkpoint(checkpointer, None, None, label="default")

    def lease_lost(self, lease_lost_input):
        self.log("lease_lost")
        if self.mode == "probe" and self.checkpointer is not None:
            # Not allowed: the lease is gone and the daemon has no checkpointer for it.
            self.checkpoint(self.checkpointer, None, None, label="after-lease-lost")

    def shard_ended(self, shard_ended_input):
        self.log("shard_ended")
        self.checkpoint(shard_ended_input.checkpointer, label="shard-end")

    def shutdown_requested(self, shutdown_requested_input):
        self.log("shutdown_requested")
        if self.mode != "probe":
            self.checkpoint(shutdown_requested_input.checkpointer, label="shutdown")


if __name__ == "__main__":
    kcl.KCLProcess(Recorder(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "every")).run()
