"""Kinesis calls on one stream named by StreamName, StreamARN, ResourceARN or a shard iterator.

:class:`StreamOperations` finds the stream (or consumer) a boto3-style call
names, makes the checks Kinesis makes before the lookup (a shard id is parsed
before the stream is looked up, so errors come in Kinesis's order), and calls
the stream.  The engine publishes these calls (``engine.split_shard``,
``engine.tag_resource``, ``engine.put_records``, ...).
"""

from __future__ import annotations

import re

from . import resharding
from . import validation as v
from .errors import KinesisError, ResourceNotFoundException, SerializationException
from .models import shard_does_not_exist, shard_index_of
from .reads import check_iterator_request

__all__ = ["RESOURCE_ARN_PATTERN", "StreamOperations"]

RESOURCE_ARN_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:.*(stream|queue)/\S+"
_CONSUMER_ARN = re.compile(r"arn:aws.*:kinesis:.*:\d{12}:.*stream/[a-zA-Z0-9_.-]+/consumer/.*")


class StreamOperations:
    """The by-name Kinesis calls of one engine.

    A call made "on the named stream" returns and raises what the stream's
    own call does; besides, a stream that does not exist is
    ResourceNotFoundException, and a bad StreamName / StreamARN pair
    InvalidArgumentException or ValidationException (:meth:`Catalog.name_from`).

    Parameters
    ----------
    catalog : Catalog
    """

    def __init__(self, catalog):
        self.catalog = catalog

    # -- resharding and retention by stream name (boto3-style) ---------------------------

    def split_shard(
        self, stream_name: str | None, shard_to_split: str, new_starting_hash_key: str, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.split_shard` on the named stream.

        As Kinesis, the shard id is parsed before the stream is looked up: one
        that names no shard index is ResourceNotFoundException ``Could not
        find shard <id> ...`` even when the stream does not exist.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        shard_to_split, new_starting_hash_key : str
            As for :meth:`Stream.split_shard`.
        """
        resharding.check_split_request(shard_to_split, new_starting_hash_key, stream_name)
        name = self.catalog.name_from(stream_name, stream_arn)
        shard_index_of(shard_to_split, name, self.catalog.account_id)
        return self.catalog.stream(name).split_shard(shard_to_split, new_starting_hash_key)

    def merge_shards(
        self,
        stream_name: str | None,
        shard_to_merge: str,
        adjacent_shard_to_merge: str,
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """:meth:`Stream.merge_shards` on the named stream (shard ids parsed first, as for :meth:`split_shard`).

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        shard_to_merge, adjacent_shard_to_merge : str
            As for :meth:`Stream.merge_shards`.
        """
        resharding.check_merge_request(shard_to_merge, adjacent_shard_to_merge, stream_name)
        name = self.catalog.name_from(stream_name, stream_arn)
        for shard_id in (shard_to_merge, adjacent_shard_to_merge):
            shard_index_of(shard_id, name, self.catalog.account_id)
        return self.catalog.stream(name).merge_shards(shard_to_merge, adjacent_shard_to_merge)

    def update_shard_count(
        self,
        stream_name: str | None,
        target_shard_count: int,
        scaling_type: str = "UNIFORM_SCALING",
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """:meth:`Stream.update_shard_count` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        target_shard_count : int
        scaling_type : str
            As for :meth:`Stream.update_shard_count`.
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).update_shard_count(
            target_shard_count, scaling_type
        )

    def increase_stream_retention_period(
        self, stream_name: str | None, retention_period_hours: int, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.increase_stream_retention_period` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        retention_period_hours : int
            The new retention period.
        """
        stream = self.catalog.stream(stream_name, stream_arn=stream_arn)
        return stream.increase_stream_retention_period(retention_period_hours)

    def decrease_stream_retention_period(
        self, stream_name: str | None, retention_period_hours: int, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.decrease_stream_retention_period` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        retention_period_hours : int
            The new retention period.
        """
        stream = self.catalog.stream(stream_name, stream_arn=stream_arn)
        return stream.decrease_stream_retention_period(retention_period_hours)

    def update_stream_record_distribution_strategy(self, stream_arn: str, record_distribution_strategy: str) -> dict:
        """boto3's UpdateStreamRecordDistributionStrategy: :meth:`Stream.update_record_distribution_strategy`.

        Parameters
        ----------
        stream_arn : str
        record_distribution_strategy : str
            As for :meth:`Stream.update_record_distribution_strategy`.
        """
        return self.catalog.stream(stream_arn=stream_arn).update_record_distribution_strategy(
            record_distribution_strategy
        )

    def update_stream_mode(self, stream_arn: str, stream_mode_details: dict) -> dict:
        """boto3's UpdateStreamMode: :meth:`Stream.update_stream_mode` on the stream named by ARN.

        Parameters
        ----------
        stream_arn : str
        stream_mode_details : dict
            ``{"StreamMode": "ON_DEMAND" | "PROVISIONED"}`` (SerializationException if not a dict).
        """
        if not isinstance(stream_mode_details, dict):
            raise SerializationException("StreamModeDetails must be a structure")
        return self.catalog.stream(stream_arn=stream_arn).update_stream_mode(stream_mode_details.get("StreamMode"))

    def add_tags_to_stream(self, stream_name: str | None, tags: dict, *, stream_arn: str | None = None) -> dict:
        """:meth:`Stream.add_tags_to_stream` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        tags : dict
            ``{key: value}`` to add or overwrite.
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).add_tags_to_stream(tags)

    def remove_tags_from_stream(self, stream_name: str | None, tag_keys, *, stream_arn: str | None = None) -> dict:
        """:meth:`Stream.remove_tags_from_stream` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        tag_keys : list of str
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).remove_tags_from_stream(tag_keys)

    def list_tags_for_stream(
        self,
        stream_name: str | None = None,
        exclusive_start_tag_key: str | None = None,
        limit: int | None = None,
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """:meth:`Stream.list_tags_for_stream` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        exclusive_start_tag_key, limit
            As for :meth:`Stream.list_tags_for_stream`.
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).list_tags_for_stream(
            exclusive_start_tag_key, limit
        )

    # -- record size, encryption, monitoring (boto3-style) ---------------------------

    def update_max_record_size(self, stream_arn: str, max_record_size_kib: int) -> dict:
        """UpdateMaxRecordSize: :meth:`Stream.update_max_record_size` (``max_record_size_kib``) on ``stream_arn``."""
        return self.catalog.stream(stream_arn=stream_arn).update_max_record_size(max_record_size_kib)

    def start_stream_encryption(
        self, stream_name: str | None, encryption_type: str, key_id: str, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.start_stream_encryption` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        encryption_type, key_id : str
            As for :meth:`Stream.start_stream_encryption`.
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).start_stream_encryption(encryption_type, key_id)

    def stop_stream_encryption(
        self, stream_name: str | None, encryption_type: str, key_id: str, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.stop_stream_encryption` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        encryption_type, key_id : str
            As for :meth:`Stream.stop_stream_encryption`.
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).stop_stream_encryption(encryption_type, key_id)

    def enable_enhanced_monitoring(
        self, stream_name: str | None, shard_level_metrics, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.enable_enhanced_monitoring` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        shard_level_metrics : list of str
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).enable_enhanced_monitoring(shard_level_metrics)

    def disable_enhanced_monitoring(
        self, stream_name: str | None, shard_level_metrics, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.disable_enhanced_monitoring` on the named stream.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        shard_level_metrics : list of str
        """
        return self.catalog.stream(stream_name, stream_arn=stream_arn).disable_enhanced_monitoring(shard_level_metrics)

    # -- resources by ARN: tags and policies ----------------------------------------------

    def resource(self, resource_arn: str):
        """The stream, consumer or queue a ResourceARN names (TagResource, the resource policies, ...).

        Parameters
        ----------
        resource_arn : str
            A stream or consumer ARN of this engine.

        Raises
        ------
        SerializationException
            Not a string.
        ValidationException
            Missing, or not a Kinesis stream or consumer ARN.
        ResourceNotFoundException
            No such stream or consumer.
        InvalidArgumentException
            A stream ARN of another region or account.
        """
        if resource_arn is not None and not isinstance(resource_arn, str):
            raise SerializationException(f"ResourceARN must be a str, not {type(resource_arn).__name__}")
        errs: list = []
        if v.check_required(errs, "resourceARN", resource_arn):
            v.check_length(errs, "resourceARN", resource_arn, 1, 2048)
            v.check_pattern(errs, "resourceARN", resource_arn, RESOURCE_ARN_PATTERN)
        v.raise_if_any(errs)
        if _CONSUMER_ARN.fullmatch(resource_arn):
            return self.catalog.consumers.by_arn(resource_arn)
        if ":queue/" in resource_arn and self.catalog.queues is not None:
            return self.catalog.queues.queue(resource_arn)
        return self.catalog.stream(stream_arn=resource_arn)

    def tag_resource(self, resource_arn: str, tags: dict) -> dict:
        """boto3's TagResource: :meth:`Stream.add_tags_to_stream` (``tags``) on ``resource_arn``; ``{}``."""
        return self.resource(resource_arn).add_tags_to_stream(tags)

    def untag_resource(self, resource_arn: str, tag_keys) -> dict:
        """boto3's UntagResource: :meth:`Stream.remove_tags_from_stream` (``tag_keys``) on ``resource_arn``; ``{}``."""
        return self.resource(resource_arn).remove_tags_from_stream(tag_keys)

    def list_tags_for_resource(self, resource_arn: str) -> dict:
        """boto3's ListTagsForResource on ``resource_arn``: ``{"Tags": [{"Key", "Value"}, ...]}`` in key order."""
        tags = self.resource(resource_arn).tags
        return {"Tags": [{"Key": k, "Value": val} for k, val in tags.items()]}

    def put_resource_policy(self, resource_arn: str, policy: str) -> dict:
        """boto3's PutResourcePolicy: :meth:`Stream.put_resource_policy` (``policy``) on ``resource_arn``; ``{}``."""
        return self.resource(resource_arn).put_resource_policy(policy)

    def get_resource_policy(self, resource_arn: str) -> dict:
        """boto3's GetResourcePolicy on ``resource_arn``: ``{"Policy": ...}`` (``"{}"`` when none is attached)."""
        return self.resource(resource_arn).get_resource_policy()

    def delete_resource_policy(self, resource_arn: str) -> dict:
        """boto3's DeleteResourcePolicy on ``resource_arn``; ``{}`` (ResourceNotFoundException without a policy)."""
        return self.resource(resource_arn).delete_resource_policy()

    # -- data plane by stream name (boto3-style) ---------------------------------------

    def put_record(
        self,
        stream_name: str,
        data,
        partition_key: str | None = None,
        explicit_hash_key=None,
        sequence_number_for_ordering=None,
        *,
        dry_run: bool = False,
    ) -> dict:
        """:meth:`Stream.put_record` on the named stream.

        Parameters
        ----------
        stream_name : str
        data, partition_key, explicit_hash_key, sequence_number_for_ordering, dry_run
            As for :meth:`Stream.put_record`.
        """
        return self.catalog.stream(stream_name).put_record(
            data, partition_key, explicit_hash_key, sequence_number_for_ordering, dry_run=dry_run
        )

    def put_records(self, records, stream_name: str, *, dry_run: bool = False) -> dict:
        """:meth:`Stream.put_records` (``records``, ``dry_run``) on the stream called ``stream_name``."""
        return self.catalog.stream(stream_name).put_records(records, dry_run=dry_run)

    def get_shard_iterator(
        self,
        stream_name: str | None,
        shard_id: str,
        shard_iterator_type: str,
        starting_sequence_number=None,
        timestamp=None,
        *,
        stream_arn: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        """:meth:`Stream.get_shard_iterator` on the named stream.

        As Kinesis, the shard id is parsed before the stream is looked up: one
        that names no shard index is ResourceNotFoundException ``Could not find
        shard <id> in stream <name> under account <acct>.``; a valid one on a
        missing stream is ``Shard shardId-<index> in stream <name> under
        account <acct> does not exist``.

        Parameters
        ----------
        stream_name, stream_arn : str or None
            The stream, by name or ARN (the ARN wins; the two must agree).
        shard_id, shard_iterator_type, starting_sequence_number, timestamp, dry_run
            As for :meth:`Stream.get_shard_iterator`.
        """
        check_iterator_request(shard_id, shard_iterator_type, starting_sequence_number, stream_name)
        name = self.catalog.name_from(stream_name, stream_arn)
        index = shard_index_of(shard_id, name, self.catalog.account_id)
        stream = self.catalog.lookup(name)
        if stream is None:
            raise shard_does_not_exist(index, name, self.catalog.account_id)
        return stream.get_shard_iterator(
            shard_id, shard_iterator_type, starting_sequence_number, timestamp, dry_run=dry_run
        )

    def get_records(self, shard_iterator: str, limit: int | None = None, *, dry_run: bool = False) -> dict:
        """:meth:`Stream.get_records` (``shard_iterator``, ``limit``, ``dry_run``) on the stream the iterator names."""
        return self.iterator_stream(shard_iterator).get_records(shard_iterator, limit, dry_run=dry_run)

    def iterator_stream_name(self, shard_iterator) -> str | None:
        """The stream a ``shard_iterator`` made by this engine reads, whatever its age.

        None for anything that is not such an iterator: GetRecords itself then
        says what is wrong.  For authorization, which must know the stream
        before the call.

        Parameters
        ----------
        shard_iterator : str
        """
        try:
            return self.catalog.iterators.verify(shard_iterator).stream_name
        except KinesisError:
            return None

    def iterator_stream(self, shard_iterator: str):
        """The stream a shard iterator reads.

        Parameters
        ----------
        shard_iterator : str

        Raises
        ------
        InvalidArgumentException, ExpiredIteratorException
            A malformed or expired iterator.
        ResourceNotFoundException
            Its stream is gone (or was re-created since).
        """
        pos = self.catalog.iterators.decode(shard_iterator, self.catalog.now_ms())
        stream = self.catalog.lookup(pos.stream_name)
        if stream is None or stream.incarnation != pos.incarnation:
            raise ResourceNotFoundException(
                f"Shard shardId-{pos.shard_index:012d} in stream {pos.stream_name} under account "
                f"{self.catalog.account_id} does not exist"
            )
        return stream
