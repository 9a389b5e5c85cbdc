"""Sweep tables as Parquet: the in-memory table read back exactly, block by block, atomically.

The chunked path appends one row group per block; reading the file back must give the in-memory
sweep's table (same columns, dtypes, row order and values, bit for bit), the CSV of the same
sweep must hold the same numbers, and a wrong suffix, a missing pyarrow or a failure mid-sweep
must leave no file (nor a temporary one) behind.
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from qslm_neuro.cli.main import main
from qslm_neuro.errors import BadInputError, HardwareModelError, MissingDependencyError
from qslm_neuro.hw import sweep
from qslm_neuro.hw.chunked_sweep import grid_chunks, sweep_chunked
from qslm_neuro.workload.synthetic import synthetic_slm_workload

pq = pytest.importorskip("pyarrow.parquet")

WORKLOAD = synthetic_slm_workload(blocks=1)
GRID = {"e_syn_op_pj": [5.0, 12.3, 30.0], "syn_mem_per_core_bytes": [16384, 65536],
        "neurons_per_core": [128, 512, 1024], "t_syn_op_ns": [0.5, 1.0, 3.0, 4.0]}


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert list(got.dtypes) == list(want.dtypes)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize("hw", ["loihi2", ["loihi", "loihi2"]])
def test_chunked_parquet_reads_back_as_the_in_memory_table(tmp_path, hw):
    table = sweep(WORKLOAD, hw, **GRID)
    out = tmp_path / "grid.parquet"
    summary = sweep_chunked(WORKLOAD, hw, out=out, chunk_points=5, progress=False, **GRID)
    blocks = len(list(grid_chunks({k: np.asarray(v, float) for k, v in GRID.items()}, 5)))
    chips = 2 if isinstance(hw, list) else 1
    assert summary.out == str(out) and summary.csv is None
    assert summary.points == len(table) and summary.chunks == chips * blocks
    assert pq.ParquetFile(out).metadata.num_row_groups == chips * blocks  # one per block
    got = pd.read_parquet(out)
    assert_same_table(got, table)
    assert got["feasible"].dtype == bool and got["cores"].dtype == np.int64
    assert pd.api.types.is_string_dtype(got["throughput_bound"])
    if chips == 2:
        assert list(got["hardware"].unique()) == ["loihi", "loihi2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.parquet"]  # no temporary left


def test_csv_and_parquet_of_one_sweep_hold_the_same_numbers(tmp_path, capsys):
    table = sweep(WORKLOAD, "loihi2", **GRID)
    for suffix in ("csv", "parquet"):  # the Python API: hw.sweep(out=...) evaluates in blocks
        sweep(WORKLOAD, "loihi2", out=tmp_path / f"api.{suffix}", **GRID)
    from_csv = pd.read_csv(tmp_path / "api.csv", float_precision="round_trip")
    from_parquet = pd.read_parquet(tmp_path / "api.parquet")
    assert_same_table(from_parquet, table)
    assert_same_table(from_csv, from_parquet)
    # the command line (the in-memory path) writes the same files
    path = WORKLOAD.save(tmp_path / "w.json")
    params = [f"--param={k}={','.join(map(str, v))}" for k, v in GRID.items()]
    assert main(["sweep", "--workload", str(path), "--hw", "loihi2", *params,
                 "--out", str(tmp_path / "cli.parquet")]) == 0
    assert main(["sweep", "--workload", str(path), "--hw", "loihi2", *params,
                 "--out", str(tmp_path / "cli.csv")]) == 0
    assert "written" in capsys.readouterr().out
    assert_same_table(pd.read_parquet(tmp_path / "cli.parquet"), table)
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "api.csv").read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["grid.txt", "grid", "grid.parquet.gz"])
def test_a_wrong_suffix_is_exit_2_and_writes_nothing(tmp_path, capsys, name):
    path = WORKLOAD.save(tmp_path / "w.json")
    out = tmp_path / "out" / name
    for extra in ([], ["--workers", "1"]):  # checked before any worker starts
        code = main(["sweep", "--workload", str(path), "--param", "e_syn_op_pj=5,10",
                     "--out", str(out), *extra])
        err = capsys.readouterr().err
        assert code == 2 and repr(str(out)) in err and ".csv" in err and ".parquet" in err
    assert not out.parent.exists()
    with pytest.raises(BadInputError, match=r"\*\.parquet"):
        sweep(WORKLOAD, "loihi2", out=out, e_syn_op_pj=[5.0])
    assert not out.parent.exists()


def test_parquet_without_pyarrow_names_the_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import fails as if absent
    path = WORKLOAD.save(tmp_path / "w.json")
    with pytest.raises(MissingDependencyError, match=r"pip install 'qslm-neuro\[parquet\]'"):
        sweep(WORKLOAD, "loihi2", out=tmp_path / "g.parquet", e_syn_op_pj=[5.0])
    assert main(["sweep", "--workload", str(path), "--param", "e_syn_op_pj=5",
                 "--out", str(tmp_path / "g.parquet")]) == 2
    assert "pyarrow" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.json"]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_sweep_failing_after_its_first_block_leaves_no_file(tmp_path, suffix):
    # the second block breaks a cross-field rule (the weight read alone would cost more than
    # the synaptic op): the in-memory sweep refuses the grid, the chunked one fails at that
    # block after writing the first, and neither the table nor its temporary file remains
    grid = {"e_syn_op_pj": [30.0, 0.01], "t_syn_op_ns": [1.0, 2.0, 3.0]}
    with pytest.raises(HardwareModelError, match="e_syn_op_pj"):
        sweep(WORKLOAD, "loihi2", **grid)
    out = tmp_path / f"grid.{suffix}"
    with pytest.raises(HardwareModelError, match="e_syn_op_pj"):
        sweep_chunked(WORKLOAD, "loihi2", out=out, chunk_points=3, progress=False, **grid)
    assert list(tmp_path.iterdir()) == []
