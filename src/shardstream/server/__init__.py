"""A Kinesis-compatible HTTP API over a shardstream :class:`~shardstream.Engine`.

``make_app(engine)`` builds the aiohttp application; ``shardstream serve`` runs
it from the command line and :mod:`shardstream.testing` runs it in a background
thread for tests.  Needs the ``server`` extra (aiohttp, orjson, cbor2).
"""

from __future__ import annotations

__all__ = ["make_app"]


def make_app(engine, **kwargs):
    """Build the aiohttp application serving ``engine``; ``kwargs`` go to :func:`shardstream.server.app.make_app`."""
    from .app import make_app as _make_app

    return _make_app(engine, **kwargs)
