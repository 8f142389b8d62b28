"""An opt-in compression envelope for record data: zstd, gzip or lz4, recognisable by any reader.

A compressed record's ``Data`` is, byte by byte::

    offset 0   1 byte   0xF5              never the first byte of UTF-8 text, nor of the KPL
                                          aggregate magic (F3 89 9A C2) or of a bare zstd, gzip
                                          or lz4 frame
    offset 1   3 bytes  0x53 0x53 0x43    ASCII "SSC" (shardstream compressed)
    offset 4   1 byte   codec id          0x01 zstd, 0x02 gzip, 0x03 lz4
    offset 5   rest     the codec's own, complete frame:
                        zstd: a Zstandard frame (RFC 8878) with the content size set;
                        gzip: a gzip member (RFC 1952, mtime 0), as ``gzip.decompress`` reads;
                        lz4:  an LZ4 frame (``lz4.frame``), as the ``lz4`` command reads.

So a reader in any language checks 5 bytes and hands the rest to its
codec.  A producer aggregates first (:mod:`shardstream.aggregation`), then
compresses the Kinesis record; readers decompress first, then de-aggregate
(:mod:`shardstream.unpack`).  :func:`compress` never makes data bigger: when
the envelope would not be smaller than the data, the data is kept as it is.

What a reader unpacks is bounded: an envelope that would open to more than
:data:`MAX_DECOMPRESSED_BYTES` (10 MiB, the largest record any stream
accepts, so no producer could have compressed more) is not ours and passes
through unchanged, so a hostile record cannot make a reader allocate
gigabytes from a 1 MiB blob.

gzip comes from the standard library; ``zstandard`` and ``lz4`` are
imported when first used and come with the ``compression`` extra
(``pip install 'shardstream[compression]'``).
"""

from __future__ import annotations

import zlib

__all__ = [
    "CODECS",
    "ENVELOPE_MAGIC",
    "MAX_DECOMPRESSED_BYTES",
    "compress",
    "decompress",
    "envelope_codec",
    "is_compressed",
]

CODECS = ("zstd", "gzip", "lz4")
ENVELOPE_MAGIC = b"\xf5SSC"
_HEADER = len(ENVELOPE_MAGIC) + 1
_IDS = {"zstd": 1, "gzip": 2, "lz4": 3}
_NAMES = {v: k for k, v in _IDS.items()}
_DEFAULT_LEVELS = {"zstd": 3, "gzip": 6, "lz4": 0}
#: The most an envelope may open to (the largest record any stream accepts); bigger ones pass through.
MAX_DECOMPRESSED_BYTES = 10 * 1024 * 1024


def _module(codec: str):
    name = "zstandard" if codec == "zstd" else "lz4.frame"
    try:
        if codec == "zstd":
            import zstandard

            return zstandard
        import lz4.frame

        return lz4.frame
    except ImportError as exc:
        raise ImportError(
            f"{codec} compression needs the {name!r} module: pip install 'shardstream[compression]'"
        ) from exc


def _compress(codec: str, data: bytes, level: int) -> bytes:
    if codec == "gzip":
        packer = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: a gzip member, mtime 0
        return packer.compress(data) + packer.flush()
    if codec == "zstd":
        return _module(codec).ZstdCompressor(level=level).compress(data)
    return _module(codec).compress(data, compression_level=level)


def compress(data: bytes, codec: str, level: int | None = None) -> bytes:
    """``data`` in a compression envelope, or ``data`` itself when the envelope would not be smaller.

    Parameters
    ----------
    data : bytes
    codec : {"zstd", "gzip", "lz4"}
    level : int, optional
        The codec's level (default: zstd 3, gzip 6, lz4 0).

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        An unknown codec.
    TypeError
        ``data`` is not bytes.
    ImportError
        The codec's module is not installed (the ``compression`` extra).

    Examples
    --------
    >>> packed = compress(b"abc" * 100, "gzip")
    >>> len(packed) < 300, decompress(packed) == b"abc" * 100
    (True, True)
    >>> compress(b"tiny", "gzip")
    b'tiny'
    """
    if codec not in _IDS:
        raise ValueError(f"codec must be one of {', '.join(CODECS)}, not {codec!r}")
    if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) <= _HEADER:
        return data
    frame = _compress(codec, data, _DEFAULT_LEVELS[codec] if level is None else int(level))
    if _HEADER + len(frame) >= len(data):
        return data
    return ENVELOPE_MAGIC + bytes((_IDS[codec],)) + frame


def envelope_codec(data) -> str | None:
    """The codec named by ``data``'s envelope header, or None when it has none.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    str or None
    """
    if len(data) <= _HEADER or data[:4] != ENVELOPE_MAGIC:
        return None
    return _NAMES.get(data[4])


def is_compressed(data) -> bool:
    """Whether ``data`` starts with a compression envelope header (its frame is not checked).

    Parameters
    ----------
    data : bytes

    Returns
    -------
    bool
    """
    return envelope_codec(data) is not None


def decompress(data: bytes) -> bytes:
    """The original bytes of an envelope; anything else (or a corrupt frame) unchanged.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    bytes

    Raises
    ------
    ImportError
        The envelope's codec module is not installed (the ``compression`` extra).

    Examples
    --------
    >>> decompress(b"not compressed")
    b'not compressed'
    """
    codec = envelope_codec(data)
    if codec is None:
        return data
    frame = memoryview(data)[_HEADER:]
    limit = MAX_DECOMPRESSED_BYTES
    try:
        if codec == "gzip":
            unpacker = zlib.decompressobj(31)
            out = unpacker.decompress(frame, limit + 1)
            return out if len(out) <= limit and unpacker.eof and not unpacker.unused_data else data
        if codec == "zstd":
            zstandard = _module(codec)
            dctx = zstandard.ZstdDecompressor()
            size = zstandard.frame_content_size(frame)
            if size > limit:
                return data
            if size < 0:  # a frame without its size (not one of ours): bound the output before trusting it
                with dctx.stream_reader(frame, read_across_frames=False) as reader:
                    if len(reader.read(limit + 1)) > limit:
                        return data
            unpacker = dctx.decompressobj()
            out = unpacker.decompress(frame)
            return out if unpacker.eof and not unpacker.unused_data else data
        unpacker = _module(codec).LZ4FrameDecompressor()
        out = unpacker.decompress(frame, max_length=limit + 1)
        return out if len(out) <= limit and unpacker.eof and not unpacker.unused_data else data
    except ImportError:
        raise
    except Exception:  # a corrupt frame: not ours to judge; the record passes through
        return data
