"""A consumer group's lease table in DynamoDB, in the Kinesis Client Library's own schema.

One item per shard, hash key ``leaseKey`` (S), with the KCL's attribute names
and types (``leaseOwner`` S, ``leaseCounter`` N, ``checkpoint`` S,
``checkpointSubSequenceNumber`` N, ``ownerSwitchesSinceCheckpoint`` N,
``parentShardId`` SS, ``childShardIds`` SS, ``startingHashKey`` /
``endingHashKey`` S), so a table the KCL wrote can be read here and the other
way round.  Attributes this store does not know (``pendingCheckpoint``,
``throughputKBps``, ...) are left as they are, except that a checkpoint clears
the pending-checkpoint ones, as the KCL's does.

Every write that could race another worker is a conditional ``UpdateItem``
(the condition is checked and the item changed atomically by DynamoDB), with
the semantics of :class:`~.leases.SQLiteLeaseStore`:

==============  =========================================  ====================================
write           condition                                  change
==============  =========================================  ====================================
create          no item with this ``leaseKey``             the whole item
take            ``leaseCounter`` = the counter the taker   ``leaseOwner`` = taker, counter + 1,
                saw                                        owner switches + 1 if the owner changes
renew           ``leaseOwner`` = the worker                counter + 1
release         ``leaseOwner`` = the worker                ``leaseOwner`` removed, counter + 1
checkpoint      ``leaseOwner`` = the worker                checkpoint, sub-sequence, owner switches
                                                           = 0, counter + 1, pending fields removed
==============  =========================================  ====================================

A failed condition (``ConditionalCheckFailedException``) is the "lost" answer
(None or False), never an exception.  The KCL's renewals and checkpoints also
expect the worker's last counter; here, as in the SQLite store, they expect
the owner alone, so that a worker's checkpoint never makes its own renewal
look lost: a lease is lost exactly when another worker took it (which changes
the owner), and a KCL worker taking one of our leases still sees the counter
move with every renewal.

The DynamoDB client is botocore's (the ``aws`` extra), made by
:func:`shardstream.aws.botocore_client`: region, endpoint
(``AWS_ENDPOINT_URL_DYNAMODB``), credentials and retries come from its usual
configuration.
"""

from __future__ import annotations

import re
import threading
import time

from ..aws import botocore_client
from ..errors import ResourceNotFoundException
from .leases import Lease, LeaseStore

__all__ = ["DynamoDBLeaseStore", "lease_from_item", "lease_to_item"]

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
# +1 on the counter; a KCL item without one counts from 0 (as the KCL reads it)
_BUMP = "leaseCounter = if_not_exists(leaseCounter, :zero) + :one"
_PENDING = ("pendingCheckpoint", "pendingCheckpointSubSequenceNumber", "pendingCheckpointState")


def lease_to_item(lease: Lease) -> dict:
    """The DynamoDB item (attribute-value map) the KCL would write for ``lease``.

    Parameters
    ----------
    lease : Lease

    Returns
    -------
    dict
        Empty sets and strings and an absent owner are left out, as the KCL leaves them out.
    """
    item = {
        "leaseKey": {"S": lease.lease_key},
        "leaseCounter": {"N": str(int(lease.counter))},
        "checkpoint": {"S": lease.checkpoint},
        "checkpointSubSequenceNumber": {"N": str(int(lease.checkpoint_sub_sequence_number))},
        "ownerSwitchesSinceCheckpoint": {"N": str(int(lease.owner_switches_since_checkpoint))},
    }
    if lease.owner is not None:
        item["leaseOwner"] = {"S": lease.owner}
    if lease.parent_shard_ids:
        item["parentShardId"] = {"SS": sorted(lease.parent_shard_ids)}
    if lease.child_shard_ids:
        item["childShardIds"] = {"SS": sorted(lease.child_shard_ids)}
    if lease.starting_hash_key:
        item["startingHashKey"] = {"S": lease.starting_hash_key}
    if lease.ending_hash_key:
        item["endingHashKey"] = {"S": lease.ending_hash_key}
    return item


def lease_from_item(item: dict) -> Lease:
    """A :class:`~.leases.Lease` from a lease-table item (ours or the KCL's).

    Parameters
    ----------
    item : dict
        An attribute-value map with at least ``leaseKey``.

    Returns
    -------
    Lease
        Missing attributes take the defaults the KCL reads them as; sets come back sorted.
    """

    def number(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    def strings(name: str) -> tuple:
        return tuple(sorted(item[name]["SS"])) if name in item else ()

    return Lease(
        item["leaseKey"]["S"],
        owner=item["leaseOwner"]["S"] if "leaseOwner" in item else None,
        counter=number("leaseCounter"),
        checkpoint=item["checkpoint"]["S"] if "checkpoint" in item else "TRIM_HORIZON",
        checkpoint_sub_sequence_number=number("checkpointSubSequenceNumber"),
        owner_switches_since_checkpoint=number("ownerSwitchesSinceCheckpoint"),
        parent_shard_ids=strings("parentShardId"),
        child_shard_ids=strings("childShardIds"),
        starting_hash_key=item.get("startingHashKey", {}).get("S", ""),
        ending_hash_key=item.get("endingHashKey", {}).get("S", ""),
    )


class DynamoDBLeaseStore(LeaseStore):
    """A consumer group's lease table in DynamoDB (the KCL's table), shared by workers on any machine.

    One table is one group, as in the KCL, whose table is named after the
    application by default: ``Consumer(..., leases="dynamodb://")`` uses the
    group's name, ``leases="dynamodb://<table>"`` that table.

    Parameters
    ----------
    table : str
        The table name (3 to 255 letters, digits, ``_``, ``-`` and ``.``).
    client : botocore dynamodb client, optional
        Default: a new one from :func:`shardstream.aws.botocore_client` (closed by :meth:`close`).
    region, endpoint_url : str, optional
        For the default client (default: botocore's configuration: ``AWS_REGION`` /
        ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL_DYNAMODB``, the profile).
    **client_options
        More :func:`shardstream.aws.botocore_client` settings for the default client
        (``retries``, ``profile``, ``timeout``, ...).
    create : bool
        Create the table (on demand capacity) on first use if it does not exist,
        and wait until it is ACTIVE.  A concurrent creator is fine.
    wait_timeout : float
        Longest wait, in seconds, for a new table to become ACTIVE.

    Raises
    ------
    ValueError
        ``table`` is not a valid DynamoDB table name, or no region is configured for AWS.
    TypeError
        ``client_options`` beside a given ``client``.
    ImportError
        botocore (the ``aws`` extra) is missing and no ``client`` is given.

    Examples
    --------
    >>> store = DynamoDBLeaseStore("billing", region="us-east-1")  # doctest: +SKIP
    >>> consumer = shardstream.Consumer(stream, "billing", Processor, leases=store)  # doctest: +SKIP
    """

    def __init__(
        self,
        table: str,
        *,
        client=None,
        region: str | None = None,
        endpoint_url: str | None = None,
        create: bool = True,
        wait_timeout: float = 300.0,
        **client_options,
    ):
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(
                f"invalid DynamoDB table name {table!r}: 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'"
            )
        self.table = table
        self.create = bool(create)
        self.wait_timeout = float(wait_timeout)
        self._own_client = client is None
        if client is None:
            client = botocore_client("dynamodb", endpoint_url, region, **client_options)
        elif client_options:
            raise TypeError(f"client options {sorted(client_options)} are for the default client, not a given one")
        self.client = client
        self._ready = False
        self._ready_lock = threading.Lock()

    # -- the table -----------------------------------------------------------------------

    def ensure_table(self) -> None:
        """Make sure the table exists and is ACTIVE (creating it if allowed); done once per store.

        Raises
        ------
        ResourceNotFoundException
            The table does not exist and ``create`` is False, or it did not become ACTIVE in time.
        ValueError
            The table exists but its key is not the KCL's (hash key ``leaseKey``, a string).
        """
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            description = self._describe()
            if description is None:
                if not self.create:
                    raise ResourceNotFoundException(f"Requested resource not found: Table: {self.table} not found")
                self._create()
            description = self._wait_active()
            self._check_key(description)
            self._ready = True

    def _describe(self) -> dict | None:
        try:
            return self.client.describe_table(TableName=self.table)["Table"]
        except self.client.exceptions.ResourceNotFoundException:
            return None

    def _create(self) -> None:
        try:
            self.client.create_table(
                TableName=self.table,
                AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except self.client.exceptions.ResourceInUseException:
            pass  # another worker created it first

    def _wait_active(self) -> dict:
        deadline = time.monotonic() + self.wait_timeout
        delay = 0.05
        while True:
            description = self._describe()
            if description is not None and description.get("TableStatus") == "ACTIVE":
                return description
            if time.monotonic() >= deadline:
                raise ResourceNotFoundException(f"lease table {self.table} did not become ACTIVE in time")
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _check_key(self, description: dict) -> None:
        key = [(k["AttributeName"], k["KeyType"]) for k in description.get("KeySchema", ())]
        types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", ())}
        if key != [("leaseKey", "HASH")] or types.get("leaseKey") != "S":
            raise ValueError(f"table {self.table} is not a lease table: its key is {key}, not leaseKey (S, HASH)")

    # -- writes ----------------------------------------------------------------------------

    def _update(self, lease_key: str, update: str, condition: str, values: dict | None = None) -> dict | None:
        """One conditional UpdateItem; the new item, or None when the condition failed."""
        self.ensure_table()
        kwargs = {"ExpressionAttributeValues": values} if values else {}
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key={"leaseKey": {"S": lease_key}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
                **kwargs,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return response["Attributes"]

    def create_if_absent(self, lease: Lease) -> bool:
        """Put ``lease`` unless its shard has an item (``attribute_not_exists(leaseKey)``); True if put."""
        self.ensure_table()
        try:
            self.client.put_item(
                TableName=self.table, Item=lease_to_item(lease), ConditionExpression="attribute_not_exists(leaseKey)"
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def take(self, lease_key: str, expected_counter: int, owner: str) -> Lease | None:
        """Make ``owner`` hold the lease of ``lease_key`` if its counter is ``expected_counter``; it, or None."""
        expected = "leaseCounter = :expected"
        if expected_counter == 0:  # a KCL item without a counter reads as counter 0
            expected = "(leaseCounter = :expected OR attribute_not_exists(leaseCounter))"
        values = {":expected": {"N": str(int(expected_counter))}, ":owner": {"S": owner}, ":one": {"N": "1"}}
        values[":zero"] = {"N": "0"}
        # Two cases, so that the owner-switch count stays exact with one atomic write each: the lease
        # changes hands (the usual case, one request), or its owner takes it again.
        item = self._update(
            lease_key,
            f"SET leaseOwner = :owner, {_BUMP}, "
            "ownerSwitchesSinceCheckpoint = if_not_exists(ownerSwitchesSinceCheckpoint, :zero) + :one",
            f"attribute_exists(leaseKey) AND {expected} AND (attribute_not_exists(leaseOwner) OR leaseOwner <> :owner)",
            values,
        )
        if item is None:
            item = self._update(
                lease_key,
                f"SET {_BUMP}",
                f"attribute_exists(leaseKey) AND {expected} AND leaseOwner = :owner",
                values,
            )
        return None if item is None else lease_from_item(item)

    def renew(self, lease_key: str, owner: str) -> Lease | None:
        """Bump the counter of the lease of ``lease_key`` if ``owner`` holds it; the lease renewed, or None."""
        item = self._update(
            lease_key,
            f"SET {_BUMP}",
            "leaseOwner = :owner",
            {":owner": {"S": owner}, ":one": {"N": "1"}, ":zero": {"N": "0"}},
        )
        return None if item is None else lease_from_item(item)

    def release(self, lease_key: str, owner: str) -> bool:
        """Remove ``owner`` from the lease of ``lease_key`` (the KCL's evict) if it holds it; False if not."""
        item = self._update(
            lease_key,
            f"SET {_BUMP} REMOVE leaseOwner",
            "leaseOwner = :owner",
            {":owner": {"S": owner}, ":one": {"N": "1"}, ":zero": {"N": "0"}},
        )
        return item is not None

    def checkpoint(self, lease_key: str, owner: str, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        """Save ``checkpoint``, ``sub_sequence_number`` on ``lease_key``'s lease if ``owner`` holds it; False if not."""
        item = self._update(
            lease_key,
            "SET checkpoint = :checkpoint, checkpointSubSequenceNumber = :sub, "
            f"ownerSwitchesSinceCheckpoint = :zero, {_BUMP} "
            f"REMOVE {', '.join(_PENDING)}",
            "leaseOwner = :owner",
            {
                ":owner": {"S": owner},
                ":checkpoint": {"S": str(checkpoint)},
                ":sub": {"N": str(int(sub_sequence_number))},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
            },
        )
        return item is not None

    def reset(self, lease_key: str, expected_counter: int, checkpoint: str, sub_sequence_number: int = 0) -> bool:
        """Set ``checkpoint``, ``sub_sequence_number`` on ``lease_key`` if ``expected_counter`` holds; False if not."""
        expected = "leaseCounter = :expected"
        if expected_counter == 0:  # a KCL item without a counter reads as counter 0
            expected = "(leaseCounter = :expected OR attribute_not_exists(leaseCounter))"
        item = self._update(
            lease_key,
            "SET checkpoint = :checkpoint, checkpointSubSequenceNumber = :sub, "
            f"ownerSwitchesSinceCheckpoint = :zero, {_BUMP} "
            f"REMOVE leaseOwner, {', '.join(_PENDING)}",
            f"attribute_exists(leaseKey) AND {expected}",
            {
                ":expected": {"N": str(int(expected_counter))},
                ":checkpoint": {"S": str(checkpoint)},
                ":sub": {"N": str(int(sub_sequence_number))},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
            },
        )
        return item is not None

    def set_children(self, lease_key: str, child_shard_ids) -> None:
        """Record ``child_shard_ids`` on the lease of ``lease_key`` (nothing if it has none)."""
        children = sorted(set(child_shard_ids))
        if children:
            self._update(
                lease_key,
                "SET childShardIds = :children",
                "attribute_exists(leaseKey)",
                {":children": {"SS": children}},
            )
        else:
            self._update(lease_key, "REMOVE childShardIds", "attribute_exists(leaseKey)")

    def delete(self, lease_key: str) -> None:
        """Delete the lease of ``lease_key`` (nothing if there is none)."""
        self.ensure_table()
        self.client.delete_item(TableName=self.table, Key={"leaseKey": {"S": lease_key}})

    # -- reads -----------------------------------------------------------------------------

    def list(self) -> list[Lease]:
        """Every lease, by key (a strongly consistent Scan)."""
        self.ensure_table()
        leases = []
        kwargs = {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.client.scan(**kwargs)
            leases += [lease_from_item(item) for item in page.get("Items", ())]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(leases, key=lambda lease: lease.lease_key)

    def get(self, lease_key: str) -> Lease | None:
        """The lease of ``lease_key`` (a strongly consistent GetItem), or None."""
        self.ensure_table()
        item = self.client.get_item(TableName=self.table, Key={"leaseKey": {"S": lease_key}}, ConsistentRead=True)
        return lease_from_item(item["Item"]) if "Item" in item else None

    def close(self) -> None:
        """Close the DynamoDB client if this store made it."""
        if self._own_client:
            self.client.close()

    def __repr__(self) -> str:
        return f"DynamoDBLeaseStore({self.table!r})"
