"""AWS event-stream encoding, and SubscribeToShard served as one (spec 8.2-8.3).

A message is::

    total length (4, BE) | headers length (4, BE) | prelude CRC32 (4)
    | headers | payload | message CRC32 (4, of everything before it)

Each header is ``name length (1) | name | type (1; 7 = string) | value length
(2, BE) | value``; only string headers are needed here.  A SubscribeToShard
response is HTTP 200 ``application/vnd.amazon.eventstream`` with a chunked
body: the ``initial-response`` event (botocore refuses the stream without
it), then one ``SubscribeToShardEvent`` per event of the
:class:`~shardstream.fanout.Subscription`, and, if the subscription fails
after it started, an ``exception`` message before the body ends.

Payloads follow the request's protocol: JSON (records as GetRecords puts them
on the wire: ``Data`` base64, ``ApproximateArrivalTimestamp`` epoch seconds)
or CBOR (byte strings, epoch-millisecond timestamps).

>>> msg = event_message("SubscribeToShardEvent", b"{}")
>>> len(msg), msg[:4] == len(msg).to_bytes(4, "big")
(109, True)
"""

from __future__ import annotations

import asyncio
import logging
import struct
import zlib
from collections.abc import Iterator

from aiohttp import web

from ..errors import KinesisError
from . import codec

__all__ = [
    "EVENTSTREAM_CONTENT_TYPE",
    "LocalEventStream",
    "encode_message",
    "event_message",
    "exception_message",
    "install",
    "serve_subscription",
]

log = logging.getLogger("shardstream.server")

EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"
JSON_PAYLOAD_TYPE = "application/json"
CBOR_PAYLOAD_TYPE = "application/x-amz-cbor-1.1"
_STRING = 7
_MAX_HEADERS = 128 * 1024
_MAX_PAYLOAD = 24 * 1024 * 1024
_SUBSCRIPTIONS = web.AppKey("eventstream_subscriptions", set)


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode("utf-8"), value.encode("utf-8")
    if len(raw_name) > 255 or len(raw_value) > 0xFFFF:
        raise ValueError(f"event-stream header {name!r} too long")
    return bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(">H", len(raw_value)) + raw_value


def encode_message(headers: dict[str, str], payload: bytes = b"") -> bytes:
    """One event-stream message with string ``headers`` and ``payload``.

    Parameters
    ----------
    headers : dict of str to str
        In order, e.g. ``{":message-type": "event", ":event-type": ..., ":content-type": ...}``.
    payload : bytes

    Returns
    -------
    bytes
        The framed message: prelude with its CRC32, headers, payload, message CRC32.
    """
    raw_headers = b"".join(_header(k, val) for k, val in headers.items())
    if len(raw_headers) > _MAX_HEADERS or len(payload) > _MAX_PAYLOAD:
        raise ValueError("event-stream message too large")
    prelude = struct.pack(">II", 12 + len(raw_headers) + len(payload) + 4, len(raw_headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event_message(event_type: str, payload: bytes, content_type: str = JSON_PAYLOAD_TYPE) -> bytes:
    """An ``event`` message of ``event_type`` (``initial-response``, ``SubscribeToShardEvent``).

    Parameters
    ----------
    event_type : str
    payload : bytes
        The encoded event (JSON or CBOR).
    content_type : str
        The payload's ``:content-type`` header.

    Returns
    -------
    bytes
        One event-stream message (prelude, headers, payload, CRCs).
    """
    headers = {":message-type": "event", ":event-type": event_type, ":content-type": content_type}
    return encode_message(headers, payload)


def exception_message(exception_type: str, payload: bytes, content_type: str = JSON_PAYLOAD_TYPE) -> bytes:
    """An ``exception`` message (``ResourceInUseException``, ...) carrying ``{"message": ...}``.

    Parameters
    ----------
    exception_type : str
    payload : bytes
        The encoded ``{"message": ...}``.
    content_type : str
        The payload's ``:content-type`` header.

    Returns
    -------
    bytes
        One event-stream message.
    """
    headers = {":message-type": "exception", ":exception-type": exception_type, ":content-type": content_type}
    return encode_message(headers, payload)


# -- serving a subscription ----------------------------------------------------------


def install(app: web.Application) -> None:
    """Track ``app``'s event streams so that shutting the server down ends them at once."""
    app[_SUBSCRIPTIONS] = set()
    app.on_shutdown.append(_end_all)


async def _end_all(app: web.Application) -> None:
    for subscription in list(app[_SUBSCRIPTIONS]):
        subscription.close()


def _wire_event(event: dict) -> dict:
    """An event as sent: a null ContinuationSequenceNumber (shard end) is left out."""
    if event.get("ContinuationSequenceNumber") is None:
        return {k: val for k, val in event.items() if k != "ContinuationSequenceNumber"}
    return event


class LocalEventStream:
    """SubscribeToShard's answer to a request without a connection (:mod:`.local`): messages made as they are read.

    Iterating :meth:`messages` blocks between events as the subscription
    does (it is iterated synchronously, in the reader's thread: no event loop).

    Parameters
    ----------
    subscription : shardstream.fanout.Subscription
    headers : dict
        Response headers; Content-Type is set here.
    cbor : bool
        Encode payloads as CBOR instead of JSON.
    """

    status = 200

    def __init__(self, subscription, headers: dict, *, cbor: bool = False):
        self.subscription = subscription
        self.headers = {**headers, "Content-Type": EVENTSTREAM_CONTENT_TYPE}
        self.cbor = cbor

    def messages(self) -> Iterator[bytes]:
        """The event-stream messages: ``initial-response``, one per event, an ``exception`` if it fails.

        Returns
        -------
        iterator of bytes
            Framed messages; the subscription is closed when the iterator ends or is closed.
        """
        content_type = CBOR_PAYLOAD_TYPE if self.cbor else JSON_PAYLOAD_TYPE
        encode = codec.encode_cbor if self.cbor else codec.encode_json
        try:
            yield event_message("initial-response", encode({}), content_type)
            try:
                for event in self.subscription:
                    yield event_message("SubscribeToShardEvent", encode(_wire_event(event)), content_type)
            except KinesisError as err:
                yield exception_message(err.error_type, encode({"message": err.message}), content_type)
        finally:
            self.subscription.close()

    def close(self) -> None:
        """End the subscription (idempotent)."""
        self.subscription.close()


async def serve_subscription(request: web.Request, subscription, headers: dict, *, cbor: bool = False):
    """Stream ``subscription``'s events as the SubscribeToShard response.

    Parameters
    ----------
    request : aiohttp.web.Request
    subscription : shardstream.fanout.Subscription
        Made with ``wire=True`` for JSON (``wire=False`` for CBOR).
    headers : dict
        Response headers (request id, CORS); Content-Type is set here.
    cbor : bool
        Encode payloads as CBOR instead of JSON.

    Returns
    -------
    aiohttp.web.StreamResponse or LocalEventStream
        Already written and finished (or abandoned when the client went away);
        for a request without a connection (not an aiohttp request), a
        :class:`LocalEventStream` whose reader makes the messages.
    """
    if not isinstance(request, web.BaseRequest):
        return LocalEventStream(subscription, headers, cbor=cbor)
    content_type = CBOR_PAYLOAD_TYPE if cbor else JSON_PAYLOAD_TYPE
    encode = codec.encode_cbor if cbor else codec.encode_json
    response = web.StreamResponse(status=200, headers={**headers, "Content-Type": EVENTSTREAM_CONTENT_TYPE})
    response.enable_chunked_encoding()
    active = request.app.get(_SUBSCRIPTIONS)
    if active is not None:
        active.add(subscription)
    try:
        await response.prepare(request)
        await response.write(event_message("initial-response", encode({}), content_type))
        try:
            async for event in subscription:
                await response.write(event_message("SubscribeToShardEvent", encode(_wire_event(event)), content_type))
        except KinesisError as err:
            payload = encode({"message": err.message})
            await response.write(exception_message(err.error_type, payload, content_type))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("internal failure in a SubscribeToShard event stream")
            payload = encode({"message": "Internal Service Failure"})
            await response.write(exception_message("InternalFailureException", payload, content_type))
        await response.write_eof()
    except ConnectionError:  # the client went away
        pass
    finally:
        subscription.close()
        if active is not None:
            active.discard(subscription)
    return response
