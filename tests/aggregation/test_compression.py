"""The compression envelope: round trips for every codec, never larger, recognisable, never confused."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from shardstream.aggregation import MAGIC, encode_aggregate
from shardstream.compression import CODECS, ENVELOPE_MAGIC, compress, decompress, envelope_codec, is_compressed

texts = st.binary(max_size=2000) | st.text(alphabet='abc {}:"', max_size=4000).map(str.encode)


@settings(max_examples=200, deadline=None)
@given(texts, st.sampled_from(CODECS))
def test_round_trip_and_never_larger(data, codec):
    packed = compress(data, codec)
    assert len(packed) <= len(data)
    assert decompress(packed) == data
    if packed is data or packed == data:
        assert not is_compressed(packed) or data.startswith(ENVELOPE_MAGIC)
    else:
        assert envelope_codec(packed) == codec and len(packed) < len(data)


def test_the_envelope_is_what_the_docstring_says():
    data = b'{"page": "/index.html", "user": 42}' * 50
    for codec, codec_id in zip(CODECS, (1, 2, 3)):
        packed = compress(data, codec, level=1)
        assert packed[:4] == b"\xf5SSC" == ENVELOPE_MAGIC and packed[4] == codec_id
        assert packed[0] != MAGIC[0]  # never confused with a KPL aggregate
        frame = packed[5:]
        # any reader with the codec's own library opens the frame
        standalone = {
            "zstd": lambda f: zstandard.ZstdDecompressor().decompress(f),
            "gzip": gzip.decompress,
            "lz4": lz4.frame.decompress,
        }[codec]
        assert standalone(frame) == data
    assert decompress(compress(encode_aggregate(["k"] * 30, [b"v" * 40] * 30), "zstd"))[:4] == MAGIC


def test_data_that_would_grow_is_kept_and_other_data_passes_through():
    incompressible = os.urandom(512)
    assert compress(b"", "zstd") == b""
    assert compress(b"abc", "gzip") == b"abc"
    assert compress(incompressible, "lz4") == incompressible
    for other in (b"", b"plain", ENVELOPE_MAGIC, ENVELOPE_MAGIC + b"\x09frame", ENVELOPE_MAGIC + b"\x01not zstd"):
        assert decompress(other) == other  # not an envelope, an unknown codec, or a corrupt frame: unchanged
    good = compress(b"x" * 1000, "gzip")
    assert decompress(good[:-3]) == good[:-3]  # truncated
    assert decompress(good + b"tail") == good + b"tail"  # trailing bytes


def test_bad_arguments():
    with pytest.raises(ValueError, match="zstd, gzip, lz4"):
        compress(b"x" * 100, "brotli")
    with pytest.raises(TypeError, match="bytes"):
        compress("text", "gzip")


def test_a_missing_codec_module_names_the_extra():
    """zstandard and lz4 are imported lazily; without them the error says which extra installs them."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('zstandard', 'lz4'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from shardstream import compression\n"
        "assert compression.decompress(compression.compress(b'a' * 100, 'gzip')) == b'a' * 100\n"
        "for codec in ('zstd', 'lz4'):\n"
        "    try:\n"
        "        compression.compress(b'a' * 100, codec)\n"
        "    except ImportError as exc:\n"
        "        print(exc)\n"
        "try:\n"
        f"    compression.decompress({compress(b'a' * 100, 'zstd')!r})\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert len(lines) == 3 and all("shardstream[compression]" in line for line in lines), out
    assert "'zstandard'" in lines[0] and "'lz4.frame'" in lines[1]


@pytest.mark.parametrize("codec", CODECS)
def test_an_envelope_opening_past_the_largest_record_passes_through(codec):
    from shardstream.compression import MAX_DECOMPRESSED_BYTES as limit

    at_limit = b"a" * limit
    assert decompress(compress(at_limit, codec)) == at_limit
    bomb = compress(b"a" * (limit + 1), codec)  # ~1 KiB that would open to 10 MiB + 1
    assert len(bomb) < 64 * 1024
    assert decompress(bomb) is bomb


def test_a_zstd_frame_without_its_size_is_bounded_too():
    from shardstream.compression import MAX_DECOMPRESSED_BYTES as limit

    unsized = zstandard.ZstdCompressor(write_content_size=False)
    bomb = ENVELOPE_MAGIC + b"\x01" + unsized.compress(b"b" * (limit + 5))
    assert decompress(bomb) is bomb
    fine = ENVELOPE_MAGIC + b"\x01" + unsized.compress(b"b" * 1000)
    assert decompress(fine) == b"b" * 1000
