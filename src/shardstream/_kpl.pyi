import numpy as np
from numpy.typing import NDArray

def packed_rows(
    offsets: memoryview, values: memoryview, kpl: int, envelope: int, min_length: int
) -> NDArray[np.intp]: ...
def parse_aggregated_record(data: bytes, start: int, end: int) -> list[tuple[str, str | None, bytes]] | None: ...
