"""``RemoteEngine``: the :class:`~shardstream.Engine` API over a botocore ``kinesis`` client.

Every call goes through one botocore client (``engine.client``, made by
:func:`shardstream.aws.botocore_client`): its credential chain, its
connection pool (keep-alive: no new TCP connection per call) and its retry
mode.  Answers keep the embedded engine's shapes (bytes, UTC datetimes, no
``ResponseMetadata``); errors are the embedded engine's exception classes with
botocore's ``response`` kept (:func:`shardstream.errors.error_from_response`),
and a call that got no answer raises
:class:`~shardstream.errors.RemoteConnectionError`.
"""

from __future__ import annotations

from .aws import botocore_client
from .endpoints import SWITCH_ERRORS, Endpoints, split_endpoints
from .errors import RemoteConnectionError, ValidationException, error_from_response
from .remote_stream import RemoteStream, dry_run_member

__all__ = ["RemoteEngine"]


def _without_none(value):
    """``value`` with None members of dicts dropped, recursively (Kinesis's "not given")."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _switch_error(exc: BaseException) -> bool:
    """The call should move to another endpoint: no answer, or a standby's refusal."""
    return isinstance(exc, RemoteConnectionError) or getattr(exc, "error_type", None) in SWITCH_ERRORS


class RemoteEngine:
    """The :class:`Engine` API over the Kinesis API of a server, a Kinesis-compatible endpoint or AWS.

    Parameters
    ----------
    url : str, optional
        ``http(s)://host:port`` of a server, or several separated by commas
        (``http://a:4567,http://b:4567``: a call that gets no answer, or a
        standby's refusal, moves on to the next one: :mod:`shardstream.endpoints`);
        None: botocore's endpoint
        resolution (``AWS_ENDPOINT_URL_KINESIS``, ``AWS_ENDPOINT_URL``, a
        profile's ``endpoint_url``, else AWS's endpoint for ``region``).
    region : str, optional
        The region requests are signed for (default: the configured one, else
        ``us-east-1`` for a non-AWS endpoint).
    timeout : float
        Seconds to connect and for each read.
    access_key_id, secret_access_key, session_token : str, optional
        Explicit credentials; default botocore's chain (environment, profiles,
        SSO, assume-role, container and instance roles), else, for a non-AWS
        endpoint, dummy keys.
    profile : str, optional
        A profile of the AWS config files (default ``AWS_PROFILE``).
    verify : bool or str
        For https: True checks the server certificate against botocore's CA
        bundle, a path checks it against that CA bundle (e.g. a self-signed
        cert), False skips the check.
    retries : int, optional
        How many times botocore retries a failed call (throttling, 5xx,
        connection errors) after the first attempt; None: its configured default.
    retry_mode : {"standard", "adaptive", "legacy"}
    client : botocore.client.BaseClient, optional
        A ready ``kinesis`` client to use instead (the other settings are then ignored).
    failover_timeout : float
        With several endpoints: seconds a call keeps trying them after its first failure.
    **client_kwargs
        Passed to :func:`shardstream.aws.botocore_client` (``max_pool_connections``, ``config``, ``session``).

    Attributes
    ----------
    client : botocore.client.BaseClient
        The low-level client of the current endpoint: any Kinesis operation, e.g.
        ``engine.client.list_streams()``.
    clients : list of botocore.client.BaseClient
        One per endpoint.
    url : str
        The endpoint requests go to (the current one).
    region : str

    Examples
    --------
    >>> engine = RemoteEngine("http://127.0.0.1:4567", retries=5)  # doctest: +SKIP
    >>> engine.create_stream("orders", 2).put_record(b"x", "k")["ShardId"]  # doctest: +SKIP
    'shardId-000000000001'
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        region: str | None = None,
        timeout: float = 30.0,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        verify: bool | str = True,
        retries: int | None = None,
        retry_mode: str = "standard",
        client=None,
        failover_timeout: float = 30.0,
        **client_kwargs,
    ):
        if client is not None:
            clients = [client]
        else:
            from botocore.config import Config

            # Kinesis's own validation (and its messages) answer bad input, as the embedded engine's do
            config = Config(parameter_validation=False)
            if "config" in client_kwargs:
                config = config.merge(client_kwargs.pop("config"))
            settings = dict(
                retries=retries,
                retry_mode=retry_mode,
                profile=profile,
                access_key_id=access_key_id,
                secret_access_key=secret_access_key,
                session_token=session_token,
                verify=None if verify is True else verify,
                timeout=timeout,
                config=config,
                **client_kwargs,
            )
            clients = [botocore_client("kinesis", u, region, **settings) for u in split_endpoints(url)]
        self._endpoints = Endpoints(clients, failover_timeout)
        self.region = clients[0].meta.region_name
        self.timeout = timeout
        self._methods: dict = {}

    @property
    def client(self):
        """The current endpoint's botocore client."""
        return self._endpoints.client

    @property
    def clients(self) -> list:
        """Every endpoint's botocore client, in order of preference."""
        return list(self._endpoints.clients)

    @property
    def url(self) -> str:
        """The endpoint requests go to now."""
        return self._endpoints.client.meta.endpoint_url

    @property
    def endpoint_switches(self) -> int:
        """How many times calls moved to another endpoint."""
        return self._endpoints.switches

    def _method(self, operation: str, index: int = 0):
        """Endpoint ``index``'s bound method for ``operation`` (``"PutRecords"`` -> ``client.put_records``)."""
        method = self._methods.get((index, operation))
        if method is None:
            from botocore import xform_name

            client = self._endpoints.clients[index]
            if operation not in client.meta.service_model.operation_names:
                raise ValueError(f"unknown Kinesis operation {operation!r}")
            method = self._methods[(index, operation)] = getattr(client, xform_name(operation))
        return method

    def call(self, operation: str, params: dict, *, drop_none: bool = True) -> dict:
        """Send one Kinesis ``operation`` (e.g. ``"PutRecord"``) with ``params``.

        Parameters
        ----------
        operation : str
            The Kinesis operation name.
        params : dict
            Its request members in boto3's shapes (bytes for ``Data``,
            datetimes or epoch seconds for timestamps); None members are not sent.
        drop_none : bool
            False: ``params`` has no None members already (saves a walk over
            a large request).

        Returns
        -------
        dict
            The response in the embedded engine's shapes (no ``ResponseMetadata``).

        Raises
        ------
        KinesisError
            The error the endpoint answered, as the embedded engine's class,
            with botocore's ``response``.
        RemoteConnectionError
            No answer (refused, reset, TLS failure, time-out), after botocore's retries.
        ValueError
            ``operation`` is not a Kinesis operation.
        """
        from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError
        from botocore.exceptions import ConnectionError as BotocoreConnectionError

        params = _without_none(params) if drop_none else params

        def attempt(index: int) -> dict:
            method = self._method(operation, index)
            try:
                response = method(**params)
            except ClientError as exc:
                raise error_from_response(exc.response) from None
            except (BotocoreConnectionError, HTTPClientError) as exc:
                raise RemoteConnectionError(f"{operation}: {exc}", method.__self__.meta.endpoint_url) from exc
            except ParamValidationError as exc:  # only with parameter_validation turned back on
                raise ValidationException(str(exc)) from None
            response.pop("ResponseMetadata", None)
            return response

        return self._endpoints.call(attempt, _switch_error)

    def close(self) -> None:
        """Close the clients' pooled connections."""
        for client in self._endpoints.clients:
            client.close()

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- control plane -----------------------------------------------------------------

    def create_stream(
        self,
        name: str,
        shard_count: int | None = None,
        retention_hours: int = 24,
        *,
        stream_mode: str = "PROVISIONED",
        tags: dict | None = None,
        wait: bool = True,
        record_distribution: str | None = None,
    ) -> RemoteStream:
        """CreateStream (then IncreaseStreamRetentionPeriod if asked); waits for ACTIVE by default.

        Parameters
        ----------
        name, shard_count, retention_hours, stream_mode, tags, record_distribution
            As for :meth:`Engine.create_stream` (``record_distribution`` is sent
            only when given: the server's default otherwise).
        wait : bool
            Poll until the stream is ACTIVE (:meth:`RemoteStream.wait_active`).

        Returns
        -------
        RemoteStream
        """
        params: dict = {"StreamName": name, "StreamModeDetails": {"StreamMode": stream_mode}}
        if record_distribution is not None:
            params["RecordDistributionStrategy"] = record_distribution
        if shard_count is not None:
            params["ShardCount"] = shard_count
        if tags:
            params["Tags"] = tags
        self.call("CreateStream", params)
        stream = RemoteStream(self, name)
        if wait:
            stream.wait_active()
        if retention_hours != 24:
            stream.increase_stream_retention_period(retention_hours)
        return stream

    def stream(self, name: str) -> RemoteStream:
        """A handle on the existing stream called ``name`` (checked with DescribeStreamSummary)."""
        self.call("DescribeStreamSummary", {"StreamName": name})
        return RemoteStream(self, name)

    def delete_stream(self, name: str, *, enforce_consumer_deletion: bool = False) -> dict:
        """As :meth:`~shardstream.Engine.delete_stream` (``name``, ``enforce_consumer_deletion``), remotely."""
        return self.call("DeleteStream", {"StreamName": name, "EnforceConsumerDeletion": enforce_consumer_deletion})

    def describe_stream(self, name: str, limit: int | None = None, exclusive_start_shard_id: str | None = None):
        """As :meth:`Engine.describe_stream` (``name``, ``limit``, ``exclusive_start_shard_id``), remotely."""
        return self.call(
            "DescribeStream", {"StreamName": name, "Limit": limit, "ExclusiveStartShardId": exclusive_start_shard_id}
        )

    def describe_stream_summary(self, name: str) -> dict:
        """As :meth:`~shardstream.Engine.describe_stream_summary` (``name``), remotely."""
        return self.call("DescribeStreamSummary", {"StreamName": name})

    def list_streams(
        self, limit: int | None = None, exclusive_start_stream_name: str | None = None, next_token: str | None = None
    ) -> dict:
        """As :meth:`~shardstream.Engine.list_streams`, over the Kinesis API.

        Parameters
        ----------
        limit, exclusive_start_stream_name, next_token
            As for :meth:`Engine.list_streams`.
        """
        return self.call(
            "ListStreams",
            {"Limit": limit, "ExclusiveStartStreamName": exclusive_start_stream_name, "NextToken": next_token},
        )

    def list_shards(
        self,
        stream_name: str | None = None,
        next_token: str | None = None,
        exclusive_start_shard_id: str | None = None,
        max_results: int | None = None,
        *,
        shard_filter: dict | None = None,
    ) -> dict:
        """As :meth:`~shardstream.Engine.list_shards`, over the Kinesis API.

        Parameters
        ----------
        stream_name, next_token, exclusive_start_shard_id, max_results, shard_filter
            As for :meth:`Engine.list_shards`.
        """
        return self.call(
            "ListShards",
            {
                "StreamName": stream_name,
                "NextToken": next_token,
                "ExclusiveStartShardId": exclusive_start_shard_id,
                "MaxResults": max_results,
                "ShardFilter": shard_filter,
            },
        )

    def describe_limits(self) -> dict:
        """As :meth:`~shardstream.Engine.describe_limits`, over the Kinesis API."""
        return self.call("DescribeLimits", {})

    def get_records(self, shard_iterator: str, limit: int | None = None, *, dry_run: bool = False) -> dict:
        """As :meth:`~shardstream.Engine.get_records` (``shard_iterator``, ``limit``, ``dry_run``), remotely."""
        return self.call("GetRecords", {"ShardIterator": shard_iterator, "Limit": limit, **dry_run_member(dry_run)})

    def update_stream_record_distribution_strategy(self, stream_arn: str, record_distribution_strategy: str) -> dict:
        """UpdateStreamRecordDistributionStrategy of ``stream_arn`` to ``record_distribution_strategy``; ``{}``."""
        params = {"StreamARN": stream_arn, "RecordDistributionStrategy": record_distribution_strategy}
        return self.call("UpdateStreamRecordDistributionStrategy", params)

    # -- enhanced fan-out consumers (as Engine's; SubscribeToShard is not offered here) -------

    def register_stream_consumer(self, stream_arn: str, consumer_name: str, tags: dict | None = None) -> dict:
        """As :meth:`Engine.register_stream_consumer` (``stream_arn``, ``consumer_name``, ``tags``), remotely."""
        params = {"StreamARN": stream_arn, "ConsumerName": consumer_name, "Tags": tags or None}
        return self.call("RegisterStreamConsumer", params)

    def describe_stream_consumer(
        self, stream_arn: str | None = None, consumer_name: str | None = None, consumer_arn: str | None = None
    ) -> dict:
        """As :meth:`Engine.describe_stream_consumer`, remotely.

        Parameters
        ----------
        stream_arn, consumer_name, consumer_arn
            As for :meth:`Engine.describe_stream_consumer`.
        """
        params = {"StreamARN": stream_arn, "ConsumerName": consumer_name, "ConsumerARN": consumer_arn}
        return self.call("DescribeStreamConsumer", params)

    def list_stream_consumers(
        self,
        stream_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
        *,
        stream_creation_timestamp=None,
    ) -> dict:
        """ListStreamConsumers: ``{"Consumers": [...], "NextToken": ...}``.

        Parameters
        ----------
        stream_arn, next_token, max_results, stream_creation_timestamp
            As for :meth:`Engine.list_stream_consumers`.
        """
        params = {
            "StreamARN": stream_arn,
            "NextToken": next_token,
            "MaxResults": max_results,
            "StreamCreationTimestamp": stream_creation_timestamp,
        }
        return self.call("ListStreamConsumers", params)

    def deregister_stream_consumer(
        self, stream_arn: str | None = None, consumer_name: str | None = None, consumer_arn: str | None = None
    ) -> dict:
        """As :meth:`Engine.deregister_stream_consumer`, remotely; ``{}``.

        Parameters
        ----------
        stream_arn, consumer_name, consumer_arn
            As for :meth:`Engine.deregister_stream_consumer`.
        """
        params = {"StreamARN": stream_arn, "ConsumerName": consumer_name, "ConsumerARN": consumer_arn}
        return self.call("DeregisterStreamConsumer", params)

    def __repr__(self) -> str:
        return f"<RemoteEngine {self.url}>"
