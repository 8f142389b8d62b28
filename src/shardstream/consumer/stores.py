"""Which lease table a Consumer's ``leases`` argument names.

- None: a new table in this process's memory (:class:`~.leases.MemoryLeaseStore`);
- a path: an SQLite file shared by processes on one machine (:class:`~.leases.SQLiteLeaseStore`;
  one file holds the tables of many groups);
- ``"dynamodb://<table>"``: a DynamoDB table in the KCL's schema, shared by workers on any machine
  (:class:`~.dynamodb.DynamoDBLeaseStore`); one table is one group's, as in the KCL;
- ``"dynamodb://"``: the DynamoDB table named after the group (the KCL's default table name);
- a :class:`~.leases.LeaseStore`: itself.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from .dynamodb import DynamoDBLeaseStore
from .leases import LeaseStore, MemoryLeaseStore, SQLiteLeaseStore

__all__ = ["open_lease_store"]


def open_lease_store(leases, group: str) -> LeaseStore:
    """A :class:`~.leases.LeaseStore` from a Consumer's ``leases`` argument.

    Parameters
    ----------
    leases : None, path-like, str or LeaseStore
        None: a new in-memory table; a path: an SQLite file; ``"dynamodb://<table>"``: that
        DynamoDB table (``"dynamodb://"``: the table named ``group``), with region, endpoint
        (``AWS_ENDPOINT_URL_DYNAMODB``) and credentials from botocore's usual configuration;
        a store: itself.
    group : str
        The consumer group (an SQLite file holds the tables of several groups; a DynamoDB
        table is one group's).

    Returns
    -------
    LeaseStore

    Raises
    ------
    ValueError
        An URL of another scheme, a DynamoDB URL with a path or query, or an invalid table name.

    Examples
    --------
    >>> open_lease_store(None, "billing")  # doctest: +ELLIPSIS
    <shardstream.consumer.leases.MemoryLeaseStore object at ...>
    >>> open_lease_store("dynamodb://billing-leases", "billing")  # doctest: +SKIP
    DynamoDBLeaseStore('billing-leases')
    """
    if leases is None:
        return MemoryLeaseStore()
    if isinstance(leases, LeaseStore):
        return leases
    if isinstance(leases, str) and "://" in leases:
        url = urlsplit(leases)
        if url.scheme != "dynamodb":
            raise ValueError(f"unknown lease store {leases!r}: give a path (SQLite) or 'dynamodb://<table>'")
        if url.path not in ("", "/") or url.query or url.fragment:
            raise ValueError(f"a DynamoDB lease store is 'dynamodb://<table>', not {leases!r}")
        return DynamoDBLeaseStore(url.netloc or group)
    return SQLiteLeaseStore(os.fspath(leases), group)
