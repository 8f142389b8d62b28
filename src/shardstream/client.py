"""``shardstream.connect``: the same Engine and Stream API embedded, on a server, or on AWS.

======================================  ==============================================================
URL                                     gives
======================================  ==============================================================
``memory://``                           a new embedded :class:`~shardstream.Engine` (in memory)
``file:///path/to/dir``                 an embedded durable engine on that data directory
                                        (``Engine(data_dir=...)``; ``file://rel/dir`` is relative)
``http(s)://host:port``                 a :class:`RemoteEngine` on a ``shardstream serve`` server or
                                        any Kinesis-compatible endpoint (kinesalite, LocalStack, moto)
``http://a:4567,http://b:4567``         one :class:`RemoteEngine` over several endpoints: a call that
                                        gets no answer (or a standby's refusal) moves on to the next
                                        one (:mod:`shardstream.endpoints`)
``aws://eu-west-1``                     a :class:`RemoteEngine` on Amazon Kinesis in that region
``aws://``                              ... in the configured region (``AWS_DEFAULT_REGION``, profile),
                                        at the configured endpoint (``AWS_ENDPOINT_URL_KINESIS``)
======================================  ==============================================================

Remote engines talk through a botocore ``kinesis`` client
(:func:`botocore_client`): botocore's credential chain (environment, profiles,
SSO, session tokens, container and instance roles), its pooled keep-alive
connections and its retry modes.  They return the same shapes and raise the
same exceptions as the embedded engine; every
:class:`~shardstream.errors.KinesisError` also has a botocore-style
``response`` (``e.response["Error"]["Code"]``), and a call that got no answer
raises :class:`~shardstream.errors.RemoteConnectionError` (a ``ConnectionError``).

The parts: :mod:`shardstream.aws` (the botocore client), :mod:`shardstream.remote_engine`
and :mod:`shardstream.remote_stream`.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from .aws import botocore_client
from .engine import Engine
from .remote_engine import RemoteEngine
from .remote_stream import RemoteStream

__all__ = ["RemoteEngine", "RemoteStream", "botocore_client", "connect"]

_REMOTE_ONLY = ("retries", "retry_mode")


def connect(url: str = "memory://", **kwargs):
    """An engine behind ``url``: embedded (``memory://``, ``file:///dir``) or remote (``http(s)://``, ``aws://``).

    Parameters
    ----------
    url : str
        ``memory://``, ``file:///path/to/dir``, ``http(s)://host:port`` (or
        several, separated by commas), ``aws://<region>`` or ``aws://`` (see
        the module documentation).
    **kwargs
        For an embedded engine, passed to :class:`Engine` (``retries`` and
        ``retry_mode`` are accepted and unused: nothing to retry in-process);
        for a remote one, the keyword arguments of :class:`RemoteEngine`
        (``region``, ``retries``, ``retry_mode``, ``profile``, the keys,
        ``session_token``, ``timeout``, ``verify``, ...).

    Returns
    -------
    Engine or RemoteEngine

    Raises
    ------
    ValueError
        An unsupported URL.

    Examples
    --------
    >>> import shardstream
    >>> engine = shardstream.connect("memory://")
    >>> engine.create_stream("s", 1).put_record(b"x", "k")["ShardId"]
    'shardId-000000000000'

    The same code on a server, and on AWS (credentials from the usual places):

    >>> engine = shardstream.connect("http://127.0.0.1:4567", retries=5)  # doctest: +SKIP
    >>> engine = shardstream.connect("aws://eu-west-1", profile="prod")  # doctest: +SKIP
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("memory", "file"):
        embedded = {k: v for k, v in kwargs.items() if k not in _REMOTE_ONLY}
        if scheme == "memory":
            return Engine(**embedded)
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ValueError(f"file:// URL without a directory: {url!r} (use file:///path/to/dir)")
        return Engine(data_dir=path, **embedded)
    if scheme in ("http", "https"):
        return RemoteEngine(url, **kwargs)
    if scheme == "aws":
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError(f"unsupported URL {url!r}: aws://<region> takes no path or query")
        if parts.netloc and "region" in kwargs:
            raise ValueError(f"the region is given twice: {url!r} and region={kwargs['region']!r}")
        return RemoteEngine(None, **{"region": parts.netloc or None, **kwargs})
    raise ValueError(
        f"unsupported URL {url!r}: use memory://, file:///path/to/dir, http(s)://host:port or aws://<region>"
    )
