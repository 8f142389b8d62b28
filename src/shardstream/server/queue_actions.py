"""The queue actions: CreateQueue and the rest of the 12 queue operations, over the engine's queue registry.

Each function is one Kinesis operation, ``fn(engine, p)`` as in
:mod:`.stream_actions`, dispatched through
:data:`shardstream.server.actions.ACTIONS` and re-exported there.  The two
receives may wait (long polls) and the application runs them off its event
loop (:data:`LONG_POLLS`).
"""

from __future__ import annotations

__all__ = [
    "LONG_POLLS",
    "acknowledge_dead_letter_queue_records",
    "acknowledge_queue_records",
    "create_queue",
    "delete_queue",
    "describe_queue",
    "list_queues",
    "long_poll_now",
    "receive_dead_letter_queue_records",
    "receive_queue_records",
    "restore_dead_letter_queue_records",
    "update_dead_letter_queue_records_visibility",
    "update_queue",
    "update_queue_records_visibility",
]

#: The operations that may wait for records (WaitTimeSeconds).
LONG_POLLS = frozenset({"ReceiveQueueRecords", "ReceiveDeadLetterQueueRecords"})


def long_poll_now(engine, operation: str, p: dict) -> dict | None:
    """A long poll's answer if records are visible now, else None (then run it where it may wait).

    Parameters
    ----------
    engine : Engine
    operation : str
        One of :data:`LONG_POLLS`.
    p : dict
        As for :func:`receive_queue_records`.
    """
    return engine.queues.receive_without_waiting(
        p.get("QueueARN"),
        p.get("Limit"),
        p.get("WaitTimeSeconds"),
        p.get("VisibilityTimeoutSeconds"),
        dead=operation == "ReceiveDeadLetterQueueRecords",
    )


def create_queue(engine, p: dict) -> dict:
    """CreateQueue (:meth:`Engine.create_queue`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueName``, ``StreamConfigurationList``, ``QueueAttributes`` and ``Tags``.
    """
    return engine.create_queue(
        p.get("QueueName"), p.get("StreamConfigurationList"), p.get("QueueAttributes"), p.get("Tags")
    )


def describe_queue(engine, p: dict) -> dict:
    """DescribeQueue (:meth:`Engine.describe_queue`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN``.
    """
    return engine.describe_queue(p.get("QueueARN"))


def list_queues(engine, p: dict) -> dict:
    """ListQueues (:meth:`Engine.list_queues`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``MaxResults``, ``NextToken`` and ``StreamFilter``.
    """
    return engine.list_queues(p.get("MaxResults"), p.get("NextToken"), p.get("StreamFilter"))


def update_queue(engine, p: dict) -> dict:
    """UpdateQueue (:meth:`Engine.update_queue`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN`` and ``QueueAttributes``.
    """
    return engine.update_queue(p.get("QueueARN"), p.get("QueueAttributes"))


def delete_queue(engine, p: dict) -> dict:
    """DeleteQueue (:meth:`Engine.delete_queue`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN``.
    """
    return engine.delete_queue(p.get("QueueARN"))


def receive_queue_records(engine, p: dict) -> dict:
    """ReceiveQueueRecords (:meth:`Engine.receive_queue_records`); may wait up to ``WaitTimeSeconds``.

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN``, ``Limit``, ``WaitTimeSeconds`` and ``VisibilityTimeoutSeconds``.
    """
    return engine.receive_queue_records(
        p.get("QueueARN"), p.get("Limit"), p.get("WaitTimeSeconds"), p.get("VisibilityTimeoutSeconds")
    )


def receive_dead_letter_queue_records(engine, p: dict) -> dict:
    """ReceiveDeadLetterQueueRecords (:meth:`Engine.receive_dead_letter_queue_records`).

    Parameters
    ----------
    engine : Engine
    p : dict
        As for :func:`receive_queue_records`.
    """
    return engine.receive_dead_letter_queue_records(
        p.get("QueueARN"), p.get("Limit"), p.get("WaitTimeSeconds"), p.get("VisibilityTimeoutSeconds")
    )


def acknowledge_queue_records(engine, p: dict) -> dict:
    """AcknowledgeQueueRecords (:meth:`Engine.acknowledge_queue_records`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN`` and ``Entries``.
    """
    return engine.acknowledge_queue_records(p.get("QueueARN"), p.get("Entries"))


def update_queue_records_visibility(engine, p: dict) -> dict:
    """UpdateQueueRecordsVisibility (:meth:`Engine.update_queue_records_visibility`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN`` and ``Entries``.
    """
    return engine.update_queue_records_visibility(p.get("QueueARN"), p.get("Entries"))


def acknowledge_dead_letter_queue_records(engine, p: dict) -> dict:
    """AcknowledgeDeadLetterQueueRecords (:meth:`Engine.acknowledge_dead_letter_queue_records`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN`` and ``Entries``.
    """
    return engine.acknowledge_dead_letter_queue_records(p.get("QueueARN"), p.get("Entries"))


def update_dead_letter_queue_records_visibility(engine, p: dict) -> dict:
    """UpdateDeadLetterQueueRecordsVisibility (:meth:`Engine.update_dead_letter_queue_records_visibility`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN`` and ``Entries``.
    """
    return engine.update_dead_letter_queue_records_visibility(p.get("QueueARN"), p.get("Entries"))


def restore_dead_letter_queue_records(engine, p: dict) -> dict:
    """RestoreDeadLetterQueueRecords (:meth:`Engine.restore_dead_letter_queue_records`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``QueueARN`` and ``Entries``.
    """
    return engine.restore_dead_letter_queue_records(p.get("QueueARN"), p.get("Entries"))
