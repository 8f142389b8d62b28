"""Which stream a request acts on: the one resource authorization looks at.

:func:`resolve` reads a request's parameters the way the action reading them
does (:mod:`.actions` and the engine methods it calls), member by member and
in the same order of precedence, so that a key limited to some streams is
checked against the stream the call will touch, and never against a member the
operation ignores.  The rules, from the operation's input members in the
vendored model (:mod:`.model`):

1. ``ShardIterator`` (GetRecords): the stream the iterator reads.  The
   action reads by iterator alone; a ``StreamARN`` beside it is ignored.
2. ``ConsumerARN`` when given (DescribeStreamConsumer,
   DeregisterStreamConsumer, SubscribeToShard): the stream in the consumer
   ARN.  The consumer registry names the consumer by its ARN first and
   refuses a ``StreamARN`` that disagrees.
3. ``ResourceARN`` (TagResource, UntagResource, ListTagsForResource and the
   resource policies): the stream in the ARN, or in the consumer ARN when it
   names a consumer.
4. ``NextToken`` of ListShards when given: the stream the token pages
   through.  (ListStreamConsumers' token must name the same stream as its
   ``StreamARN``, which the action checks; ListStreams' token names none.)
5. ``StreamARN`` when given: the stream it names.  Where ``StreamName`` is a
   member too, the engine acts on the ARN's stream and refuses a name that
   disagrees.
6. ``StreamName`` when given.

Queues: ``QueueARN`` names the stream of the queue (looked up in the
engine; a queue that does not exist names no stream), and CreateQueue's
``StreamConfigurationList`` the stream of its (one) configuration.
ListQueues names none.

Only members of the operation's input shape are read: a ``StreamName`` sent
to an operation that takes none (UpdateStreamMode, TagResource, ...) names
nothing here, as it names nothing to the action.  A member that is present
but is not a string, an ARN that is not a Kinesis stream or consumer ARN, and
a token this engine did not make resolve to no stream (the action fails on
them without touching any stream); the :class:`Target` then says which member
could not be read (``member`` set, ``stream`` None), and a key limited to some
streams is denied it: authorization fails closed, so a disagreement between
this module and an action can never open another stream to such a key.

Names are taken from ARNs by syntax alone, whatever their region and account
(the engine refuses ARNs of other regions and accounts, and keys are limited
by stream name), so a stream that does not exist is denied as one that does:
a key learns nothing about streams it may not use.

The :class:`Target` also carries the resource policy attached to what it
names (the consumer's for a consumer ARN, else the stream's), as stored, for
:mod:`.auth` to enforce; a resource that does not exist has none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ..errors import KinesisError
from . import model as _service_model

__all__ = ["RESOURCE_MEMBERS", "Target", "named_stream", "resolve", "resource_members", "stream_of_arn"]

#: The input members that can name the stream an operation acts on.
RESOURCE_MEMBERS = (
    "ShardIterator",
    "ConsumerARN",
    "QueueARN",
    "StreamConfigurationList",
    "ResourceARN",
    "NextToken",
    "StreamARN",
    "StreamName",
)

#: Operations whose NextToken names the stream they page through (rule 4).
_STREAM_PAGE_TOKENS = frozenset({"ListShards"})

# A stream ARN: the name is everything after "stream/", as the engine reads it.
_STREAM_ARN = re.compile(r"arn:[^:]+:kinesis:[^:]*:[^:]*:stream/(.+)", re.S)
# A consumer ARN: the stream's name between "stream/" and "/consumer/", as the consumer registry reads it.
_CONSUMER_ARN = re.compile(r"arn:[^:]+:kinesis:[^:]*:[^:]*:stream/([a-zA-Z0-9_.-]+)/consumer/.*", re.S)


@dataclass(frozen=True)
class Target:
    """The stream one request acts on.

    Attributes
    ----------
    stream : str or None
        The stream's name; None when the operation acts on no stream
        (ListStreams, DescribeLimits, ...) or when the request names none the
        action could use (it then fails with its own error).
    arn : str or None
        The ARN the request named the resource by (a stream's or a
        consumer's), for messages; None when it was named otherwise.
    member : str or None
        The member the stream was read from (``"StreamARN"``, ...); set with
        ``stream`` None when that member names no stream the action could use.
    policy : str or None
        The resource policy document attached to the resource (the consumer
        when :attr:`consumer_arn` is set, else the stream), as stored; None
        when there is none or the resource does not exist.
    """

    stream: str | None = None
    arn: str | None = None
    member: str | None = None
    policy: str | None = field(default=None, compare=False)

    @property
    def consumer_arn(self) -> str | None:
        """The consumer ARN the request named its resource by (ConsumerARN, or a consumer's ResourceARN), or None."""
        if self.stream is None or self.member not in ("ConsumerARN", "ResourceARN") or self.arn is None:
            return None
        return self.arn if _CONSUMER_ARN.fullmatch(self.arn) else None

    @property
    def unresolved(self) -> bool:
        """Whether the request named a resource that names no stream (the action will refuse it)."""
        return self.stream is None and self.member is not None

    def resource_arn(self, region: str, account_id: str) -> str:
        """The ARN to name in an AccessDenied message: as given, else the stream's, else the account's.

        Parameters
        ----------
        region, account_id : str
            For the ARN when the request gave none.

        Returns
        -------
        str
        """
        if self.arn is not None:
            return self.arn
        if self.stream is not None:
            return f"arn:aws:kinesis:{region}:{account_id}:stream/{self.stream}"
        return f"arn:aws:kinesis:{region}:{account_id}:*"


_NOTHING = Target()


@lru_cache(maxsize=128)  # the model's operations
def resource_members(operation: str) -> tuple[str, ...]:
    """The members of ``operation``'s input (in the vendored model) that can name its stream, by precedence."""
    model = _service_model.load()
    op = model["operations"].get(operation)
    shape = (op or {}).get("input", {}).get("shape")
    members = model["shapes"][shape].get("members", {}) if shape else {}
    out = [m for m in RESOURCE_MEMBERS if m in members]
    if "NextToken" in out and operation not in _STREAM_PAGE_TOKENS:
        out.remove("NextToken")
    if "StreamConfigurationList" in out and operation != "CreateQueue":  # channels are not served yet
        out.remove("StreamConfigurationList")
    if "ShardIterator" in out:  # the action reads by iterator alone
        out = ["ShardIterator"]
    return tuple(out)


def stream_of_arn(arn, member: str = "ResourceARN") -> str | None:
    """The stream an ARN names (by syntax; any region and account), or None.

    Parameters
    ----------
    arn : object
        The member's value.
    member : str
        ``"StreamARN"`` (a stream ARN), ``"ConsumerARN"`` (a consumer ARN) or
        ``"ResourceARN"`` (either: a consumer ARN is read as one first, as the
        engine does).
    """
    if not isinstance(arn, str):
        return None
    m = None
    if member != "StreamARN":
        m = _CONSUMER_ARN.fullmatch(arn)
    if m is None and member != "ConsumerARN":
        m = _STREAM_ARN.fullmatch(arn)
    return m.group(1) if m else None


def named_stream(engine, params: dict):
    """The stream a request names by ``StreamName`` and/or ``StreamARN``, as the action reads them.

    Parameters
    ----------
    engine : Engine
    params : dict
        The request's members.

    Raises
    ------
    ResourceNotFoundException, InvalidArgumentException
        No such stream; neither member, or the two disagree.
    """
    return engine.stream(params.get("StreamName"), stream_arn=params.get("StreamARN"))


def resolve(engine, operation: str, params) -> Target:
    """The stream a request for ``operation`` with ``params`` will act on (see the module's rules).

    Parameters
    ----------
    engine : shardstream.Engine
        The engine the request goes to: it reads the tokens it made
        (:meth:`~shardstream.Engine.iterator_stream_name`,
        :meth:`~shardstream.Engine.shard_page_stream_name`).
    operation : str
    params : dict
        The parsed request, before validation.
    """
    target = _named(engine, operation, params)
    if target.stream is None:
        return target
    policy = _attached_policy(engine, target)
    return target if policy is None else replace(target, policy=policy)


def _named(engine, operation: str, params) -> Target:
    """The :class:`Target` of ``resolve`` without its policy."""
    if not isinstance(params, dict):
        return _NOTHING
    for member in resource_members(operation):
        value = params.get(member)
        if value is None:
            continue
        # the first member given decides, as in the action; a malformed one names no stream
        if member == "ShardIterator":
            return Target(engine.iterator_stream_name(value), None, member)
        if member == "NextToken":
            return Target(engine.shard_page_stream_name(value), None, member)
        if member == "QueueARN":
            name = _queue_stream(engine, value)
            return Target(name, value if isinstance(value, str) else None, member)
        if member == "StreamConfigurationList":  # CreateQueue: the one stream configuration's StreamARN
            first = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else {}
            value = first.get("StreamARN")
            member = "StreamARN"
            name = stream_of_arn(value, member)
            return Target(name, value, member) if name is not None else _unresolved(value, member)
        if member == "StreamName":
            return Target(value, None, member) if isinstance(value, str) else _unresolved(value, member)
        name = stream_of_arn(value, member)
        return Target(name, value, member) if name is not None else _unresolved(value, member)
    return _NOTHING


def _attached_policy(engine, target: Target) -> str | None:
    """The policy document stored on the consumer or stream ``target`` names, or None."""
    if target.consumer_arn is None:
        owner = engine.catalog.lookup(target.stream)  # by name, unchecked: a name no stream has finds none
        return None if owner is None else owner.resource_policy
    try:
        owner = engine.resource(target.consumer_arn)
    except KinesisError:  # no such consumer (or not this engine's region and account): nothing attached
        return None
    return owner.resource_policy


def _queue_stream(engine, queue_arn) -> str | None:
    """The stream of the queue ``queue_arn`` names, or None (no such queue, or not an ARN)."""
    try:
        return engine.queues.queue_stream_name(queue_arn)
    except KinesisError:
        return None


def _unresolved(value, member: str) -> Target:
    """A member given that names no stream (malformed, foreign, not this engine's token)."""
    return Target(None, value if isinstance(value, str) and value.startswith("arn:") else None, member)
