"""IAM policy documents: their grammar and how IAM evaluates them (pure; the standard library only).

:func:`parse_policy` reads a JSON document (or its parsed form) into a
:class:`Policy` of :class:`Statement` objects, refusing what IAM would refuse
(:class:`PolicyError`, with a message naming the statement and element);
:func:`evaluate` decides one :class:`Request` against the caller's identity
policies and the resource's policy, as IAM does within one account and
across two:

1. a matching ``Deny`` in any policy denies (explicit deny wins);
2. else, within the resource's account, a matching ``Allow`` in an identity
   policy or one in the resource policy naming the caller (its ARN, or
   ``"*"``) allows; a resource policy naming only the caller's *account*
   delegates to the account's identity policies and grants nothing by itself;
3. across accounts both are needed: an identity ``Allow`` and a resource
   ``Allow`` naming the caller or its account;
4. else the request is implicitly denied.

The grammar: ``Version`` (``2012-10-17`` or ``2008-10-17``), ``Id``,
``Statement`` (one object or a list); per statement ``Sid``, ``Effect``
(``Allow``/``Deny``), ``Principal``/``NotPrincipal`` (resource policies
only: ``"*"`` or ``{"AWS": ...}`` naming ``"*"``, account ids,
``arn:aws:iam::ACCOUNT:root`` or principal ARNs; other principal types are
kept and match no caller), ``Action``/``NotAction`` (``service:Name`` with
``*``/``?`` wildcards, case-insensitive), ``Resource``/``NotResource`` (ARNs
with wildcards, case-sensitive; required in identity policies, optional in
resource policies, where it defaults to the resource the policy is attached
to) and ``Condition``.  Condition operators: ``String(Not)Equals``,
``String(Not)EqualsIgnoreCase``, ``String(Not)Like``, ``Arn(Not)Equals``,
``Arn(Not)Like``, ``Bool``, ``(Not)IpAddress`` (CIDRs), ``Null``, each with
an ``IfExists`` suffix and a ``ForAnyValue:``/``ForAllValues:`` prefix;
others are refused rather than ignored.  Condition keys are matched without
regard to case.  A key absent from the request fails a condition, except for
the negated operators (``StringNotEquals``, ``NotIpAddress``, ...), the
``IfExists`` forms and ``Null``, as in IAM.  Members of the document besides
``Version``, ``Id`` and ``Statement`` are kept and ignored.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "ALLOWED",
    "EXPLICIT_DENY_IDENTITY",
    "EXPLICIT_DENY_RESOURCE",
    "NO_IDENTITY_ALLOW",
    "NO_RESOURCE_ALLOW",
    "Decision",
    "Policy",
    "PolicyError",
    "Request",
    "Statement",
    "denial_message",
    "evaluate",
    "parse_policy",
]

VERSIONS = ("2012-10-17", "2008-10-17")
ALLOWED = "allowed"
EXPLICIT_DENY_IDENTITY = "explicit deny in an identity-based policy"
EXPLICIT_DENY_RESOURCE = "explicit deny in a resource-based policy"
NO_IDENTITY_ALLOW = "no identity-based policy allows"
NO_RESOURCE_ALLOW = "no resource-based policy allows"

_STATEMENT_KEYS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
)
_ACCOUNT_RE = re.compile(r"\d{12}")
_ROOT_RE = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")
_PRINCIPAL_ARN_RE = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):[^*?]+")
_ACTION_RE = re.compile(r"\*|[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+")

# condition operators: base name -> (kind, negated)
_OPERATORS = {
    "StringEquals": ("equals", False),
    "StringNotEquals": ("equals", True),
    "StringEqualsIgnoreCase": ("equals_ci", False),
    "StringNotEqualsIgnoreCase": ("equals_ci", True),
    "StringLike": ("like", False),
    "StringNotLike": ("like", True),
    "ArnEquals": ("like", False),  # IAM's ArnEquals takes wildcards as ArnLike does
    "ArnNotEquals": ("like", True),
    "ArnLike": ("like", False),
    "ArnNotLike": ("like", True),
    "Bool": ("bool", False),
    "IpAddress": ("ip", False),
    "NotIpAddress": ("ip", True),
    "Null": ("null", False),
}


class PolicyError(ValueError):
    """A policy document IAM would refuse; the message names the statement and element at fault."""


class Request:
    """One request to decide: who asks to do what to which resource, and in what context.

    Parameters
    ----------
    principal : str
        The caller's ARN (``arn:aws:iam::123456789012:user/alice``).
    action : str
        ``service:Name`` (``kinesis:PutRecord``).
    resource : str
        The resource's ARN, or ``"*"`` for an action on no resource.
    context : Mapping, optional
        Condition keys (any case) to a string, a bool or a list of strings
        (``{"aws:SourceIp": "127.0.0.1", "aws:SecureTransport": False}``).
    """

    __slots__ = ("_context", "_given", "account", "action", "principal", "resource")

    def __init__(self, principal: str, action: str, resource: str, context: Mapping | None = None):
        self.principal = principal
        self.action = action
        self.resource = resource
        self._given = context or {}
        self._context: dict | None = None  # normalised when a condition first asks
        parts = principal.split(":", 5)
        self.account = parts[4] if len(parts) > 4 else ""

    def values(self, key: str) -> tuple | None:
        """The request's values of condition key ``key`` (lower-cased), as strings; None when absent."""
        if self._context is None:
            self._context = {str(k).lower(): _request_values(v) for k, v in self._given.items()}
        return self._context.get(key)

    def __repr__(self) -> str:
        return f"Request({self.principal!r}, {self.action!r}, {self.resource!r}, {self._given!r})"


def _request_values(value) -> tuple:
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, (list, tuple, frozenset, set)):
        return tuple(str(v) for v in value)
    return (str(value),)


class Decision(NamedTuple):
    """What :func:`evaluate` decided: ``allowed`` and why (one of this module's reason constants)."""

    allowed: bool
    reason: str


def denial_message(reason: str, principal: str, action: str, resource: str) -> str:
    """AWS's AccessDenied text for a denied request.

    Parameters
    ----------
    reason : str
        :attr:`Decision.reason` of a denial.
    principal, action, resource : str
        The caller's ARN, ``service:Name`` and the resource's ARN as the message names them.

    Returns
    -------
    str
        ``User: P is not authorized to perform: A on resource: R because no identity-based policy allows
        the A action`` (or ``... with an explicit deny in a resource-based policy``, ...).
    """
    head = f"User: {principal} is not authorized to perform: {action} on resource: {resource}"
    if reason in (EXPLICIT_DENY_IDENTITY, EXPLICIT_DENY_RESOURCE):
        return f"{head} with an {reason}"
    return f"{head} because {reason} the {action} action"


# -- patterns ---------------------------------------------------------------------------------------


def _wildcard_regex(patterns, ignore_case: bool) -> re.Pattern:
    """One regex matching any of IAM's wildcard ``patterns`` (``*`` any run, ``?`` one character) whole."""
    parts = [re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns]
    flags = re.S | (re.I if ignore_case else 0)
    return re.compile("(?:" + "|".join(parts) + r")\Z", flags)


def _strings(value, where: str) -> tuple[str, ...]:
    """A string or a non-empty list of strings, as a tuple."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"{where} must be a string or a non-empty list of strings")


# -- principals -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Principals:
    """Who a Principal element names: anyone, some accounts, some principal ARNs."""

    anyone: bool = False
    accounts: frozenset = frozenset()
    arns: frozenset = frozenset()

    def match(self, request: Request) -> str | None:
        """``"exact"`` (the caller or anyone), ``"account"`` (the caller's account) or None."""
        if self.anyone or request.principal in self.arns:
            return "exact"
        if request.account in self.accounts:
            return "account"
        return None


def _parse_principal(value, where: str) -> _Principals:
    if value == "*":
        return _Principals(anyone=True)
    if not isinstance(value, Mapping) or not value:
        raise PolicyError(f'{where} must be "*" or an object such as {{"AWS": "arn:aws:iam::123456789012:root"}}')
    accounts, arns, anyone = set(), set(), False
    for kind, names in value.items():
        names = _strings(names, f"{where}.{kind}")
        if kind != "AWS":  # Service, Federated, CanonicalUser: valid, and never a key of ours
            continue
        for name in names:
            root = _ROOT_RE.fullmatch(name)
            if name == "*":
                anyone = True
            elif _ACCOUNT_RE.fullmatch(name):
                accounts.add(name)
            elif root:
                accounts.add(root.group(1))
            elif _PRINCIPAL_ARN_RE.fullmatch(name):
                arns.add(name)
            else:
                raise PolicyError(f"{where}: invalid principal {name!r}")
    return _Principals(anyone, frozenset(accounts), frozenset(arns))


# -- conditions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Condition:
    """One condition key under one operator: its values and how to compare them."""

    kind: str
    negated: bool
    if_exists: bool
    quantifier: str  # "", "ForAnyValue" or "ForAllValues"
    key: str  # lower-cased
    values: tuple
    compiled: object = None  # a regex (like), lower-cased values (equals_ci), networks (ip)

    def holds(self, request: Request) -> bool:
        """Whether the condition holds for ``request`` (IAM's rules for absent keys)."""
        present = request.values(self.key)
        if self.kind == "null":
            return (not present) == (self.values[0] == "true")
        if not present:  # absent (or no values)
            return self.quantifier == "ForAllValues" or self.if_exists or self.negated
        if self.quantifier == "ForAllValues":
            return all(self._matches(v) != self.negated for v in present)
        hit = any(self._matches(v) for v in present)
        return hit != self.negated

    def _matches(self, value: str) -> bool:
        kind = self.kind
        if kind == "equals":
            return value in self.values
        if kind == "equals_ci":
            return value.lower() in self.compiled
        if kind == "like":
            return self.compiled.match(value) is not None
        if kind == "bool":
            return value.lower() in self.values
        try:  # ip
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.compiled)


def _condition_value(value, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise PolicyError(f"{where}: condition values must be strings, numbers or booleans")


def _parse_conditions(value, where: str) -> tuple[_Condition, ...]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where} must be an object of condition operators")
    out = []
    for operator, block in value.items():
        name = str(operator)
        quantifier, _, base = name.rpartition(":")
        if quantifier not in ("", "ForAnyValue", "ForAllValues"):
            raise PolicyError(f"{where}: unknown condition operator {name!r}")
        if_exists = base.endswith("IfExists") and base != "IfExists"
        base = base[: -len("IfExists")] if if_exists else base
        if base not in _OPERATORS or (base == "Null" and (if_exists or quantifier)):
            raise PolicyError(f"{where}: unknown or unsupported condition operator {name!r}")
        if not isinstance(block, Mapping) or not block:
            raise PolicyError(f"{where}.{name} must be an object of condition keys")
        kind, negated = _OPERATORS[base]
        for key, raw in block.items():
            here = f"{where}.{name}.{key}"
            raw_values = raw if isinstance(raw, list) else [raw]
            if not raw_values:
                raise PolicyError(f"{here} has no values")
            values = tuple(_condition_value(v, here) for v in raw_values)
            out.append(_condition(kind, negated, if_exists, quantifier, str(key).lower(), values, here))
    return tuple(out)


def _condition(kind, negated, if_exists, quantifier, key, values, where) -> _Condition:
    compiled = None
    if kind == "like":
        compiled = _wildcard_regex(values, ignore_case=False)
    elif kind == "equals_ci":
        compiled = frozenset(v.lower() for v in values)
    elif kind in ("bool", "null"):
        values = tuple(v.lower() for v in values)
        if any(v not in ("true", "false") for v in values):
            raise PolicyError(f'{where}: {"Null" if kind == "null" else "Bool"} takes "true" or "false"')
    elif kind == "ip":
        try:
            compiled = tuple(ipaddress.ip_network(v, strict=False) for v in values)
        except ValueError as err:
            raise PolicyError(f"{where}: {err}") from None
    return _Condition(kind, negated, if_exists, quantifier, key, values, compiled)


# -- statements and policies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One statement: its effect, whom and what it covers, and its conditions.

    Attributes
    ----------
    sid : str or None
    effect : {"Allow", "Deny"}
    principals : object or None
        Who it names (resource policies); None in identity policies.
    not_principal : bool
        Whether ``principals`` came from ``NotPrincipal`` (it covers everyone else).
    actions : re.Pattern
        The action patterns (``not_action``: the actions it does not cover).
    resources : re.Pattern or None
        The resource patterns (``not_resource``: those it does not cover); None: any resource.
    conditions : tuple
    """

    sid: str | None
    effect: str
    principals: object
    not_principal: bool
    actions: re.Pattern
    not_action: bool
    resources: re.Pattern | None
    not_resource: bool
    conditions: tuple = field(default=())

    def applies(self, request: Request) -> bool:
        """Whether the statement covers ``request``'s action and resource and its conditions hold.

        Parameters
        ----------
        request : Request

        Returns
        -------
        bool
        """
        if (self.actions.match(request.action) is None) != self.not_action:
            return False
        if self.resources is not None and (self.resources.match(request.resource) is None) != self.not_resource:
            return False
        return all(c.holds(request) for c in self.conditions)

    def principal_match(self, request: Request) -> str | None:
        """Whether the statement names the caller.

        Parameters
        ----------
        request : Request

        Returns
        -------
        str or None
            ``"exact"`` (the caller, or anyone), ``"account"`` (the caller's
            account only: a delegation to its identity policies) or None.
        """
        if self.principals is None:
            return None
        matched = self.principals.match(request)
        if self.not_principal:
            return None if matched is not None else "exact"
        return matched


@dataclass(frozen=True)
class Policy:
    """A parsed policy document: its statements (see :func:`parse_policy`)."""

    statements: tuple[Statement, ...] = ()
    version: str | None = None


def _element(st: Mapping, name: str, where: str, *, required: bool):
    """(value, negated) of an element given as ``name`` or ``Not<name>``; (None, False) when neither."""
    has, has_not = name in st, f"Not{name}" in st
    if has and has_not:
        raise PolicyError(f"{where}: give {name} or Not{name}, not both")
    if required and not (has or has_not):
        raise PolicyError(f"{where}: {name} or Not{name} is required")
    if has_not:
        return st[f"Not{name}"], True
    return st.get(name), False


def _parse_statement(st, where: str, kind: str) -> Statement:
    if not isinstance(st, Mapping):
        raise PolicyError(f"{where} must be an object")
    unknown = sorted(set(st) - _STATEMENT_KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown element {unknown[0]!r}")
    sid = st.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{where}: Sid must be a string")
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f'{where}: Effect must be "Allow" or "Deny", not {json.dumps(effect)}')
    principal, not_principal = _element(st, "Principal", where, required=False)
    if kind == "identity" and ("Principal" in st or "NotPrincipal" in st):
        raise PolicyError(f"{where}: an identity-based policy names no Principal")
    principals = None
    if principal is not None:
        principals = _parse_principal(principal, f"{where}.{'NotPrincipal' if not_principal else 'Principal'}")
    actions, not_action = _element(st, "Action", where, required=True)
    actions = _strings(actions, f"{where}.{'NotAction' if not_action else 'Action'}")
    for action in actions:
        if not _ACTION_RE.fullmatch(action):
            raise PolicyError(f"{where}: invalid action {action!r} (expected service:Name, e.g. kinesis:GetRecords)")
    resources, not_resource = _element(st, "Resource", where, required=kind == "identity")
    resource_re = None
    if resources is not None:
        resources = _strings(resources, f"{where}.{'NotResource' if not_resource else 'Resource'}")
        for resource in resources:
            if resource != "*" and not resource.startswith("arn:"):
                raise PolicyError(f'{where}: invalid resource {resource!r} (expected "*" or an ARN)')
        resource_re = _wildcard_regex(resources, ignore_case=False)
    conditions = _parse_conditions(st["Condition"], f"{where}.Condition") if "Condition" in st else ()
    return Statement(
        sid,
        effect,
        principals,
        not_principal,
        _wildcard_regex(actions, ignore_case=True),
        not_action,
        resource_re,
        not_resource,
        conditions,
    )


def parse_policy(document, kind: str = "resource") -> Policy:
    """Read and check a policy document.

    Parameters
    ----------
    document : str or Mapping
        The JSON text, or its parsed object.
    kind : {"resource", "identity"}
        A resource policy's statements may name principals and default their
        resource to the one the policy is attached to; an identity policy's
        may not name principals and must name resources.

    Returns
    -------
    Policy

    Raises
    ------
    PolicyError
        Not JSON, not an object, or an element IAM would refuse (the message says which).
    """
    if kind not in ("resource", "identity"):
        raise ValueError(f"kind must be 'resource' or 'identity', not {kind!r}")
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except ValueError as err:
            raise PolicyError(f"the policy is not valid JSON: {err}") from None
    if not isinstance(document, Mapping):
        raise PolicyError("the policy must be a JSON object")
    version = document.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyError(f"Version must be one of {', '.join(VERSIONS)}, not {json.dumps(version)}")
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyError("Statement must be an object or a list of objects")
    parsed = tuple(_parse_statement(st, f"Statement {i + 1}", kind) for i, st in enumerate(statements))
    return Policy(parsed, version)


# -- evaluation -------------------------------------------------------------------------------------


def evaluate(request: Request, identity_policies=(), resource_policy: Policy | None = None, resource_account=None):
    """Decide ``request`` as IAM does (see the module docstring).

    Parameters
    ----------
    request : Request
    identity_policies : iterable of Policy
        The caller's own policies.
    resource_policy : Policy or None
        The policy attached to the resource, if any.
    resource_account : str or None
        The resource's account; None: the caller's own.

    Returns
    -------
    Decision
    """
    identity_allows = False
    for policy in identity_policies:
        for st in policy.statements:
            if st.applies(request):
                if st.effect == "Deny":
                    return Decision(False, EXPLICIT_DENY_IDENTITY)
                identity_allows = True
    grants = set()  # how the resource policy names the caller in statements that allow
    if resource_policy is not None:
        for st in resource_policy.statements:
            named = st.principal_match(request)
            if named is None or not st.applies(request):
                continue
            if st.effect == "Deny":
                return Decision(False, EXPLICIT_DENY_RESOURCE)
            grants.add(named)
    if resource_account is None or resource_account == request.account:
        if identity_allows or "exact" in grants:
            return Decision(True, ALLOWED)
        return Decision(False, NO_IDENTITY_ALLOW)
    if not grants:
        return Decision(False, NO_RESOURCE_ALLOW)
    if not identity_allows:
        return Decision(False, NO_IDENTITY_ALLOW)
    return Decision(True, ALLOWED)
