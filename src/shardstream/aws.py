"""botocore clients for Kinesis-compatible endpoints and for AWS itself.

:func:`botocore_client` makes the low-level client every remote part of
shardstream talks through (``RemoteEngine``, the DynamoDB lease store, ...):
botocore's credential chain, region and endpoint resolution, connection pool
and retry modes, plus the few things a non-AWS endpoint needs:

- **Dummy keys** when the chain finds no credentials at all and the endpoint
  is not an AWS host (``*.amazonaws.com``, ``*.amazonaws.com.cn``,
  ``*.api.aws``): local emulators and a default ``shardstream serve`` accept
  any well-formed signature.
- **No instance-metadata look-up** for such an endpoint: an EC2 instance role
  belongs to AWS, and asking for it off EC2 costs a network time-out.
- **A pinned endpoint**: botocore's endpoint rules send requests that carry a
  ``StreamARN``/``StreamId`` (or a consumer ARN) to an AWS host even when
  ``endpoint_url`` is set; :func:`pin_endpoint` puts them back on it.
- Timestamps parsed to ``datetime`` in UTC (``datetime.timezone.utc``), as the
  embedded engine returns them, instead of botocore's local time zone.

Needs the ``aws`` extra (botocore); boto3 is not required.
"""

from __future__ import annotations

import binascii
import datetime as _dt
from urllib.parse import urlsplit, urlunsplit

__all__ = ["AWS_HOST_SUFFIXES", "DUMMY_KEYS", "botocore_client", "is_aws_endpoint", "pin_endpoint", "utc_timestamp"]

#: Host suffixes of AWS's own endpoints: no dummy keys, no pinning there.
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")

#: The keys sent to a non-AWS endpoint when no credentials are configured.
DUMMY_KEYS = ("AKIDSHARDSTREAM", "shardstream")

_PROBE_REGION = "us-east-1"
_LOADER: list = []  # one botocore data loader for every session made here: service models are read once


def _shared_loader():
    """The data loader the sessions made here share (botocore caches what a loader reads)."""
    if not _LOADER:
        from botocore.loaders import create_loader

        _LOADER.append(create_loader())
    return _LOADER[0]


def is_aws_endpoint(url: str) -> bool:
    """Whether ``url``'s host is one of AWS's own (see :data:`AWS_HOST_SUFFIXES`).

    Parameters
    ----------
    url : str
        An endpoint URL such as ``https://kinesis.eu-west-1.amazonaws.com``.

    Returns
    -------
    bool
    """
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host.endswith(AWS_HOST_SUFFIXES)


def pin_endpoint(url: str):
    """A botocore ``before-send`` hook that sends every request to ``url``'s scheme and host.

    Parameters
    ----------
    url : str
        The endpoint the requests must reach.

    Returns
    -------
    callable
        The hook: register it with ``client.meta.events.register("before-send", hook)``.
    """
    target = urlsplit(url)

    def pin(request, **_):
        parts = urlsplit(request.url)
        if (parts.scheme, parts.netloc) != (target.scheme, target.netloc):
            request.url = urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))

    return pin


def utc_timestamp(value) -> _dt.datetime:
    """Parse a wire timestamp (epoch seconds, or an ISO 8601 / RFC 822 string) to an aware UTC datetime.

    Parameters
    ----------
    value : int, float or str

    Returns
    -------
    datetime.datetime
        With ``tzinfo=datetime.timezone.utc``.
    """
    if isinstance(value, (int, float)):
        return _dt.datetime.fromtimestamp(value, _dt.timezone.utc)
    from botocore.utils import parse_timestamp

    return parse_timestamp(value).astimezone(_dt.timezone.utc)


def botocore_client(
    service: str,
    url: str | None = None,
    region: str | None = None,
    *,
    retries: int | None = None,
    retry_mode: str = "standard",
    profile: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    verify: bool | str | None = None,
    timeout: float | None = None,
    max_pool_connections: int | None = None,
    config=None,
    session=None,
):
    """A botocore client for ``service`` at ``url`` (or wherever botocore's configuration points).

    Parameters
    ----------
    service : str
        ``"kinesis"``, ``"dynamodb"``, ...
    url : str, optional
        The endpoint (``http://127.0.0.1:4567``).  None: botocore's own
        resolution, so ``AWS_ENDPOINT_URL_KINESIS``, ``AWS_ENDPOINT_URL`` and a
        profile's ``endpoint_url`` work, else the AWS endpoint of the region.
    region : str, optional
        Default: the configured region (``AWS_DEFAULT_REGION``, the profile's);
        for a non-AWS endpoint with none configured, ``us-east-1``.
    retries : int, optional
        How many times botocore retries a failed call (throttling, 5xx,
        connection errors), after the first attempt.  None: botocore's
        configured ``max_attempts`` (``AWS_MAX_ATTEMPTS``), else its default.
    retry_mode : {"standard", "adaptive", "legacy"}
        botocore's retry mode (``adaptive`` also rate-limits the client).
    profile : str, optional
        A profile of the shared config/credentials files (default: ``AWS_PROFILE``).
    access_key_id, secret_access_key, session_token : str, optional
        Explicit credentials; default: botocore's chain (environment,
        profiles, SSO, assume-role, container and instance roles).
    verify : bool or str, optional
        https only: None/True check the certificate against botocore's CA
        bundle, a path against that bundle, False skips the check.
    timeout : float, optional
        Seconds for connecting and for each read (default botocore's 60).
    max_pool_connections : int, optional
        Connections kept per client (default botocore's 10).
    config : botocore.config.Config, optional
        Further botocore settings (``parameter_validation``, ``proxies``, ...);
        what it sets wins over the settings above.
    session : botocore.session.Session, optional
        The session to create the client from (default: a new one for ``profile``).

    Returns
    -------
    botocore.client.BaseClient

    Raises
    ------
    ImportError
        botocore is not installed (the ``aws`` extra).
    ValueError
        No region is given or configured for an AWS endpoint.
    botocore.exceptions.ProfileNotFound
        ``profile`` is not in the config files.

    Examples
    --------
    >>> from shardstream.aws import botocore_client
    >>> kinesis = botocore_client("kinesis", "http://127.0.0.1:4567", retries=5)
    >>> kinesis.meta.endpoint_url
    'http://127.0.0.1:4567'
    """
    try:
        import botocore.session
    except ImportError as exc:  # the core install stays lean
        raise ImportError(
            f"a {service} client needs botocore: pip install 'shardstream[aws]' "
            "(connect('http(s)://...') and connect('aws://...') are built on it)"
        ) from exc
    from botocore import UNSIGNED
    from botocore.config import Config

    own_session = session is None
    if own_session:
        session = botocore.session.Session(profile=profile)
        session.register_component("data_loader", _shared_loader())
        # botocore's own timestamps are local-time datetimes; the engine's are UTC
        # and a2b_base64 decodes blobs (GetRecords' Data) as b64decode does, with one call less per record
        session.get_component("response_parser_factory").set_parser_defaults(
            timestamp_parser=utc_timestamp, blob_parser=binascii.a2b_base64
        )
    region = region or session.get_config_variable("region")
    endpoint = url
    if endpoint is None:  # where botocore's configuration sends this service (no credentials needed to know)
        probe = session.create_client(
            service, region_name=region or _PROBE_REGION, config=Config(signature_version=UNSIGNED)
        )
        endpoint = probe.meta.endpoint_url
        probe.close()
    local = not is_aws_endpoint(endpoint)
    if region is None:
        if not local:
            raise ValueError(
                f"no AWS region for {service}: give one (connect('aws://eu-west-1'), region=...) "
                "or configure AWS_DEFAULT_REGION or a profile's region"
            )
        region = _PROBE_REGION
    settings: dict = {"retries": {"mode": retry_mode}}
    if retries is not None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, not {retries}")
        settings["retries"]["total_max_attempts"] = retries + 1
    if timeout is not None:
        settings["connect_timeout"] = settings["read_timeout"] = timeout
    if max_pool_connections is not None:
        settings["max_pool_connections"] = max_pool_connections
    merged = Config(**settings) if config is None else Config(**settings).merge(config)
    keys: dict = {}
    if access_key_id is not None or secret_access_key is not None:
        keys = {
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "aws_session_token": session_token,
        }
    elif local:
        if own_session:  # an instance role is AWS's: don't ask the metadata service for a local endpoint
            session.get_component("credential_provider").remove("iam-role")
        if session.get_credentials() is None:
            keys = {"aws_access_key_id": DUMMY_KEYS[0], "aws_secret_access_key": DUMMY_KEYS[1]}
    client = session.create_client(service, region_name=region, endpoint_url=url, verify=verify, config=merged, **keys)
    if local:
        client.meta.events.register("before-send", pin_endpoint(client.meta.endpoint_url))
    return client
