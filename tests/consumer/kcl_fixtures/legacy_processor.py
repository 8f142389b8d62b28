#!/usr/bin/env python
"""A record processor written against amazon_kclpy's oldest (v1) API: ``shutdown(checkpointer, reason)``.

    legacy_processor.py OUT_FILE

amazon_kclpy adapts it to the current protocol (``shardEnded`` becomes reason TERMINATE, ``leaseLost``
ZOMBIE); it logs JSON lines like ``recording_processor.py``.
"""

from __future__ import annotations

import json
import sys

from amazon_kclpy import kcl


class Legacy(kcl.RecordProcessorBase):
    def __init__(self, out_path: str):
        self.out_path = out_path
        self.shard = None

    def log(self, event: str, **fields) -> None:
        with open(self.out_path, "a") as out:
            out.write(json.dumps({"event": event, "shard": self.shard, **fields}) + "\n")

    def initialize(self, shard_id):
        self.shard = shard_id
        self.log("initialize")

    def process_records(self, records, checkpointer):
        for record in records:
            self.log("record", sequenceNumber=record.get("sequenceNumber"), data=record.binary_data.decode())
        checkpointer.checkpoint()

    def shutdown(self, checkpointer, reason):
        self.log("shutdown", reason=reason)
        if reason == "TERMINATE":
            checkpointer.checkpoint()


if __name__ == "__main__":
    kcl.KCLProcess(Legacy(sys.argv[1])).run()
