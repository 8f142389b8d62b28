import numpy as np

class BufferPool:
    hits: int
    misses: int
    blocks: int
    def __init__(self, max_bytes: int = ..., max_blocks: int = ...) -> None: ...
    @property
    def pooled_bytes(self) -> int: ...
    def take(self, nbytes: int, dtype: object = ...) -> np.ndarray: ...
    def clear(self) -> None: ...

default_pool: BufferPool
gather_pool: BufferPool
