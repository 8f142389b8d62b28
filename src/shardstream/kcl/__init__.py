"""The KCL MultiLangDaemon protocol: record processors in any language, on shardstream's leases.

Amazon's Kinesis Client Library ships a Java *MultiLangDaemon* that runs a
KCL worker and hands every shard it leases to a child process, speaking a
line-delimited JSON protocol over the child's stdin and stdout.  Processors
written for it (for instance with the ``amazon_kclpy`` package) run here
unmodified: :class:`MultiLangProcessor` is a
:class:`~shardstream.consumer.RecordProcessor` that plays the daemon's part
for one shard, and ``shardstream kcl --properties app.properties``
(:mod:`shardstream.kcl_cli`) runs a :class:`~shardstream.consumer.Consumer`
with it, configured from the same ``.properties`` file (:class:`KclConfig`).

The package's job is to gather its modules' public names; each module has
one job, and each depends only on those above it:

:mod:`~shardstream.kcl.properties`
    The Java ``.properties`` parser (:func:`parse_properties`).
:mod:`~shardstream.kcl.config`
    The daemon's configuration (:class:`KclConfig`, :func:`split_command`,
    :data:`DEFAULT_ENDPOINT`).
:mod:`~shardstream.kcl.protocol`
    The protocol's messages, and the description of the conversation
    (:func:`record_message`, :func:`checkpoint_error_name`).
:mod:`~shardstream.kcl.processor`
    The per-shard daemon that holds the conversation with a child
    (:class:`MultiLangProcessor`, :class:`MultiLangError`, :func:`close_all`).
"""

from __future__ import annotations

from .config import DEFAULT_ENDPOINT, KclConfig, split_command
from .processor import MultiLangError, MultiLangProcessor, close_all
from .properties import parse_properties
from .protocol import checkpoint_error_name, record_message

__all__ = [
    "DEFAULT_ENDPOINT",
    "KclConfig",
    "MultiLangError",
    "MultiLangProcessor",
    "checkpoint_error_name",
    "close_all",
    "parse_properties",
    "record_message",
    "split_command",
]
