"""A stream's settings: tags, record size, encryption, monitoring, resource policy and retention.

:class:`StreamSettings` is a part of :class:`~shardstream.Stream`: it owns
these settings and answers the Kinesis calls that change them (the stream
publishes them under its own name, e.g. ``stream.add_tags_to_stream``).
Changes take the engine's control-plane lock (``stream.catalog.lock``) and
are saved in a durable stream's ``stream.json``.
"""

from __future__ import annotations

from . import validation as v
from .delegate import saves_metadata
from .errors import InvalidArgumentException, KMSNotFoundException, ResourceNotFoundException, SerializationException
from .policy import PolicyError, parse_policy
from .storage.crypto import require_cryptography
from .tags import TagSet, check_tag_keys, check_tags
from .validation import check_retention

__all__ = ["ENCRYPTION_TYPES", "METRICS_NAMES", "SHARD_LEVEL_METRICS", "StreamSettings", "check_policy_document"]

ENCRYPTION_TYPES = ["NONE", "KMS"]
#: The shard-level metrics of enhanced monitoring, in Kinesis's order (``ALL`` expands to these).
SHARD_LEVEL_METRICS = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]
METRICS_NAMES = [*SHARD_LEVEL_METRICS, "ALL"]


def check_policy_document(policy: str) -> None:
    """Refuse a resource policy document IAM would refuse (:func:`shardstream.policy.parse_policy`).

    Parameters
    ----------
    policy : str
        The JSON text.

    Raises
    ------
    InvalidArgumentException
        ``Invalid resource policy document: <what is wrong>`` (not JSON, an
        unknown Effect, an invalid principal, action, resource or condition, ...).
    """
    try:
        parse_policy(policy, kind="resource")
    except PolicyError as err:
        raise InvalidArgumentException(f"Invalid resource policy document: {err}") from None


class StreamSettings:
    """The settings of one stream and the Kinesis calls that change them.

    Parameters
    ----------
    stream : Stream
        The stream these settings belong to.
    tags : dict, optional
        Its first tags.

    Attributes
    ----------
    encryption_type : {"NONE", "KMS"}
    key_id : str or None
        The KMS key while encrypting.
    shard_level_metrics : list of str
        The enhanced-monitoring metrics turned on, in Kinesis's order.
    resource_policy : str or None
        The attached policy document, stored verbatim once checked (enforced
        by the server's ``--auth`` verify mode, :mod:`shardstream.server.auth`).
    """

    encryption_type: str
    key_id: str | None
    shard_level_metrics: list[str]
    resource_policy: str | None

    def __init__(self, stream, tags: dict | None = None):
        self.stream = stream
        self._tags = TagSet(stream.name, stream.account_id)
        if tags:
            self._tags.add(tags)
        self.encryption_type = "NONE"
        self.key_id: str | None = None
        self.shard_level_metrics: list[str] = []
        self.resource_policy: str | None = None

    def to_doc(self) -> dict:
        """The settings as kept in ``stream.json``."""
        return {
            "tags": self._tags.as_dict(),
            "encryption_type": self.encryption_type,
            "key_id": self.key_id,
            "shard_level_metrics": list(self.shard_level_metrics),
            "resource_policy": self.resource_policy,
        }

    def restore(self, doc: dict) -> None:
        """Take the settings of ``doc``, a ``stream.json`` document (tags come with the constructor)."""
        self.encryption_type = doc["encryption_type"]
        self.key_id = doc["key_id"]
        self.shard_level_metrics = list(doc["shard_level_metrics"])
        self.resource_policy = doc["resource_policy"]
        store = self._store()
        if store is not None and self.encryption_type == "KMS":
            store.set_encryption(self.key_id)  # the key is resolved when records are written or read

    def description_fields(self) -> dict:
        """The EnhancedMonitoring / EncryptionType / KeyId members of the stream's descriptions."""
        out = {
            "EnhancedMonitoring": [{"ShardLevelMetrics": list(self.shard_level_metrics)}],
            "EncryptionType": self.encryption_type,
        }
        if self.key_id is not None:
            out["KeyId"] = self.key_id
        return out

    @property
    def tags(self) -> dict[str, str]:
        """The stream's tags, by key."""
        return self._tags.as_dict()

    @saves_metadata
    def add_tags_to_stream(self, tags: dict) -> dict:
        """Add or overwrite tags (at most 50 per stream); ``{}`` as boto3.

        Parameters
        ----------
        tags : dict
            ``{key: value}``, both str.

        Raises
        ------
        SerializationException, ValidationException, InvalidArgumentException
            Bad tags (see :func:`shardstream.tags.check_tags`), or more than 50
            in all; nothing changes.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        check_tags(tags)
        with self.stream.catalog.lock:
            self.stream.require_active()
            added = self._tags.try_add(tags)
        if not added:
            raise self._tags.too_many()
        return {}

    @saves_metadata
    def remove_tags_from_stream(self, tag_keys) -> dict:
        """Remove tags by key (unknown keys are ignored); ``{}`` as boto3.

        Parameters
        ----------
        tag_keys : list of str
            1 to 50 keys of 1-128 characters, checked as tags are
            (:func:`shardstream.tags.check_tag_keys`).
        """
        check_tag_keys(tag_keys)
        with self.stream.catalog.lock:
            self.stream.require_active()
            self._tags.remove(tag_keys)
        return {}

    def list_tags_for_stream(self, exclusive_start_tag_key: str | None = None, limit: int | None = None) -> dict:
        """boto3's ListTagsForStream: ``{"Tags": [...], "HasMoreTags": bool}`` in key order.

        Parameters
        ----------
        exclusive_start_tag_key : str, optional
            List the keys after this one.
        limit : int, optional
            1 to 50 tags (default 50).
        """
        return self._tags.list(exclusive_start_tag_key, limit)

    # -- record size, encryption, monitoring, policy ----------------------------------------

    @saves_metadata
    def update_max_record_size(self, max_record_size_kib) -> dict:
        """Change the largest record the stream accepts (Kinesis's UpdateMaxRecordSize).

        The stream goes UPDATING for the engine's transition time; the new
        limit applies to writes at once.

        Parameters
        ----------
        max_record_size_kib : int
            1024 to 10240 KiB (data + partition key).

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        SerializationException
            Not an int.
        ValidationException
            Outside 1024..10240.
        InvalidArgumentException
            The stream's shard capacity is under twice the new record size.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        kib = max_record_size_kib
        if not isinstance(kib, int) or isinstance(kib, bool):
            raise SerializationException(f"MaxRecordSizeInKiB must be an int, not {type(kib).__name__}")
        errs: list = []
        v.check_int_range(errs, "maxRecordSizeInKiB", kib, 1024, 10240)
        v.raise_if_any(errs)
        with self.stream.catalog.lock:
            self.stream.require_active()
            if self.stream.shard_capacity_bytes < 2 * kib * 1024:
                raise InvalidArgumentException(
                    f"shard_capacity_bytes {self.stream.shard_capacity_bytes} must be at least twice the max record "
                    f"size ({2 * kib * 1024} bytes)"
                )
            self.stream.apply_max_record_size(kib)
            self.stream.begin_update()
        return {}

    @staticmethod
    def _check_encryption_args(encryption_type, key_id) -> None:
        for field, value in (("EncryptionType", encryption_type), ("KeyId", key_id)):
            if value is not None and not isinstance(value, str):
                raise SerializationException(f"{field} must be a str, not {type(value).__name__}")
        errs: list = []
        if v.check_required(errs, "encryptionType", encryption_type):
            v.check_enum(errs, "encryptionType", encryption_type, ENCRYPTION_TYPES)
        if v.check_required(errs, "keyId", key_id):
            v.check_length(errs, "keyId", key_id, 1, 2048)
        v.raise_if_any(errs)
        if encryption_type != "KMS":
            raise InvalidArgumentException("KMS is the only valid EncryptionType for this request")

    def _store(self):
        """The stream's files (a durable stream's ``StreamStore``), or None in memory."""
        return getattr(self.stream, "store", None)

    def _check_key(self, key_id: str) -> None:
        """Raise the KMS error for a key that cannot encrypt this stream (see :meth:`start_stream_encryption`)."""
        keys = self.stream.catalog.keys
        if keys is not None:
            keys.resolve(key_id)
        elif self._store() is not None:
            raise KMSNotFoundException(
                f"Key '{key_id}' cannot be used: this engine has no key store, so records written to "
                "disk could not be encrypted (Engine(keys=...), shardstream serve --kms-keys FILE)."
            )
        if self._store() is not None:
            require_cryptography()

    @saves_metadata
    def start_stream_encryption(self, encryption_type, key_id) -> dict:
        """Encrypt new records with a KMS key from the engine's key store (Kinesis's StartStreamEncryption).

        The stream goes UPDATING; afterwards its descriptions show
        ``EncryptionType: "KMS"`` and the ``KeyId``, and PutRecord(s) and
        GetRecords over the server carry ``EncryptionType: "KMS"``.

        A durable stream then stores what it writes from now on encrypted
        with that key (AES-256-GCM, :mod:`shardstream.storage.crypto`); it
        needs a key store (``Engine(keys=...)``) holding the key.  An
        in-memory stream writes nothing to disk: with a key store the key is
        checked, without one only the setting is kept.

        Parameters
        ----------
        encryption_type : {"KMS"}
        key_id : str
            Key UUID, key or alias ARN, ``alias/<name>`` or ``alias/aws/kinesis`` (1-2048 characters).

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        ValidationException
            A missing argument, an EncryptionType outside NONE/KMS, a KeyId too long.
        InvalidArgumentException
            EncryptionType is not KMS.
        ResourceInUseException
            The stream is not ACTIVE.
        KMSNotFoundException
            The key is not in the key store, or a durable stream's engine has no key store.
        KMSDisabledException, KMSInvalidStateException
            The key is disabled or pending deletion.
        ImportError
            A durable stream, and ``cryptography`` is not installed (``pip install 'shardstream[encryption]'``).
        StorageError
            A durable stream changing keys could not write the records put under the old key.
        """
        self._check_encryption_args(encryption_type, key_id)
        self._check_key(key_id)
        with self.stream.catalog.lock:
            self.stream.require_active()
            store = self._store()
            if store is not None:
                store.set_encryption(key_id, self.stream.logs, self.stream.now_ms())
            self.encryption_type, self.key_id = "KMS", key_id
            self.stream.begin_update()
        return {}

    @saves_metadata
    def stop_stream_encryption(self, encryption_type, key_id) -> dict:
        """Stop encrypting new records (Kinesis's StopStreamEncryption).

        The stream goes UPDATING and then shows ``EncryptionType: "NONE"``.
        A durable stream first writes the records it holds in memory,
        encrypted; what it writes afterwards is stored in plaintext.  Records
        already stored encrypted stay so, readable while their key is in the
        key store.

        Parameters
        ----------
        encryption_type, key_id
            As for :meth:`start_stream_encryption`.

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        ValidationException, InvalidArgumentException, ResourceInUseException
            As :meth:`start_stream_encryption`.
        StorageError
            A durable stream could not write (encrypted) the records it held; encryption stays on.
        """
        self._check_encryption_args(encryption_type, key_id)
        with self.stream.catalog.lock:
            self.stream.require_active()
            store = self._store()
            if store is not None:
                store.set_encryption(None, self.stream.logs, self.stream.now_ms())
            self.encryption_type, self.key_id = "NONE", None
            self.stream.begin_update()
        return {}

    @property
    def encrypted(self) -> bool:
        """True while the stream encrypts records with KMS."""
        return self.encryption_type == "KMS"

    @staticmethod
    def _check_metrics(metrics) -> set[str]:
        if not isinstance(metrics, (list, tuple)) or any(not isinstance(m, str) for m in metrics):
            raise SerializationException("ShardLevelMetrics must be a list of strings")
        errs: list = []
        if not 1 <= len(metrics) <= 7:
            v.check_length(errs, "shardLevelMetrics", metrics, 1, 7, shown="'[" + ", ".join(metrics) + "]'")
        for i, name in enumerate(metrics, 1):
            v.check_enum(errs, f"shardLevelMetrics.{i}.member", name, METRICS_NAMES)
        v.raise_if_any(errs)
        return set(SHARD_LEVEL_METRICS) if "ALL" in metrics else set(metrics)

    def _set_monitoring(self, metrics, *, enable: bool) -> dict:
        chosen = self._check_metrics(metrics)
        with self.stream.catalog.lock:
            self.stream.require_active()
            current = list(self.shard_level_metrics)
            now_on = set(current) | chosen if enable else set(current) - chosen
            self.shard_level_metrics = [m for m in SHARD_LEVEL_METRICS if m in now_on]
            return {
                "StreamName": self.stream.name,
                "CurrentShardLevelMetrics": current,
                "DesiredShardLevelMetrics": list(self.shard_level_metrics),
                "StreamARN": self.stream.arn,
            }

    @saves_metadata
    def enable_enhanced_monitoring(self, shard_level_metrics) -> dict:
        """Turn on shard-level metrics (Kinesis's EnableEnhancedMonitoring; recorded, not emitted).

        Parameters
        ----------
        shard_level_metrics : list of str
            1-7 of IncomingBytes, IncomingRecords, OutgoingBytes,
            OutgoingRecords, WriteProvisionedThroughputExceeded,
            ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, or ALL.

        Returns
        -------
        dict
            ``{"StreamName", "CurrentShardLevelMetrics", "DesiredShardLevelMetrics", "StreamARN"}``:
            the metrics before and after the call.

        Raises
        ------
        ValidationException
            An empty or too long list, or an unknown metric.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        return self._set_monitoring(shard_level_metrics, enable=True)

    @saves_metadata
    def disable_enhanced_monitoring(self, shard_level_metrics) -> dict:
        """Turn off shard-level metrics (Kinesis's DisableEnhancedMonitoring).

        Returns and raises as :meth:`enable_enhanced_monitoring`.

        Parameters
        ----------
        shard_level_metrics : list of str
            As for :meth:`enable_enhanced_monitoring`.
        """
        return self._set_monitoring(shard_level_metrics, enable=False)

    @staticmethod
    def _check_policy(policy) -> None:
        if policy is not None and not isinstance(policy, str):
            raise SerializationException(f"Policy must be a str, not {type(policy).__name__}")
        errs: list = []
        v.check_required(errs, "policy", policy)
        v.raise_if_any(errs)
        check_policy_document(policy)

    @saves_metadata
    def put_resource_policy(self, policy) -> dict:
        """Attach a resource policy: a JSON document, checked, then stored verbatim.

        Parameters
        ----------
        policy : str
            The policy document (required); :func:`check_policy_document` gives the checks.

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        InvalidArgumentException
            The document is not a valid policy (the policy in place, if any, stays).
        """
        self._check_policy(policy)
        with self.stream.catalog.lock:
            self.resource_policy = policy
        return {}

    def get_resource_policy(self) -> dict:
        """``{"Policy": <document>}``; ``"{}"`` when none is attached."""
        policy = self.resource_policy
        return {"Policy": "{}" if policy is None else policy}

    @saves_metadata
    def delete_resource_policy(self) -> dict:
        """Remove the resource policy; ``{}`` as boto3.

        Raises
        ------
        ResourceNotFoundException
            The stream has no policy: ``No resource policy found for resource ARN <arn>.``
        """
        with self.stream.catalog.lock:
            had_policy = self.resource_policy is not None
            self.resource_policy = None
        if not had_policy:
            raise ResourceNotFoundException(f"No resource policy found for resource ARN {self.stream.arn}.")
        return {}

    # -- retention -----------------------------------------------------------------

    @saves_metadata
    def _set_retention(self, hours, *, increase: bool) -> dict:
        check_retention(hours)
        with self.stream.catalog.lock:
            self.stream.require_active()
            current = self.stream.retention_hours
            if increase and hours < current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {self.stream.name} can not be shorter than "
                    f"existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
                )
            if not increase and hours > current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {self.stream.name} can not be longer than "
                    f"existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
                )
            self.stream.apply_retention(hours)
        return {}

    def increase_stream_retention_period(self, retention_period_hours) -> dict:
        """Keep records longer (up to 8760 hours); records already aged out stay gone.

        Parameters
        ----------
        retention_period_hours : int
            The new retention, not shorter than the current one.

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        SerializationException
            Not an int.
        InvalidArgumentException
            Outside 24..8760 hours, or shorter than the current retention.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        return self._set_retention(retention_period_hours, increase=True)

    def decrease_stream_retention_period(self, retention_period_hours) -> dict:
        """Keep records for less time (down to 24 hours); older records disappear at once.

        Parameters
        ----------
        retention_period_hours : int
            The new retention, not longer than the current one.

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        SerializationException
            Not an int.
        InvalidArgumentException
            Outside 24..8760 hours, or longer than the current retention.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        return self._set_retention(retention_period_hours, increase=False)
