from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

BODY_BYTES: int
TAG_BYTES: int
HANDLE_CHARS: int
KEY_BYTES: int

def siphash24(key: bytes, data: bytes | bytearray | memoryview, digest_size: int = 16) -> bytes: ...
def encode_handles(
    key: bytes, queue: int, kind: int, shard: int, counters: ArrayLike, nonces: ArrayLike
) -> pa.StringArray: ...
def decode_handles(
    key: bytes, handles: Sequence[object] | pa.Array | pa.ChunkedArray
) -> tuple[NDArray[np.bool_], NDArray[np.uint8]]: ...
