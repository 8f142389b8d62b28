"""An enhanced fan-out consumer of a stream: its name, ARN, status, tags and resource policy.

A :class:`StreamConsumer` belongs to its engine's
:class:`~shardstream.fanout.ConsumerRegistry`, which registers, lists and
deregisters consumers (see :mod:`shardstream.fanout`); the consumer changes
its own state under the registry's lock and asks the registry to save.
"""

from __future__ import annotations

from . import validation as v
from .errors import ResourceNotFoundException, SerializationException
from .lifecycle import Lifecycle
from .models import ms_to_datetime
from .settings import check_policy_document
from .tags import TagSet, check_tag_keys, check_tags

__all__ = ["StreamConsumer"]


class StreamConsumer:
    """One registered consumer of a stream (see :class:`ConsumerRegistry`).

    Parameters
    ----------
    registry : ConsumerRegistry
    name : str
    stream_name, stream_arn : str
        The stream it reads.
    incarnation : int
        The stream incarnation it was registered with (a re-created stream
        of the same name has none of the old one's consumers).
    created_ms : int
        Registration time, ms since the epoch.
    status, status_until_ms, tags, resource_policy
        Its state, as :meth:`to_doc` saves it.

    Attributes
    ----------
    arn : str
        ``<StreamARN>/consumer/<name>:<creation epoch seconds>``.
    """

    def __init__(
        self,
        registry,
        *,
        name: str,
        stream_name: str,
        stream_arn: str,
        incarnation: int,
        created_ms: int,
        status: str,
        status_until_ms: int,
        tags: dict | None = None,
        resource_policy: str | None = None,
    ):
        self._registry = registry
        self.name = name
        self.stream_name = stream_name
        self.stream_arn = stream_arn
        self.incarnation = incarnation
        self.created_ms = created_ms
        self.arn = f"{stream_arn}/consumer/{name}:{created_ms // 1000}"
        self._life = Lifecycle(registry.now_ms, status, status_until_ms)
        self._tags = TagSet(stream_name, registry.account_id)
        if tags:
            self._tags.add(tags)
        self.resource_policy = resource_policy

    # -- state ---------------------------------------------------------------------

    @property
    def status(self) -> str:
        """CREATING, ACTIVE or DELETING (transitions settle on the engine's clock)."""
        return self._life.status

    @property
    def gone(self) -> bool:
        """Deregistered and past the DELETING transition."""
        return self._life.gone

    def mark_deleting(self, until_ms: int) -> None:
        """Enter DELETING (deregistered), to be gone at ``until_ms`` on the engine's clock (idempotent).

        Parameters
        ----------
        until_ms : int
            When the DELETING transition ends; an earlier call's deadline stands.
        """
        self._life.mark_deleting(until_ms)

    def describe(self) -> dict:
        """The boto3 ``Consumer`` shape."""
        return {
            "ConsumerName": self.name,
            "ConsumerARN": self.arn,
            "ConsumerStatus": self.status,
            "ConsumerCreationTimestamp": ms_to_datetime(self.created_ms),
        }

    def description(self) -> dict:
        """The boto3 ``ConsumerDescription`` shape (``Consumer`` plus ``StreamARN``)."""
        return {**self.describe(), "StreamARN": self.stream_arn}

    def to_doc(self) -> dict:
        """JSON-ready state, as kept in a data directory's ``engine.json``."""
        return {
            "name": self.name,
            "stream_name": self.stream_name,
            "stream_arn": self.stream_arn,
            "incarnation": self.incarnation,
            "created_ms": self.created_ms,
            **self._life.to_doc(),
            "tags": self._tags.as_dict(),
            "resource_policy": self.resource_policy,
        }

    # -- tags and resource policy (TagResource & co. by ConsumerARN) --------------------

    @property
    def tags(self) -> dict[str, str]:
        """The consumer's tags, by key."""
        return self._tags.as_dict()

    def add_tags_to_stream(self, tags: dict) -> dict:
        """Add or overwrite ``tags`` (TagResource on the consumer's ARN); ``{}``."""
        check_tags(tags)
        with self._registry.lock:
            added = self._tags.try_add(tags)
            if added:
                self._registry.save()
        if not added:
            raise self._tags.too_many()
        return {}

    def remove_tags_from_stream(self, tag_keys) -> dict:
        """Remove the tags of ``tag_keys`` (UntagResource on the consumer's ARN); ``{}``."""
        check_tag_keys(tag_keys)
        with self._registry.lock:
            self._tags.remove(tag_keys)
            self._registry.save()
        return {}

    def put_resource_policy(self, policy) -> dict:
        """Attach ``policy``, a resource policy (checked as a stream's, stored verbatim); ``{}``."""
        if policy is not None and not isinstance(policy, str):
            raise SerializationException(f"Policy must be a str, not {type(policy).__name__}")
        errs: list = []
        v.check_required(errs, "policy", policy)
        v.raise_if_any(errs)
        check_policy_document(policy)
        with self._registry.lock:
            self.resource_policy = policy
            self._registry.save()
        return {}

    def get_resource_policy(self) -> dict:
        """``{"Policy": <document>}``; ``"{}"`` when none is attached."""
        return {"Policy": "{}" if self.resource_policy is None else self.resource_policy}

    def delete_resource_policy(self) -> dict:
        """Remove the resource policy; ``{}``.  ResourceNotFoundException when there is none (as for streams)."""
        with self._registry.lock:
            had_policy = self.resource_policy is not None
            if had_policy:
                self.resource_policy = None
                self._registry.save()
        if not had_policy:
            raise ResourceNotFoundException(f"No resource policy found for resource ARN {self.arn}.")
        return {}

    def __repr__(self) -> str:
        return f"<StreamConsumer {self.name!r} of {self.stream_name!r} {self.status}>"
