"""The ``sequence_number`` column of a put's result: values that read as Kinesis's strings.

A put keeps each sequence number as its 188-bit value (an Arrow
``decimal256(56, 0)``, 32 bytes a row, packed by a few shifts) and makes the
56-digit text only when asked: a put of a million records then writes 32 MB of
values instead of 60 MB of text, and skips a decimal conversion per row.

The column's type is :class:`SequenceNumberType` (an Arrow extension type,
``shardstream.sequence_number``, registered with pyarrow when shardstream is
imported, so it also survives IPC files and Flight).  In Python it reads as the
strings: ``to_pylist()``, ``scalar.as_py()``, ``table.to_pylist()`` and
``table.to_pandas()`` give the 56-digit text (formatted natively, ~30 ns a row).
Tools that read Arrow memory directly and do not know the type (polars, DuckDB)
take :func:`sequence_strings` of the table: the same table with the column as
plain ``string``.  Sorting or comparing the values (``array.storage``) orders
them as the strings would.
"""

from __future__ import annotations

import functools

import pyarrow as pa

from ._native import SEQUENCE_VALUE_TYPE, format_sequence_values

__all__ = [
    "SEQUENCE_NUMBER_TYPE",
    "SequenceNumberArray",
    "SequenceNumberScalar",
    "SequenceNumberType",
    "sequence_strings",
]

EXTENSION_NAME = "shardstream.sequence_number"


class SequenceNumberType(pa.ExtensionType):
    """Arrow extension type of sequence numbers held as ``decimal256(56, 0)`` values.

    Use the module's :data:`SEQUENCE_NUMBER_TYPE` instance; arrays of it are
    :class:`SequenceNumberArray`.
    """

    def __init__(self):
        super().__init__(SEQUENCE_VALUE_TYPE, EXTENSION_NAME)

    def __arrow_ext_serialize__(self) -> bytes:
        """No parameters: the name says everything."""
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type, serialized) -> SequenceNumberType:
        """The type, read back from IPC metadata."""
        return SEQUENCE_NUMBER_TYPE

    def __arrow_ext_class__(self):
        """Arrays of this type are :class:`SequenceNumberArray`."""
        return SequenceNumberArray

    def __arrow_ext_scalar_class__(self):
        """Scalars of this type are :class:`SequenceNumberScalar`."""
        return SequenceNumberScalar

    def to_pandas_dtype(self):
        """pandas' ``string`` dtype: ``to_pandas()`` gives the 56-digit strings."""
        return _pandas_dtype()


class SequenceNumberArray(pa.ExtensionArray):
    """An array of sequence numbers that converts to their strings."""

    def to_strings(self) -> pa.Array:
        """The numbers as an Arrow ``string`` array (nulls stay null)."""
        return format_sequence_values(self.storage)

    def to_pylist(self, *, maps_as_pydicts=None) -> list:
        """The numbers as a list of 56-digit ``str`` (None where null).

        Parameters
        ----------
        maps_as_pydicts : None
            Accepted for pyarrow's signature; sequence numbers hold no maps.
        """
        return self.to_strings().to_pylist()

    def to_numpy(self, zero_copy_only: bool = True, writable: bool = False):
        """The numbers as a numpy object array of ``str``.

        Parameters
        ----------
        zero_copy_only : bool
            Must be False: the strings are made on demand (pyarrow's default, True, raises ``ArrowInvalid``).
        writable : bool
            Ignored: the array is always a fresh, writable copy.
        """
        if zero_copy_only:
            raise pa.ArrowInvalid("sequence numbers are formatted on demand: pass zero_copy_only=False")
        return self.to_strings().to_numpy(zero_copy_only=False)


class SequenceNumberScalar(pa.ExtensionScalar):
    """One sequence number; ``as_py()`` is its 56-digit string."""

    def as_py(self, **kwargs) -> str | None:
        """The number as Kinesis writes it, or None.

        Parameters
        ----------
        **kwargs
            pyarrow's conversion options; none applies to a string.
        """
        value = self.value
        return None if value is None else format_sequence_values(pa.array([value], SEQUENCE_VALUE_TYPE))[0].as_py()


def sequence_strings(data):
    """``data`` with every sequence-number column as a plain Arrow ``string`` column.

    Parameters
    ----------
    data : pyarrow.Table, pyarrow.RecordBatch, pyarrow.ChunkedArray or pyarrow.Array
        A put's result, or anything holding :class:`SequenceNumberType` columns
        (other columns pass through unchanged, without a copy).

    Returns
    -------
    The same kind of object, for tools that do not know the extension type (polars, DuckDB).
    """
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        columns = [sequence_strings(column) for column in data.columns]
        return type(data).from_arrays(columns, names=data.column_names)
    if isinstance(data, pa.ChunkedArray):
        if data.type != SEQUENCE_NUMBER_TYPE:
            return data
        return pa.chunked_array([chunk.to_strings() for chunk in data.chunks], pa.string())
    if isinstance(data, SequenceNumberArray):
        return data.to_strings()
    return data


@functools.cache
def _pandas_dtype():
    """A ``pd.StringDtype`` whose conversion from Arrow formats the values natively (made once, lazily)."""
    import pandas as pd

    class _SequenceStrings(pd.StringDtype):
        """pandas' string dtype, converting sequence-number values through :func:`sequence_strings`."""

        def __from_arrow__(self, array):
            return pd.StringDtype().__from_arrow__(sequence_strings(array))

    return _SequenceStrings()


SEQUENCE_NUMBER_TYPE = SequenceNumberType()
try:
    pa.register_extension_type(SEQUENCE_NUMBER_TYPE)
except pa.ArrowKeyError:  # already registered (a reload): keep pyarrow's registration
    pass
