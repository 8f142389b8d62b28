"""One consumer process of a served queue, run by ``test_queue_processes.py``.

``python queue_consumer.py URL QUEUE_ARN NAME SKIP_EVERY``

Loops ReceiveQueueRecords (Limit 10, WaitTimeSeconds 1) then one AcknowledgeQueueRecords for
the batch until a line (or end of file) arrives on stdin.  With ``SKIP_EVERY`` > 0 it leaves
every ``SKIP_EVERY``-th first delivery (ReceiveCount 1) it gets unacknowledged, so that the
queue must hand it out again once its visibility timeout passes.

Writes JSON lines to stdout: ``{"event": "ready"}`` once its client works, one
``{"event": "delivery", ...}`` per record received (times in seconds since the epoch, taken
around each call; ``acked`` is true, false, or null when no ack was sent), and
``{"event": "exit"}`` when it stops.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config


def kinesis_client(url: str):
    """A plain boto3 client of ``url`` configured as ``shardstream.testing.boto3_client`` does it.

    Importing shardstream itself (numpy, pyarrow) would double the start-up of each consumer.
    """
    client = boto3.session.Session().client(
        "kinesis",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )
    target = urlsplit(url)

    def pin(request, **_):  # botocore sends requests naming a queue ARN to an AWS host; keep them on url
        parts = urlsplit(request.url)
        request.url = urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))

    client.meta.events.register("before-send.kinesis.*", pin)
    return client


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main(url: str, queue_arn: str, name: str, skip_every: int) -> None:
    kinesis = kinesis_client(url)
    kinesis.describe_queue(QueueARN=queue_arn)  # the client works and its lazy loading is done
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    emit({"event": "ready", "consumer": name})
    first_deliveries = 0
    while not stop.is_set():
        recv_start = time.time()
        records = kinesis.receive_queue_records(QueueARN=queue_arn, Limit=10, WaitTimeSeconds=1)["QueueRecords"]
        recv_end = time.time()
        if not records:
            continue
        to_ack = []
        for r in records:
            skip = False
            if r["ReceiveCount"] == 1:
                first_deliveries += 1
                skip = skip_every > 0 and first_deliveries % skip_every == 0
            if not skip:
                to_ack.append(r["ReceiptHandle"])
        outcome: dict = {}
        ack_start = ack_end = None
        if to_ack:
            ack_start = time.time()
            response = kinesis.acknowledge_queue_records(
                QueueARN=queue_arn, Entries=[{"ReceiptHandle": h} for h in to_ack]
            )
            ack_end = time.time()
            outcome = {e["ReceiptHandle"]: None for e in response["Successful"]}
            outcome.update({e["ReceiptHandle"]: e["ErrorCode"] for e in response["Failed"]})
            assert set(outcome) == set(to_ack), "the ack response does not answer every entry"
        for r in records:
            handle = r["ReceiptHandle"]
            sent = handle in outcome
            emit(
                {
                    "event": "delivery",
                    "consumer": name,
                    "record_id": r["RecordId"],
                    "data": r["Data"].decode(),
                    "handle": handle,
                    "count": r["ReceiveCount"],
                    "first_receive_ms": round(r["FirstReceiveTimestamp"].timestamp() * 1000),
                    "recv_start": recv_start,
                    "recv_end": recv_end,
                    "ack_start": ack_start if sent else None,
                    "ack_end": ack_end if sent else None,
                    "acked": (outcome[handle] is None) if sent else None,
                    "ack_error": outcome.get(handle),
                }
            )
    emit({"event": "exit", "consumer": name})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
