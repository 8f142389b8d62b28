"""The key table of ``shardstream serve --auth FILE``: each access key's secret, principal and permissions.

:class:`AuthConfig` reads the JSON form; each key is a :class:`KeyPolicy`,
whose permissions are an IAM identity policy (:mod:`.policy`): a ``"policy"``
document, or the one its ``actions`` and ``streams`` allow lists amount to
(:func:`allow_list_policy`).  :mod:`.auth` verifies signatures with the
secrets and authorizes requests with the policies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from ..policy import Policy, PolicyError, parse_policy
from . import model as _service_model
from . import resources as _resources

__all__ = ["AuthConfig", "KeyPolicy", "allow_list_policy"]


_PRINCIPAL_ARN_RE = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[^*?\s]+")


@lru_cache(maxsize=1)
def _streamless_operations() -> frozenset:
    """The operations whose requests name no resource (ListStreams, DescribeLimits, ...): IAM's resource ``*``."""
    return frozenset(op for op in _service_model.load()["operations"] if not _resources.resource_members(op))


def allow_list_policy(actions: frozenset | None, streams: frozenset | None) -> Policy:
    """The identity policy a key's ``actions`` and ``streams`` allow lists amount to.

    Parameters
    ----------
    actions, streams : frozenset of str or None
        None: every action, every stream.

    Returns
    -------
    Policy
        Allow the actions on the streams (and their consumers), and those of
        them that name no stream on ``*``.
    """
    names = ["kinesis:*"] if actions is None else sorted(f"kinesis:{a}" for a in actions)
    if streams is None:
        statements = [{"Effect": "Allow", "Action": names, "Resource": "*"}] if names else []
    else:
        resources = [f"arn:aws:kinesis:*:*:stream/{s}{tail}" for s in sorted(streams) for tail in ("", "/consumer/*")]
        streamless = sorted(f"kinesis:{a}" for a in _streamless_operations() if actions is None or a in actions)
        statements = [{"Effect": "Allow", "Action": names, "Resource": resources}] if names and resources else []
        if streamless:
            statements.append({"Effect": "Allow", "Action": streamless, "Resource": "*"})
    return parse_policy({"Version": "2012-10-17", "Statement": statements}, kind="identity")


@dataclass(frozen=True)
class KeyPolicy:
    """One access key: its secret, its principal and what it may do.

    Attributes
    ----------
    secret : str
    actions, streams : frozenset or None
        The allow lists (None: everything).
    arn : str or None
        The principal the key signs as (``arn:aws:iam::123456789012:user/alice``);
        None: ``arn:aws:iam::<the server's account>:user/<access key id>``.
    document : Policy or None
        The key's identity policy, when given as a document (then ``actions``
        and ``streams`` are None).
    identity : Policy
        What the key is allowed, as an identity policy: ``document``, or the
        allow lists' (:func:`allow_list_policy`).
    """

    secret: str
    actions: frozenset | None = None
    streams: frozenset | None = None
    arn: str | None = None
    document: Policy | None = None
    identity: Policy = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        identity = self.document if self.document is not None else allow_list_policy(self.actions, self.streams)
        object.__setattr__(self, "identity", identity)

    def __repr__(self) -> str:  # never show the secret
        return (
            f"KeyPolicy(secret=***, actions={self.actions!r}, streams={self.streams!r}, arn={self.arn!r}, "
            f"document={'yes' if self.document is not None else None})"
        )


def _allow_list(value, what: str, akid: str) -> frozenset | None:
    if value is None or value == "*":
        return None
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'auth config: key {akid}: {what} must be "*" or a list of strings')
    items = frozenset(value)
    return None if "*" in items else items


def _key_policy(akid, entry: Mapping) -> KeyPolicy:
    """One key of the JSON form."""
    arn = entry.get("arn")
    if arn is not None and (not isinstance(arn, str) or not _PRINCIPAL_ARN_RE.fullmatch(arn)):
        raise ValueError(
            f'auth config: key {akid}: "arn" must be a principal ARN, e.g. arn:aws:iam::123456789012:user/alice'
        )
    document = None
    if "policy" in entry:
        if "actions" in entry or "streams" in entry:
            raise ValueError(f'auth config: key {akid}: give "policy" or "actions"/"streams", not both')
        try:
            document = parse_policy(entry["policy"], kind="identity")
        except PolicyError as err:
            raise ValueError(f"auth config: key {akid}: policy: {err}") from None
    return KeyPolicy(
        secret=entry["secret"],
        actions=_allow_list(entry.get("actions", "*"), "actions", akid),
        streams=_allow_list(entry.get("streams", "*"), "streams", akid),
        arn=arn,
        document=document,
    )


@dataclass(frozen=True)
class AuthConfig:
    """The key table for ``verify`` mode.

    JSON form: ``{"keys": {"AKID": {"secret": "...", "arn": "arn:aws:iam::...",
    "actions": [...] | "*", "streams": [...] | "*"}}, "clock_skew_s": 300}``;
    ``actions`` and ``streams`` default to ``"*"``.  Instead of the two allow
    lists a key may carry ``"policy"``: an IAM identity policy document (an
    object or its JSON text; :mod:`.policy` gives the grammar).
    """

    keys: Mapping[str, KeyPolicy] = field(default_factory=dict)
    clock_skew_s: float = 300.0

    @classmethod
    def from_dict(cls, data: Mapping) -> AuthConfig:
        """The config of the JSON form (see the class docstring).

        Parameters
        ----------
        data : Mapping
            ``{"keys": {...}, "clock_skew_s": ...}``.

        Returns
        -------
        AuthConfig

        Raises
        ------
        ValueError
            No ``keys`` object, a key without a string ``secret``, ``actions`` or
            ``streams`` neither ``"*"`` nor a list of strings, an ``arn`` that is
            not a principal ARN, a ``policy`` that is not a valid identity policy
            or is given with ``actions`` or ``streams``, or a negative or
            non-numeric ``clock_skew_s``.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("keys"), Mapping):
            raise ValueError('auth config must be an object with a "keys" object')
        keys = {}
        for akid, entry in data["keys"].items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("secret"), str):
                raise ValueError(f'auth config: key {akid} needs a string "secret"')
            keys[str(akid)] = _key_policy(akid, entry)
        skew = data.get("clock_skew_s", 300)
        if not isinstance(skew, (int, float)) or isinstance(skew, bool) or skew < 0:
            raise ValueError("auth config: clock_skew_s must be a non-negative number")
        return cls(keys=keys, clock_skew_s=float(skew))

    @classmethod
    def load(cls, path) -> AuthConfig:
        """:meth:`from_dict` of the JSON file at ``path``.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        AuthConfig

        Raises
        ------
        OSError
            The file cannot be read.
        ValueError
            Not JSON (``json.JSONDecodeError``), or as :meth:`from_dict`.
        """
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))
