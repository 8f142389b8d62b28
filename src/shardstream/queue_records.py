"""Queue calls' answers in boto3's shapes, made from the batch API's results in one pass each.

:func:`queue_records` turns a :meth:`Queue.receive_batch <shardstream.queue.Queue.receive_batch>`
table into ReceiveQueueRecords' ``QueueRecords``: one dict per record from one comprehension over
the columns, the timestamps from their int64 milliseconds (pyarrow's own datetimes look the time
zone up on every call, ~45 us a column).  :func:`settle_results` turns the mask of
:meth:`Queue.settle <shardstream.queue.Queue.settle>` into ``Successful`` and ``Failed``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

__all__ = ["queue_records", "settle_results"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _datetimes(column: pa.ChunkedArray) -> list[datetime]:
    epoch = _EPOCH
    return [epoch + timedelta(0, 0, 0, ms) for ms in column.to_numpy().astype(np.int64).tolist()]


def queue_records(table: pa.Table) -> list[dict]:
    """ReceiveQueueRecords' ``QueueRecords`` of a receive table, in order.

    Parameters
    ----------
    table : pyarrow.Table
        From ``Queue.receive_batch``: ``receipt_handle``, ``record_id``, ``partition_key``, ``data``,
        ``approximate_arrival_timestamp``, ``first_receive_timestamp``, ``receive_count``.

    Returns
    -------
    list of dict
        ``{"ReceiptHandle", "RecordId", "PartitionKey", "Data", "ApproximateArrivalTimestamp",
        "FirstReceiveTimestamp", "ReceiveCount"}`` per record (bytes, UTC datetimes, int).
    """
    if not table.num_rows:
        return []
    column = table.column
    return [
        {
            "ReceiptHandle": handle,
            "RecordId": record_id,
            "PartitionKey": key,
            "Data": data,
            "ApproximateArrivalTimestamp": arrived,
            "FirstReceiveTimestamp": first,
            "ReceiveCount": count,
        }
        for handle, record_id, key, data, arrived, first, count in zip(
            column("receipt_handle").to_pylist(),
            column("record_id").to_pylist(),
            column("partition_key").to_pylist(),
            column("data").to_pylist(),
            _datetimes(column("approximate_arrival_timestamp")),
            _datetimes(column("first_receive_timestamp")),
            column("receive_count").to_pylist(),
        )
    ]


def settle_results(handles: list, ok: np.ndarray, queue_arn: str) -> dict:
    """``{"Successful": [...], "Failed": [...]}`` of a settle call (acknowledge, visibility, restore).

    Parameters
    ----------
    handles : list of str
        The entries' receipt handles, in order.
    ok : numpy.ndarray of bool
        Per handle: applied (``Queue.settle``'s answer).
    queue_arn : str
        Named in the failures' messages.

    Returns
    -------
    dict
        ``Successful``: ``{"ReceiptHandle"}`` per applied handle; ``Failed``: ``{"ReceiptHandle",
        "ErrorCode": "InvalidArgumentException", "ErrorMessage"}`` per other, each in request order.
    """
    good = ok.tolist()
    return {
        "Successful": [{"ReceiptHandle": h} for h, g in zip(handles, good) if g],
        "Failed": [
            {
                "ReceiptHandle": h,
                "ErrorCode": "InvalidArgumentException",
                "ErrorMessage": f"The receipt handle {h} is not valid for queue {queue_arn}.",
            }
            for h, g in zip(handles, good)
            if not g
        ],
    }
