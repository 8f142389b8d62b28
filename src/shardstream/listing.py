"""Listing and describing streams: DescribeStream(Summary), ListStreams, ListShards, DescribeLimits.

:class:`StreamListings` answers the Kinesis calls that look across streams
or page through one, by name or ARN.  Page tokens are signed by the
catalog's :class:`~shardstream.iterators.PageTokenCodec` and live five minutes.
"""

from __future__ import annotations

import json

from . import validation as v
from .errors import InvalidArgumentException, KinesisError
from .models import shard_sort_key, to_epoch_ms
from .validation import check_shard_filter

__all__ = ["StreamListings"]


class StreamListings:
    """The listing calls of one engine (``engine.list_streams``, ``engine.list_shards``, ...).

    Parameters
    ----------
    catalog : Catalog
    """

    def __init__(self, catalog):
        self.catalog = catalog

    def describe_stream(
        self,
        name: str | None = None,
        limit: int | None = None,
        exclusive_start_shard_id: str | None = None,
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """boto3's DescribeStream: ``{"StreamDescription": {...}}`` (100 shards a page).

        Parameters
        ----------
        name, stream_arn : str, optional
            The stream, by name or ARN (the ARN wins; the two must agree).
        limit : int, optional
            Most shards in the page (1 to 10,000; at most 100 are given).
        exclusive_start_shard_id : str, optional
            List the shards after this one.

        Raises
        ------
        ResourceNotFoundException
            No such stream.
        ValidationException
            A limit or shard id out of range.
        """
        return self.catalog.stream(name, stream_arn=stream_arn).describe(limit, exclusive_start_shard_id)

    def describe_stream_summary(self, name: str | None = None, *, stream_arn: str | None = None) -> dict:
        """DescribeStreamSummary of stream ``name`` (or ``stream_arn``): ``{"StreamDescriptionSummary": {...}}``."""
        return self.catalog.stream(name, stream_arn=stream_arn).describe_summary()

    def list_streams(
        self, limit: int | None = None, exclusive_start_stream_name: str | None = None, next_token: str | None = None
    ) -> dict:
        """boto3's ListStreams: names in order, with StreamSummaries and a NextToken while more remain.

        Parameters
        ----------
        limit : int, optional
            Most names in the page (1 to 10,000; default 100).
        exclusive_start_stream_name : str, optional
            List the names after this one.
        next_token : str, optional
            The NextToken of the previous page.

        Raises
        ------
        ValidationException
            A limit or name out of range.
        InvalidArgumentException, ExpiredNextTokenException
            A malformed or expired NextToken.
        """
        errs: list = []
        if limit is not None:
            v.check_int_range(errs, "limit", limit, 1, 10_000)
        if exclusive_start_stream_name is not None:
            v.check_name(errs, "exclusiveStartStreamName", exclusive_start_stream_name)
        v.raise_if_any(errs)
        if next_token is not None:
            exclusive_start_stream_name = self.catalog.pages.decode(next_token, self.catalog.now_ms())
        with self.catalog.lock:
            live = {st.name: st for st in self.catalog.live()}
            names = sorted(live)
            if exclusive_start_stream_name is not None:
                names = [n for n in names if n > exclusive_start_stream_name]
            page = limit or 100
            shown, more = names[:page], len(names) > page
            out = {
                "StreamNames": shown,
                "HasMoreStreams": more,
                "StreamSummaries": [live[n].summary() for n in shown],
            }
        if more:
            out["NextToken"] = self.catalog.pages.encode(shown[-1], self.catalog.now_ms())
        return out

    def list_shards(
        self,
        stream_name: str | None = None,
        next_token: str | None = None,
        exclusive_start_shard_id: str | None = None,
        max_results: int | None = None,
        *,
        stream_arn: str | None = None,
        stream_creation_timestamp=None,
        shard_filter: dict | None = None,
    ) -> dict:
        """boto3's ListShards: ``{"Shards": [...], "NextToken": ...}`` (1000 a page by default).

        Parameters
        ----------
        stream_name, stream_arn : str, optional
            The stream, by name or ARN (not with ``next_token``).
        next_token : str, optional
            The NextToken of the previous page (alone: it names the stream and filter).
        exclusive_start_shard_id : str, optional
            List the shards after this one.
        max_results : int, optional
            Most shards in the page (1 to 10,000; default 1000).
        shard_filter : dict, optional
            ``{"Type": ..., "ShardId": ..., "Timestamp": ...}`` with Type one of
            AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON (the default),
            AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP.
        stream_creation_timestamp : datetime or float, optional
            Must match the stream's creation time (tells re-created streams apart).
        """
        has_stream = stream_name is not None or stream_arn is not None
        if next_token is None and not has_stream:
            raise InvalidArgumentException("Either NextToken or StreamName should be provided.")
        if next_token is not None and has_stream:
            raise InvalidArgumentException("NextToken and StreamName cannot be provided together.")
        errs: list = []
        if max_results is not None:
            v.check_int_range(errs, "maxResults", max_results, 1, 10_000)
        if exclusive_start_shard_id is not None:
            v.check_name(errs, "exclusiveStartShardId", exclusive_start_shard_id)
        v.raise_if_any(errs)
        check_shard_filter(shard_filter)
        after = -1
        if next_token is not None:
            page_state = self._shard_page(self.catalog.pages.decode(next_token, self.catalog.now_ms()))
            stream = self.catalog.stream(page_state["stream"])
            if stream.incarnation != page_state["incarnation"]:
                raise self.catalog.not_found(page_state["stream"])
            after, shard_filter = page_state["after"], page_state["filter"]
        else:
            stream = self.catalog.stream(stream_name, stream_arn=stream_arn)
            if stream_creation_timestamp is not None and not _same_instant(
                to_epoch_ms(stream_creation_timestamp), stream.created_ms
            ):
                raise self.catalog.not_found(stream.name)
            if exclusive_start_shard_id is not None:
                after = shard_sort_key(exclusive_start_shard_id)
        shards = [s for s in stream.filter_shards(shard_filter) if s.index > after]
        page = min(max_results or 1000, 10_000)
        out = {"Shards": [stream.descriptions.shard_description(s) for s in shards[:page]]}
        if len(shards) > page:
            state = {
                "stream": stream.name,
                "incarnation": stream.incarnation,
                "after": shards[page - 1].index,
                "filter": _jsonable_filter(shard_filter),
            }
            out["NextToken"] = self.catalog.pages.encode(json.dumps(state), self.catalog.now_ms())
        return out

    @staticmethod
    def _shard_page(payload: str) -> dict:
        """The state a ListShards NextToken carries (InvalidArgumentException for another listing's token)."""
        try:
            state = json.loads(payload)
        except ValueError:
            state = None
        if not (
            isinstance(state, dict)
            and "kind" not in state  # ListStreamConsumers' tokens have one
            and isinstance(state.get("stream"), str)
            and isinstance(state.get("incarnation"), int)
            and isinstance(state.get("after"), int)
        ):
            raise InvalidArgumentException("Invalid NextToken.")
        return state

    def shard_page_stream_name(self, next_token) -> str | None:
        """The stream a ListShards ``next_token`` made by this engine pages through, whatever its age.

        None for anything else (a malformed or altered token, another
        listing's token): ListShards itself then says what is wrong.  For
        authorization, which must know the stream before the call.

        Parameters
        ----------
        next_token : str
        """
        try:
            payload, _issued = self.catalog.pages.verify(next_token)
            return self._shard_page(payload)["stream"]
        except KinesisError:
            return None

    def describe_limits(self) -> dict:
        """boto3's DescribeLimits."""
        with self.catalog.lock:
            live = self.catalog.live()
            open_shards = sum(s.open_shard_count for s in live)
            on_demand = sum(1 for s in live if s.stream_mode == "ON_DEMAND")
        return {
            "ShardLimit": self.catalog.shard_limit if self.catalog.shard_limit is not None else 2**31 - 1,
            "OpenShardCount": open_shards,
            "OnDemandStreamCount": on_demand,
            "OnDemandStreamCountLimit": 50,
        }


def _jsonable_filter(shard_filter: dict | None) -> dict | None:
    """A ShardFilter with its timestamp as epoch ms, to carry in a NextToken."""
    if shard_filter is None:
        return None
    out = dict(shard_filter)
    if out.get("Timestamp") is not None:
        out["Timestamp"] = to_epoch_ms(out["Timestamp"]) / 1000
    return out


def _same_instant(given_ms: int, created_ms: int) -> bool:
    """A StreamCreationTimestamp names the stream's creation: to the ms, or to the second when
    the caller sent whole seconds (as botocore does)."""
    return given_ms == created_ms or (given_ms % 1000 == 0 and given_ms // 1000 == created_ms // 1000)
