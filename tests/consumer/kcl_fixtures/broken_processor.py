#!/usr/bin/env python
"""A child that breaks the MultiLangDaemon protocol in one way (raw protocol, no amazon_kclpy).

    broken_processor.py MODE

``exit``         answers ``initialize``, then exits with status 3 on the next message
``wrong-status`` answers ``initialize`` with a status for ``processRecords``
``silent``       reads messages and never answers
``noisy``        a correct processor that surrounds its answers with lines the daemon must skip
"""

from __future__ import annotations

import json
import sys


def send(message) -> None:
    sys.stdout.write("\n" + json.dumps(message) + "\n")
    sys.stdout.flush()


def main(mode: str) -> None:
    for line in sys.stdin:
        message = json.loads(line)
        action = message["action"]
        if mode == "exit" and action != "initialize":
            sys.stderr.write("broken processor exiting\n")
            sys.exit(3)
        if mode == "silent":
            continue
        if mode == "wrong-status":
            send({"action": "status", "responseFor": "processRecords"})
            continue
        if mode == "noisy":
            print("plain text on stdout")
            print("[1, 2, 3]")
            print('{"no": "action"}')
            print('{"action": "bogus"}')
            print('{"action": "checkpoint", "sequenceNumber": {"nested": 1}}')
            print("{not json")
            if action == "processRecords":
                send({"action": "checkpoint", "sequenceNumber": None, "subSequenceNumber": None})
                answer = json.loads(sys.stdin.readline())
                sys.stderr.write(f"checkpoint answer: {json.dumps(answer, sort_keys=True)}\n")
        send({"action": "status", "responseFor": action})


if __name__ == "__main__":
    main(sys.argv[1])
