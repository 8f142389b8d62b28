"""``shardstream replay``: export a stream's history from a data directory to Parquet, CSV or Arrow."""

from __future__ import annotations

import binascii
import contextlib
import datetime as _dt
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.compute as pc

from .errors import KinesisError
from .history import ReplayPlan
from .schema import RECORD_SCHEMA
from .sequence import SEQUENCE_NUMBER_LENGTH

__all__ = ["CSV_SCHEMA", "SUFFIX_FORMATS", "BoundType", "replay"]

#: Output format by file suffix.
SUFFIX_FORMATS = {".parquet": "parquet", ".csv": "csv", ".arrow": "arrow", ".arrows": "arrow", ".feather": "arrow"}

#: What CSV files hold: ``shard_id`` as plain text, ``data`` base64-encoded.
CSV_SCHEMA = pa.schema(
    [pa.field(f.name, pa.string(), nullable=False) if f.name in ("shard_id", "data") else f for f in RECORD_SCHEMA],
    metadata=RECORD_SCHEMA.metadata,
)

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


class BoundType(click.ParamType):
    """``--start``/``--end``: an ISO-8601 time, epoch milliseconds, or a sequence number.

    Converts to what :func:`shardstream.replay` takes: a ``datetime``
    (naive ISO times are UTC) or the sequence-number string unchanged.
    """

    name = "TIME|SEQ"

    def convert(self, value, param, ctx):
        """The ``datetime`` or sequence-number string ``value`` names (click's ``ParamType.convert``).

        Parameters
        ----------
        value : str or object
            The option's text; anything else (a default) is returned unchanged.
        param : click.Parameter or None
        ctx : click.Context or None
            For the usage error.

        Returns
        -------
        datetime.datetime or str

        Raises
        ------
        click.BadParameter
            Neither an ISO-8601 time, epoch milliseconds nor a sequence number.
        """
        if not isinstance(value, str):
            return value
        text = value.strip()
        if len(text) == SEQUENCE_NUMBER_LENGTH and text.isdigit():
            return text
        try:
            if text.lstrip("-").isdigit():
                return _EPOCH + _dt.timedelta(milliseconds=int(text))
            # Python < 3.11 does not read a "Z" suffix.
            return _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except (ValueError, OverflowError):
            self.fail(
                f"{value!r} is neither an ISO-8601 time, epoch milliseconds nor a 56-digit sequence number",
                param,
                ctx,
            )


def _format_for(output: Path) -> str:
    fmt = SUFFIX_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise click.UsageError(
            f"cannot tell the format of {str(output)!r} from its suffix: pass --format parquet, csv or arrow"
        )
    return fmt


def _base64(data: pa.Array) -> pa.Array:
    """Each binary value as base64 text (RFC 4648, padded)."""
    return pa.array(
        [binascii.b2a_base64(value, newline=False).decode("ascii") for value in data.to_pylist()], pa.string()
    )


def _csv_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A replay batch in :data:`CSV_SCHEMA`."""
    columns = [
        _base64(column) if name == "data" else column.cast(CSV_SCHEMA.field(name).type)
        for name, column in zip(batch.schema.names, batch.columns)
    ]
    return pa.RecordBatch.from_arrays(columns, schema=CSV_SCHEMA)


def _unify_shard_ids(batch: pa.RecordBatch, dictionary: pa.Array) -> pa.RecordBatch:
    """``batch`` with its ``shard_id`` column re-encoded over ``dictionary``.

    An Arrow IPC file allows one dictionary per column for the whole file,
    while each replay batch carries its own shard's.
    """
    index = batch.schema.get_field_index("shard_id")
    column = batch.column(index)
    indices = pc.index_in(column.dictionary, value_set=dictionary).take(column.indices)
    if indices.null_count:
        raise ValueError(f"a record of {column[0]} was stored among the shards {dictionary.to_pylist()}")
    return batch.set_column(index, batch.schema.field(index), pa.DictionaryArray.from_arrays(indices, dictionary))


def _open_writer(fmt: str, path: Path, plan: ReplayPlan) -> tuple[object, Callable[[pa.RecordBatch], pa.RecordBatch]]:
    """A batch writer for ``fmt`` at ``path``, and how to convert replay batches for it."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, RECORD_SCHEMA), lambda batch: batch
    if fmt == "csv":
        import pyarrow.csv

        return pyarrow.csv.CSVWriter(path, CSV_SCHEMA), _csv_batch
    dictionary = pa.array(plan.shard_ids, pa.string())
    return pa.ipc.new_file(path, RECORD_SCHEMA), functools.partial(_unify_shard_ids, dictionary=dictionary)


@contextlib.contextmanager
def _progress(plan: ReplayPlan, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A function advancing a progress bar on stderr by a number of records (a no-op if disabled)."""
    if not enabled:
        yield lambda records: None
        return
    with click.progressbar(length=plan.estimate_records(), label="replaying", show_pos=True, file=sys.stderr) as bar:
        yield bar.update


def _export(plan: ReplayPlan, fmt: str, output: Path, progress: bool) -> int:
    """Write the replay to ``output`` (through a temporary file beside it); the number of records."""
    partial = output.with_name(f".{output.name}.partial")
    records = 0
    try:
        writer, convert = _open_writer(fmt, partial, plan)
        with writer, _progress(plan, progress) as advance:
            for batch in plan.batches():
                writer.write_batch(convert(batch))
                records += batch.num_rows
                advance(batch.num_rows)
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return records


@click.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("stream")
@click.option(
    "--shard",
    "shards",
    multiple=True,
    metavar="ID",
    help="Export only this shard (repeatable). Default: every shard, or the one a sequence-number bound names.",
)
@click.option("--start", type=BoundType(), help="First record (inclusive): see TIME|SEQ above.")
@click.option("--end", type=BoundType(), help="Stop before this (exclusive): see TIME|SEQ above.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "arrow"]),
    help="Output format. Default: from the output suffix (.parquet, .csv, .arrow/.arrows/.feather).",
)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The file to write."
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on stderr.")
@click.option(
    "--kms-keys",
    type=click.Path(dir_okay=False, exists=True),
    help="A JSON file of keys by KMS key id, alias or ARN, to read records stored encrypted "
    "(as shardstream serve --kms-keys).",
)
def replay(
    data_dir: Path,
    stream: str,
    shards: tuple,
    start,
    end,
    fmt: str | None,
    output: Path,
    progress: bool,
    kms_keys: str | None,
):
    """Export STREAM's records from the data directory DATA_DIR to a file.

    Reads the segment files read-only: no engine needs to run, and one may
    keep writing (records stored after a shard is opened are left out).
    Records come shard by shard in shard-index order (parents before
    children), each shard in sequence order, in shardstream's record schema.

    TIME|SEQ is an ISO-8601 time (2024-05-01T12:00:00, naive meaning UTC, or
    with an offset or Z), epoch milliseconds (1714564800000), or a 56-digit
    sequence number, which bounds only the shard it encodes.  Times select
    records by arrival.

    Formats: Parquet and Arrow (an IPC file) keep the record schema.  CSV has
    no binary or dictionary type, so there shard_id is plain text and data is
    base64-encoded (RFC 4648, padded).
    """
    fmt = fmt or _format_for(output)
    try:
        plan = ReplayPlan(data_dir, stream, list(shards) or None, start, end, keys=kms_keys)
        records = _export(plan, fmt, output, progress)
    except (KinesisError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {records} records from {len(plan.shard_indexes)} shard(s) of {stream} to {output} ({fmt}).")
