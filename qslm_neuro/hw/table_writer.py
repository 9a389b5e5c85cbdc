"""Sweep tables to CSV or Parquet, whole or one block at a time, atomically.

The file's suffix picks the format (``.csv`` or ``.parquet``), so the command line and the
Python API need no format option. A chunked sweep appends its blocks as they finish: CSV rows,
or one Parquet row group per block (``pyarrow.parquet.ParquetWriter``), in the order written.
Either way the rows go to a temporary file next to the target (:func:`qslm_neuro.fileio.
atomic_path`) that is renamed over it only when the last block is in: a sweep that fails or is
interrupted leaves no half-made table. Parquet keeps the table's dtypes (text stays text,
booleans stay booleans, integer columns stay int64), so reading it back with
``pandas.read_parquet`` gives the in-memory table. pyarrow is optional (the ``[parquet]``
extra).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from qslm_neuro.errors import BadInputError, MissingDependencyError
from qslm_neuro.validate import path_like

#: Accepted suffixes and the format each one selects.
TABLE_FORMATS = {".csv": "csv", ".parquet": "parquet"}


class BlockWriter(Protocol):
    """Receives a table's blocks in order; ``close`` ends the file (it is renamed afterwards)."""

    def write(self, table: Any) -> None: ...

    def close(self) -> None: ...


def table_format(path: str | os.PathLike[str]) -> str:
    """``"csv"`` or ``"parquet"`` from ``path``'s suffix; checked before any work is done, so
    a wrong suffix or a missing pyarrow fails at once instead of after the sweep."""
    suffix = path_like(path, "table file", "grid.csv").suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise BadInputError(f"table file {str(path)!r}: unknown suffix {suffix or '(none)'!r}; "
                            f"name it *.csv or *.parquet")
    fmt = TABLE_FORMATS[suffix]
    if fmt == "parquet":
        _pyarrow_parquet()
    return fmt


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MissingDependencyError(
            "writing a sweep as Parquet needs pyarrow: pip install 'qslm-neuro[parquet]' "
            "(or pip install 'pyarrow>=14,<26'), or write a .csv instead") from exc
    return pq


@contextmanager
def table_writer(path: str | os.PathLike[str]) -> Iterator[BlockWriter]:
    """A writer for ``path`` (format by suffix); the file appears only if the block succeeds."""
    from qslm_neuro.fileio import atomic_path

    fmt = table_format(path)
    with atomic_path(path) as tmp:
        writer: BlockWriter = _CsvBlocks(tmp) if fmt == "csv" else _ParquetBlocks(tmp)
        try:
            yield writer
        finally:
            writer.close()


def write_table(table: Any, path: str | os.PathLike[str]) -> Path:
    """Write a whole (in-memory) sweep table to ``path``: the same file the chunked path writes."""
    with table_writer(path) as writer:
        writer.write(table)
    return Path(path)


class _CsvBlocks:
    """Rows appended as text; the header with the first block (as ``DataFrame.to_csv``)."""

    def __init__(self, tmp: Path) -> None:
        self.handle = open(tmp, "w", newline="")  # noqa: SIM115 (closed by close())
        self.header = True

    def write(self, table: Any) -> None:
        table.to_csv(self.handle, index=False, header=self.header)
        self.header = False

    def close(self) -> None:
        self.handle.close()


class _ParquetBlocks:
    """One row group per block; the first block fixes the schema, later ones are cast to it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.writer: Any = None

    def write(self, table: Any) -> None:
        import pyarrow as pa

        pq = _pyarrow_parquet()
        if self.writer is None:
            arrow = pa.Table.from_pandas(table, preserve_index=False)
            self.writer = pq.ParquetWriter(str(self.tmp), arrow.schema)
        else:
            arrow = pa.Table.from_pandas(table, schema=self.writer.schema, preserve_index=False)
        self.writer.write_table(arrow, row_group_size=max(1, len(table)))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
