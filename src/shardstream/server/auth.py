"""Request authentication for the HTTP server: AWS Signature Version 4 (spec section 12).

Three modes (spec 12.4, "[ours]"):

``presence``
    The default, what kinesalite does: a request must carry a well-formed SigV4
    ``Authorization`` header (``Credential=``, ``Signature=``, ``SignedHeaders=``
    plus an ``X-Amz-Date`` or ``Date`` header) or the five presigned query
    parameters.  Any key and any signature are accepted.
``verify``
    Given a key table (:class:`AuthConfig`, usually loaded from the JSON file of
    ``shardstream serve --auth FILE``): the signature is recomputed and compared
    (canonical request -> string to sign -> HMAC chain, spec 12.2), the clock
    skew is enforced, and every request is authorized as IAM would: the key's
    identity policy (an allow list of actions and streams, or a ``"policy"``
    document) and the resource policy attached to the stream or consumer
    (PutResourcePolicy), evaluated by :mod:`.policy`.
``off``
    No checks at all (moto-like).

The check is two steps (:class:`Authenticator`):

:meth:`~Authenticator.authenticate`
    needs only the method, the raw path, the headers and the body's bytes
    (signature, credential scope, clock, presigned expiry).  In ``verify``
    mode the pipeline runs it before the body is parsed, so an unauthenticated
    request costs a hash of its body and no decoding; in ``presence`` mode it
    runs after parsing, where kinesalite checks (spec 12.4).
:meth:`~Authenticator.authorize`
    needs the operation and the stream the request will act on, resolved once
    from the parsed request by :func:`.resources.resolve` (the member the
    action reads, a shard iterator's or NextToken's stream, and the resource
    policy attached to it), and the request's context (source address, TLS)
    for conditions; it runs for every key authenticated in ``verify`` mode.
    A denial is AccessDeniedException with AWS's text, e.g. ``User:
    arn:aws:iam::123456789012:user/alice is not authorized to perform:
    kinesis:PutRecord on resource: arn:aws:kinesis:...:stream/s because no
    identity-based policy allows the kinesis:PutRecord action``.

Presigned requests (``X-Amz-Expires``) must name 1 to 604800 seconds and are
refused once that time has passed since their ``X-Amz-Date``.

Only the standard library is used here; botocore is not needed at run time.
Secrets and signatures are never logged.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import hashlib
import hmac
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from ..errors import AccessDeniedException, KinesisError
from ..policy import Policy, PolicyError, Request, denial_message, evaluate, parse_policy
from .policy_keys import AuthConfig, KeyPolicy

__all__ = [
    "AuthConfig",
    "Authenticator",
    "ExpiredTokenException",
    "Identity",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "KeyPolicy",
    "MissingAuthenticationTokenException",
    "RequestContext",
    "UnrecognizedClientException",
    "make_authenticator",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "kinesis"
_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date")
_AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_PARSED_POLICIES = 256  # how many resource policy documents an Authenticator keeps parsed
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


# -- errors (spec 12.3; 400 for requests with a Kinesis content type, which is all that reach step 9) --


class MissingAuthenticationTokenException(KinesisError, PermissionError):
    """Neither an ``Authorization`` header nor ``X-Amz-Algorithm`` query parameter."""


class IncompleteSignatureException(KinesisError, PermissionError):
    """The ``Authorization`` header or presigned query parameters lack parts or are malformed."""


class InvalidSignatureException(KinesisError, PermissionError):
    """Signature mismatch, expired/not-yet-valid request time, or both auth forms at once."""


class UnrecognizedClientException(KinesisError, PermissionError):
    """Unknown access key id (or invalid session token)."""


class ExpiredTokenException(KinesisError, PermissionError):
    """The session token has expired (never raised: shardstream has no session tokens)."""


_STREAM_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


# -- helpers -------------------------------------------------------------------------


def _fmt(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _parse_amz_date(value: str) -> float | None:
    if not _AMZ_DATE_RE.match(value):
        return None
    try:
        return _dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.timezone.utc).timestamp()
    except ValueError:
        return None


def _parse_header_params(value: str) -> tuple[str, dict]:
    """kinesalite's split: on commas and spaces; the first token is the scheme."""
    tokens = [t for t in re.split(r"[,\s]+", value.strip()) if t]
    scheme = tokens[0] if tokens else ""
    params = {}
    for tok in tokens[1:]:
        key, sep, val = tok.partition("=")
        if sep:
            params.setdefault(key, val)
    return scheme, params


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query_string.split("&"):
        if not part:
            continue
        key, _, val = part.partition("=")
        pairs.append((unquote(key.replace("+", " ")), unquote(val.replace("+", " "))))
    return pairs


def _enc(s: str) -> str:
    return quote(s, safe="-_.~")


def _canonical_query(pairs, skip: str | None = None) -> str:
    enc = sorted((_enc(k), _enc(v)) for k, v in pairs if k != skip)
    return "&".join(f"{k}={v}" for k, v in enc)


def _canonical_uri(raw_path: str) -> str:
    path = raw_path.split("?", 1)[0] or "/"
    return quote(path, safe="/~")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signature(secret: str, date: str, region: str, service: str, string_to_sign: str) -> str:
    """hex(HMAC(kSigning, string_to_sign)) with the SigV4 key-derivation chain.

    Parameters
    ----------
    secret : str
        The secret access key.
    date : str
        ``YYYYMMDD`` of the credential scope.
    region, service : str
        Of the credential scope.
    string_to_sign : str

    Returns
    -------
    str
        64 lower-case hex digits.
    """
    k = _hmac(("AWS4" + secret).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    return hmac.new(k, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


def request_region(headers, query_string: str = "") -> str | None:
    """The region a SigV4 request is scoped to (from ``Authorization`` or ``X-Amz-Credential``), if any.

    Parameters
    ----------
    headers : Mapping
        The request headers.
    query_string : str
        The raw query string (presigned requests carry ``X-Amz-Credential`` there).

    Returns
    -------
    str or None
        None when there is no credential, or its region part does not look like a region.
    """
    credential = None
    header = headers.get("Authorization")
    if header:
        credential = _parse_header_params(header)[1].get("Credential")
    if credential is None and "X-Amz-Credential" in query_string:
        credential = dict(_query_pairs(query_string)).get("X-Amz-Credential")
    parts = credential.split("/") if credential else []
    return parts[2] if len(parts) == 5 and _REGION_RE.fullmatch(parts[2]) else None


_MAX_EXPIRES_S = 604800  # a week, SigV4's longest presigned lifetime
_INT_RE = re.compile(r"-?\d+")


def _presigned_lifetime(raw: str) -> int:
    """The seconds an ``X-Amz-Expires`` value grants (1 to 604800), or IncompleteSignatureException."""
    if not _INT_RE.fullmatch(raw):
        raise IncompleteSignatureException(f"X-Amz-Expires should be a number, not '{raw[:64]}'.")
    if raw.startswith("-"):
        raise IncompleteSignatureException("X-Amz-Expires must be non-negative.")
    digits = raw.lstrip("0")
    if len(digits) > len(str(_MAX_EXPIRES_S)) or int(digits or "0") > _MAX_EXPIRES_S:
        raise IncompleteSignatureException(
            f"X-Amz-Expires must be less than a week (in seconds) that is {_MAX_EXPIRES_S}."
        )
    if int(digits or "0") < 1:
        raise IncompleteSignatureException("X-Amz-Expires must be at least 1 (second).")
    return int(digits)


# -- the check -----------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who signed a request, as :meth:`Authenticator.authenticate` found.

    Attributes
    ----------
    access_key : str
        The access key id of the credential.
    region : str or None
        The region of the credential scope (``verify`` mode), else None.
    policy : KeyPolicy or None
        The key's entry in the key table (``verify`` mode: its principal and
        identity policy); None: not verified, and allowed anything.
    """

    access_key: str
    region: str | None = None
    policy: KeyPolicy | None = None

    @property
    def restricted(self) -> bool:
        """Whether the key's own permissions are limited (allow lists or a policy document), not all of Kinesis."""
        policy = self.policy
        return policy is not None and (
            policy.actions is not None or policy.streams is not None or policy.document is not None
        )

    @property
    def verified(self) -> bool:
        """Whether the key was verified against the key table (``verify`` mode): its requests are authorized."""
        return self.policy is not None


@dataclass(frozen=True)
class RequestContext:
    """What a request's conditions may look at besides who signed it.

    Attributes
    ----------
    source_ip : str or None
        The peer's address (``aws:SourceIp``).
    secure : bool or None
        Whether the request came over TLS (``aws:SecureTransport``).
    """

    source_ip: str | None = None
    secure: bool | None = None


@dataclass
class _Signed:
    access_key: str
    scope: list
    signed_headers: list
    signature: str
    amz_date: str  # the date string that goes into the string to sign
    timestamp: float | None
    presigned: bool
    expires: str | None = None  # X-Amz-Expires as given (presigned requests)


class Authenticator:
    """Checks requests: :meth:`authenticate` (who signed it), then :meth:`authorize` (may they do it).

    Parameters
    ----------
    mode : str
        ``"off"``, ``"presence"`` or ``"verify"``.
    config : AuthConfig, optional
        Required for ``verify``.
    region, account_id : str
        Our region (the credential scope must name it in ``verify`` mode) and the
        account named in AccessDenied messages.
    clock : callable
        Returns the current time in epoch seconds (tests may fake it).
    """

    def __init__(self, mode="presence", config=None, *, region="us-east-1", account_id="000000000000", clock=time.time):
        if mode not in ("off", "presence", "verify"):
            raise ValueError(f"unknown auth mode {mode!r}")
        if mode == "verify" and config is None:
            raise ValueError("verify mode needs an AuthConfig")
        self.mode = mode
        self.config = config
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self._policies: dict[str, Policy] = {}  # resource policy documents, parsed

    def __repr__(self) -> str:
        n = len(self.config.keys) if self.config else 0
        return f"<Authenticator {self.mode} keys={n}>"

    @property
    def verifies(self) -> bool:
        """Whether signatures are verified (``verify`` mode): the pipeline then authenticates before parsing."""
        return self.mode == "verify"

    # the pipeline's entry points
    def authenticate(
        self, method: str, raw_path: str, headers: Mapping, body: bytes, service: str = SERVICE
    ) -> Identity | None:
        """Who signed one request: the signature, credential scope and clock checks.

        Needs nothing parsed from the body.

        Parameters
        ----------
        method, raw_path : str
            The HTTP method and the path with its query string, as sent.
        headers : Mapping
            A case-insensitive multi-mapping (aiohttp's ``CIMultiDictProxy``).
        body : bytes
            The raw body (hashed into the signature).
        service : str
            The service the credential must be scoped to (``kinesis``; ``monitoring`` for CloudWatch).

        Returns
        -------
        Identity or None
            None in ``off`` mode; the key without a policy in ``presence`` mode.

        Raises
        ------
        KinesisError
            MissingAuthenticationToken, IncompleteSignature, InvalidSignature
            or UnrecognizedClient exceptions.
        """
        if self.mode == "off":
            return None
        if self.mode == "presence":
            signed, _algorithm = self._presence(raw_path, headers)
            return Identity(signed.access_key)
        return self._verify(method, raw_path, headers, body, service)

    def authorize(self, identity: Identity | None, operation: str, target, context: RequestContext | None = None):
        """Whether ``identity`` may perform ``operation`` on ``target``; AccessDeniedException if not.

        IAM's evaluation (:func:`.policy.evaluate`) of the key's identity
        policy and the resource policy in ``target``: an explicit Deny wins,
        then an Allow from either, else an implicit deny.

        Parameters
        ----------
        identity : Identity or None
            From :meth:`authenticate`; one not verified against the key table
            (``presence`` mode) is allowed everything.
        operation : str
        target : resources.Target
            The stream the request acts on (:func:`.resources.resolve`).  A
            request that names no stream is checked on resource ``*``; one
            whose resource member names no stream (``target.unresolved``)
            matches only a policy allowing every resource.
        context : RequestContext, optional
            The source address and transport, for ``aws:SourceIp`` and
            ``aws:SecureTransport`` conditions (absent keys when not given).

        Raises
        ------
        AccessDeniedException
            With AWS's text: ``User: <principal> is not authorized to perform: kinesis:<Op> on resource:
            <arn> because no identity-based policy allows the kinesis:<Op> action`` (or ``with an
            explicit deny in a resource-based policy``, ...).
        """
        if identity is None or identity.policy is None:
            return
        region = identity.region or self.region
        principal = self.principal_of(identity)
        action = f"kinesis:{operation}"
        request = Request(principal, action, self._resource(target, region), self._context(principal, region, context))
        decision = evaluate(request, (identity.policy.identity,), self._attached(target.policy), self.account_id)
        if not decision.allowed:
            arn = target.resource_arn(region, self.account_id)
            raise AccessDeniedException(denial_message(decision.reason, principal, action, arn))

    def principal_of(self, identity: Identity) -> str:
        """The principal ARN ``identity`` acts as: its key's ``arn``, else ``arn:aws:iam::<account>:user/<key id>``.

        Parameters
        ----------
        identity : Identity

        Returns
        -------
        str
        """
        if identity.policy is not None and identity.policy.arn is not None:
            return identity.policy.arn
        return f"arn:aws:iam::{self.account_id}:user/{identity.access_key}"

    def _resource(self, target, region: str) -> str:
        """The ARN policies match for ``target``: ours (region, account) whatever the request wrote."""
        if target.stream is None:
            return "" if target.unresolved else "*"  # "": only a policy allowing every resource matches
        consumer = target.consumer_arn
        if consumer is not None:
            return f"arn:aws:kinesis:{region}:{self.account_id}:{consumer[consumer.index(':stream/') + 1 :]}"
        if not _STREAM_NAME_RE.fullmatch(target.stream):
            return ""  # no stream has such a name: the action refuses it
        return f"arn:aws:kinesis:{region}:{self.account_id}:stream/{target.stream}"

    @staticmethod
    def _context(principal: str, region: str, context: RequestContext | None) -> dict:
        keys = {"aws:PrincipalArn": principal, "aws:PrincipalAccount": principal.split(":")[4]}
        keys["aws:RequestedRegion"] = region
        if context is not None:
            if context.source_ip is not None:
                keys["aws:SourceIp"] = context.source_ip
            if context.secure is not None:
                keys["aws:SecureTransport"] = bool(context.secure)
        return keys

    def _attached(self, document: str | None) -> Policy | None:
        """The parsed resource policy of a stored document (remembered); None for none or one that does not parse."""
        if document is None:
            return None
        parsed = self._policies.get(document)
        if parsed is None:
            try:
                parsed = parse_policy(document, kind="resource")
            except PolicyError:  # stored before documents were checked: it grants and denies nothing
                parsed = Policy()
            if len(self._policies) >= _PARSED_POLICIES:
                self._policies.clear()
            self._policies[document] = parsed
        return parsed

    # -- presence / format (kl's checks and texts, spec 12.3/12.4) --

    def _presence(self, raw_path: str, headers: Mapping):
        query = raw_path.split("?", 1)[1] if "?" in raw_path else ""
        qparams = dict(_query_pairs(query))
        auth = headers.get("Authorization")
        if auth is not None and "X-Amz-Algorithm" in qparams:
            raise InvalidSignatureException(
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
            )
        if auth is None and "X-Amz-Algorithm" not in qparams:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        if auth is not None:
            scheme, hp = _parse_header_params(auth)
            msg = ""
            for part in ("Credential", "Signature", "SignedHeaders"):
                if part not in hp:
                    msg += f"Authorization header requires '{part}' parameter. "
            if "X-Amz-Date" not in headers and "Date" not in headers:
                msg += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            if msg:
                raise IncompleteSignatureException(msg + f"Authorization={auth}")
            return _Signed(
                access_key=hp["Credential"].split("/", 1)[0],
                scope=hp["Credential"].split("/"),
                signed_headers=[h for h in hp["SignedHeaders"].lower().split(";") if h],
                signature=hp["Signature"],
                amz_date=headers.get("X-Amz-Date") or headers.get("Date") or "",
                timestamp=None,
                presigned=False,
            ), scheme
        # a parameter present but empty counts as missing (kl tests truthiness)
        msg = "".join(f"AWS query-string parameters must include '{p}'. " for p in _QUERY_PARAMS if not qparams.get(p))
        if msg:
            raise IncompleteSignatureException(msg + "Re-examine the query-string parameters.")
        return _Signed(
            access_key=qparams["X-Amz-Credential"].split("/", 1)[0],
            scope=qparams["X-Amz-Credential"].split("/"),
            signed_headers=[h for h in qparams["X-Amz-SignedHeaders"].lower().split(";") if h],
            signature=qparams["X-Amz-Signature"],
            amz_date=qparams["X-Amz-Date"],
            timestamp=None,
            presigned=True,
            expires=qparams.get("X-Amz-Expires"),
        ), qparams["X-Amz-Algorithm"]

    # -- full verification (spec 12.2) --

    def _verify(self, method, raw_path, headers, body, expected_service: str = SERVICE) -> Identity:
        signed, algorithm = self._presence(raw_path, headers)
        if algorithm != ALGORITHM:
            raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{algorithm}'.")
        credential = "/".join(signed.scope)
        if len(signed.scope) != 5:
            raise IncompleteSignatureException(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
                f"got '{credential}'"
            )
        akid, scope_date, region, service, term = signed.scope
        policy = self.config.keys.get(akid)
        if policy is None:
            raise UnrecognizedClientException("The security token included in the request is invalid.")

        # the request time: X-Amz-Date (or the query's), else an RFC 1123 Date header
        date_source = "x-amz-date"
        if not signed.presigned and "X-Amz-Date" not in headers:
            date_source = "date"
            try:
                ts = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
            except (TypeError, ValueError, IndexError):
                raise IncompleteSignatureException(
                    f"Date must be in ISO-8601 'basic format'. Got '{headers['Date']}'. "
                    "See http://en.wikipedia.org/wiki/ISO_8601"
                ) from None
            signed.amz_date = _fmt(ts)
        else:
            ts = _parse_amz_date(signed.amz_date)
            if ts is None:
                raise IncompleteSignatureException(
                    f"Date must be in ISO-8601 'basic format'. Got '{signed.amz_date}'. "
                    "See http://en.wikipedia.org/wiki/ISO_8601"
                )
        if term != "aws4_request":
            raise InvalidSignatureException(
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{term}'. "
            )
        if service != expected_service:
            raise InvalidSignatureException(f"Credential should be scoped to correct service: '{expected_service}'. ")
        if _REGION_RE.fullmatch(region) is None:  # any region: each has its own engine
            raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{region}'. ")
        if scope_date != signed.amz_date[:8]:
            raise InvalidSignatureException(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope_date}' != '{signed.amz_date[:8]}', from '{date_source}'."
            )

        now = self.clock()
        skew = self.config.clock_skew_s
        span = f"{skew / 60:g} min." if skew % 60 == 0 else f"{skew:g} s."
        if signed.presigned and signed.expires is not None:
            lifetime = _presigned_lifetime(signed.expires)
            if now > ts + lifetime:
                raise InvalidSignatureException(
                    f"Signature expired: {_fmt(ts + lifetime)} is now earlier than {_fmt(now)}."
                )
        elif ts < now - skew:
            raise InvalidSignatureException(
                f"Signature expired: {signed.amz_date} is now earlier than {_fmt(now - skew)} ({_fmt(now)} - {span})"
            )
        if ts > now + skew:
            raise InvalidSignatureException(
                f"Signature not yet current: {signed.amz_date} is still later than {_fmt(now + skew)} "
                f"({_fmt(now)} + {span})"
            )

        names = signed.signed_headers
        if "host" not in names:
            raise InvalidSignatureException("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        if date_source == "x-amz-date" and not signed.presigned and "x-amz-date" not in names:
            raise InvalidSignatureException("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
        canon_headers = []
        for name in sorted(set(names)):
            values = headers.getall(name, None) if hasattr(headers, "getall") else None
            if values is None:
                value = headers.get(name)
                values = None if value is None else [value]
            if values is None:
                raise InvalidSignatureException(_MISMATCH)
            joined = ",".join(" ".join(v.split()) for v in values)
            canon_headers.append(f"{name}:{joined}\n")

        query = raw_path.split("?", 1)[1] if "?" in raw_path else ""
        canon_query = _canonical_query(_query_pairs(query), skip="X-Amz-Signature" if signed.presigned else None)
        body_hash = hashlib.sha256(body).hexdigest()
        declared = headers.get("X-Amz-Content-Sha256")
        if declared is not None and declared not in (_UNSIGNED_PAYLOAD, body_hash):
            raise InvalidSignatureException(_MISMATCH)
        candidates = [declared or body_hash]
        if signed.presigned and declared is None:
            candidates.append(_UNSIGNED_PAYLOAD)
        scope = f"{scope_date}/{region}/{service}/{term}"
        ok = False
        for payload_hash in candidates:
            canonical = "\n".join(
                [
                    method.upper(),
                    _canonical_uri(raw_path),
                    canon_query,
                    "".join(canon_headers),
                    ";".join(names),
                    payload_hash,
                ]
            )
            sts = "\n".join([ALGORITHM, signed.amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
            expected = signature(policy.secret, scope_date, region, service, sts)
            # the whole hex digest, as bytes (a str with non-ASCII characters would make compare_digest raise)
            ok = hmac.compare_digest(expected.encode("ascii"), signed.signature.lower().encode("utf-8")) or ok
        if not ok:
            raise InvalidSignatureException(_MISMATCH)
        return Identity(akid, region, policy)


def make_authenticator(auth, *, region: str, account_id: str) -> Authenticator:
    """Build the :class:`Authenticator` for ``make_app(..., auth=...)``.

    Parameters
    ----------
    auth : None, str, path-like, Mapping, AuthConfig or Authenticator
        None or ``"presence"`` (the default: kinesalite's checks), ``"off"``, an
        :class:`AuthConfig`, a dict in the JSON form, a path to a JSON file
        (these three: verify mode), or an :class:`Authenticator` (used as it is).
    region, account_id : str
        As :class:`Authenticator` takes them (our region; the account named in
        AccessDenied messages).

    Returns
    -------
    Authenticator

    Raises
    ------
    TypeError
        ``auth`` of another type.
    ValueError, OSError
        A bad key table (:meth:`AuthConfig.from_dict`, :meth:`AuthConfig.load`).
    """
    if isinstance(auth, Authenticator):
        return auth
    if auth is None or auth == "presence":
        return Authenticator("presence", region=region, account_id=account_id)
    if auth == "off":
        return Authenticator("off", region=region, account_id=account_id)
    if isinstance(auth, AuthConfig):
        config = auth
    elif isinstance(auth, Mapping):
        config = AuthConfig.from_dict(auth)
    elif isinstance(auth, (str, os.PathLike)):
        config = AuthConfig.load(auth)
    else:
        raise TypeError(f"auth must be None, 'off', 'presence', an AuthConfig, a dict or a path, not {auth!r}")
    return Authenticator("verify", config, region=region, account_id=account_id)
