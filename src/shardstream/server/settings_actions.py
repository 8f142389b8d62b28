"""The control-plane actions on settings: tags, encryption, monitoring, resource policies, account settings.

Each function is one Kinesis operation, ``fn(engine, p)`` as in
:mod:`.stream_actions`.  They are dispatched through
:data:`shardstream.server.actions.ACTIONS` and re-exported there.
"""

from __future__ import annotations

from .resources import named_stream

__all__ = [
    "add_tags_to_stream",
    "delete_resource_policy",
    "describe_account_settings",
    "disable_enhanced_monitoring",
    "enable_enhanced_monitoring",
    "get_resource_policy",
    "list_tags_for_resource",
    "list_tags_for_stream",
    "put_resource_policy",
    "remove_tags_from_stream",
    "start_stream_encryption",
    "stop_stream_encryption",
    "tag_resource",
    "untag_resource",
    "update_account_settings",
]


# -- tags -------------------------------------------------------------------------------


def add_tags_to_stream(engine, p: dict) -> dict:
    """AddTagsToStream (:meth:`Stream.add_tags_to_stream`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``Tags``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException, ValidationException
        Bad tags, or more than 50 in all (nothing changes).
    """
    return named_stream(engine, p).add_tags_to_stream(p.get("Tags"))


def remove_tags_from_stream(engine, p: dict) -> dict:
    """RemoveTagsFromStream (:meth:`Stream.remove_tags_from_stream`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``TagKeys``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    InvalidArgumentException, ValidationException
        Bad tag keys.
    """
    return named_stream(engine, p).remove_tags_from_stream(p.get("TagKeys"))


def list_tags_for_stream(engine, p: dict) -> dict:
    """ListTagsForStream (:meth:`Stream.list_tags_for_stream`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``ExclusiveStartTagKey`` and ``Limit``.

    Returns
    -------
    dict
        ``{"Tags": [{"Key", "Value"}, ...], "HasMoreTags": bool}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    """
    return named_stream(engine, p).list_tags_for_stream(p.get("ExclusiveStartTagKey"), p.get("Limit"))


def tag_resource(engine, p: dict) -> dict:
    """TagResource: a stream's or consumer's tags (:meth:`Engine.tag_resource`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ResourceARN`` and ``Tags``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream or consumer.
    ValidationException, InvalidArgumentException
        Not a Kinesis stream or consumer ARN of this region and account, or bad tags.
    ResourceInUseException
        A stream that is not ACTIVE.
    """
    return engine.tag_resource(p.get("ResourceARN"), p.get("Tags"))


def untag_resource(engine, p: dict) -> dict:
    """UntagResource (:meth:`Engine.untag_resource`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ResourceARN`` and ``TagKeys``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream or consumer.
    ValidationException, InvalidArgumentException
        Not a Kinesis stream or consumer ARN of this region and account, or bad tag keys.
    ResourceInUseException
        A stream that is not ACTIVE.
    """
    return engine.untag_resource(p.get("ResourceARN"), p.get("TagKeys"))


def list_tags_for_resource(engine, p: dict) -> dict:
    """ListTagsForResource (:meth:`Engine.list_tags_for_resource`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ResourceARN``.

    Returns
    -------
    dict
        ``{"Tags": [{"Key", "Value"}, ...]}``, every tag in key order.

    Raises
    ------
    ResourceNotFoundException
        No such stream or consumer.
    ValidationException, InvalidArgumentException
        Not a Kinesis stream or consumer ARN of this region and account.
    """
    return engine.list_tags_for_resource(p.get("ResourceARN"))


# -- encryption, monitoring ---------------------------------------------------------------


def start_stream_encryption(engine, p: dict) -> dict:
    """StartStreamEncryption (:meth:`Stream.start_stream_encryption`; no real KMS is involved).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``EncryptionType`` and ``KeyId``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    ValidationException, InvalidArgumentException
        A missing argument, an EncryptionType other than KMS, a KeyId too long.
    """
    return named_stream(engine, p).start_stream_encryption(p.get("EncryptionType"), p.get("KeyId"))


def stop_stream_encryption(engine, p: dict) -> dict:
    """StopStreamEncryption (:meth:`Stream.stop_stream_encryption`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN``, ``EncryptionType`` and ``KeyId``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException, ResourceInUseException, ValidationException, InvalidArgumentException
        As :func:`start_stream_encryption`.
    """
    return named_stream(engine, p).stop_stream_encryption(p.get("EncryptionType"), p.get("KeyId"))


def enable_enhanced_monitoring(engine, p: dict) -> dict:
    """EnableEnhancedMonitoring (:meth:`Stream.enable_enhanced_monitoring`; metrics are recorded, not emitted).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``ShardLevelMetrics``.

    Returns
    -------
    dict
        ``{"StreamName", "StreamARN", "CurrentShardLevelMetrics", "DesiredShardLevelMetrics"}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream.
    ResourceInUseException
        The stream is not ACTIVE.
    ValidationException
        An empty or too long list, or an unknown metric.
    """
    return named_stream(engine, p).enable_enhanced_monitoring(p.get("ShardLevelMetrics"))


def disable_enhanced_monitoring(engine, p: dict) -> dict:
    """DisableEnhancedMonitoring (:meth:`Stream.disable_enhanced_monitoring`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``StreamName`` / ``StreamARN`` and ``ShardLevelMetrics``.

    Returns
    -------
    dict
        As :func:`enable_enhanced_monitoring`.

    Raises
    ------
    ResourceNotFoundException, ResourceInUseException, ValidationException
        As :func:`enable_enhanced_monitoring`.
    """
    return named_stream(engine, p).disable_enhanced_monitoring(p.get("ShardLevelMetrics"))


# -- resource policies, account settings --------------------------------------------------


def put_resource_policy(engine, p: dict) -> dict:
    """PutResourcePolicy (:meth:`Engine.put_resource_policy`; stored verbatim, never enforced).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ResourceARN`` and ``Policy``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream or consumer.
    SerializationException, ValidationException, InvalidArgumentException
        A bad ARN or policy document.
    """
    return engine.put_resource_policy(p.get("ResourceARN"), p.get("Policy"))


def get_resource_policy(engine, p: dict) -> dict:
    """GetResourcePolicy (:meth:`Engine.get_resource_policy`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ResourceARN``.

    Returns
    -------
    dict
        ``{"Policy": ...}`` (``"{}"`` when none is attached).

    Raises
    ------
    ResourceNotFoundException
        No such stream or consumer.
    ValidationException, InvalidArgumentException
        A bad ARN.
    """
    return engine.get_resource_policy(p.get("ResourceARN"))


def delete_resource_policy(engine, p: dict) -> dict:
    """DeleteResourcePolicy (:meth:`Engine.delete_resource_policy`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``ResourceARN``.

    Returns
    -------
    dict
        ``{}``.

    Raises
    ------
    ResourceNotFoundException
        No such stream or consumer, or it has no policy.
    ValidationException, InvalidArgumentException
        A bad ARN.
    """
    return engine.delete_resource_policy(p.get("ResourceARN"))


def describe_account_settings(engine, p: dict) -> dict:
    """DescribeAccountSettings (:meth:`Engine.describe_account_settings`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Not read (the operation has no input members).

    Returns
    -------
    dict
        ``{"MinimumThroughputBillingCommitment": {"Status", ...}}`` (stored and echoed only).
    """
    return engine.describe_account_settings()


def update_account_settings(engine, p: dict) -> dict:
    """UpdateAccountSettings (:meth:`Engine.update_account_settings`).

    Parameters
    ----------
    engine : Engine
    p : dict
        Reads ``MinimumThroughputBillingCommitment`` (``{"Status": "ENABLED" | "DISABLED"}``).

    Returns
    -------
    dict
        ``{"MinimumThroughputBillingCommitment": {...}}``, the settings now.

    Raises
    ------
    SerializationException
        Not a structure.
    ValidationException
        A missing or unknown Status.
    """
    return engine.update_account_settings(p.get("MinimumThroughputBillingCommitment"))
