"""Searches give the same answer sequentially and on a 2-worker Dask LocalCluster.

One cluster (two worker processes, one thread each) is started for the module and stopped at
its end; the 1-worker runs restrict the same cluster's jobs to one worker. The model is the
tiny spiking RWKV on synthetic sentences, so the workers evaluate the real SLM path (activity
recording, hardware estimates, prefix replay) on their own copies of the evaluator.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from qslm_neuro.errors import BadInputError
from qslm_neuro.models import build_model
from qslm_neuro.quantsearch import search
from qslm_neuro.quantsearch.executor import (
    DaskExecutor,
    executor_from_options,
    make_executor,
)
from qslm_neuro.quantsearch.store import EvaluationStore
from qslm_neuro.tasks import SST2Task
from qslm_neuro.tasks.tokenizer import Tokenizer

distributed = pytest.importorskip("distributed")

POSITIVE = ["a wonderful film", "truly great acting", "a moving and funny story", "loved it"]
NEGATIVE = ["a dull mess", "boring and far too long", "the worst script", "hated every minute"]
FAST = dict(ladder="fp32,int8,int4,int2", calibration_size=16, progress=False,
            const_perf="3pt", const_mem="40%")


@pytest.fixture(scope="module")
def problem():
    torch.set_num_threads(1)
    rng = random.Random(0)
    rows = []
    for _ in range(48):
        label = rng.randint(0, 1)
        rows.append((" , ".join(rng.sample(POSITIVE if label else NEGATIVE, 2)), label))
    tokenizer = Tokenizer.train(POSITIVE * 5 + NEGATIVE * 5, vocab_size=280)
    task = SST2Task.from_examples(tokenizer, rows, batch_size=64, name="synthetic")
    torch.manual_seed(0)
    model = build_model("tiny", head="classify", vocab_size=tokenizer.vocab_size,
                        ctx_len=16).eval()
    return model, task


@pytest.fixture(scope="module")
def client():
    from qslm_neuro.dask_env import local_cluster

    cluster, client = local_cluster(2)
    yield client
    client.close()
    cluster.close()


def fingerprint(result):
    """Everything a search decides: candidates in order, the choice, the sensitivity rows."""
    rows = None if result.sensitivity is None else [
        (r.level, r.unit, r.precision, r.value, r.kl) for r in result.sensitivity.rows]
    return ([(c.plan.key, c.metric, c.total_bytes, (c.hw or {}).get("energy_per_token_j"))
             for c in result.candidates],
            None if result.chosen is None else result.chosen.plan.key, rows,
            [{k: v for k, v in t.items() if k != "message"} for t in result.trials])


@pytest.mark.parametrize("strategy, options", [
    ("tiered", {"module_sensitivity": "all"}),
    ("random", {"n_evaluations": 6, "level": "block"}),
    ("random", {"n_evaluations": 6, "level": "block", "max_full_evaluations": 4}),
    ("ilp", {"budgets": 3, "level": "block"}),
    ("nsga2", {"n_trials": 12, "population_size": 4, "level": "block"}),
])
def test_one_and_two_workers_match_sequential(problem, client, strategy, options):
    model, task = problem
    sequential = search(model, task, strategy=strategy, **FAST, **options)
    two = DaskExecutor(client)
    parallel = search(model, task, strategy=strategy, executor=two, **FAST, **options)
    assert fingerprint(parallel) == fingerprint(sequential)
    assert parallel.counts["computed"] == sequential.counts["computed"]
    assert parallel.settings["executor"] == "dask (2 workers)"
    if strategy == "tiered":  # the same rows on one worker
        first = next(iter(client.scheduler_info()["workers"]))
        one = search(model, task, strategy=strategy, executor=DaskExecutor(
            client, workers=[first]), **FAST, **options)
        assert fingerprint(one) == fingerprint(sequential)
    two.close()


def test_nsga2_generations_are_distinct_plans(problem, client):
    model, task = problem
    result = search(model, task, strategy="nsga2", n_trials=12, population_size=4,
                    level="block", executor=DaskExecutor(client), **FAST)
    keys = [c.plan.key for c in result.candidates]
    assert len(set(keys)) == len(keys) >= 6  # not one random state replayed per task


def test_resume_from_a_store_written_by_workers(problem, client, tmp_path):
    model, task = problem
    store = tmp_path / "run.sqlite"
    first = search(model, task, strategy="tiered", executor=DaskExecutor(client),
                   store=store, **FAST)
    assert first.counts["computed"]["calibration"] > 0
    again = search(model, task, strategy="tiered", store=store, **FAST)  # sequential resume
    assert again.counts["computed"] == {"full": 0, "calibration": 0, "proxy": 0}
    assert fingerprint(again) == fingerprint(first)
    with EvaluationStore.at(store) as opened:  # speculated results are stored, not candidates
        assert opened.count("full") == len(first.candidates) + first.counts["speculative_unused"]


@pytest.fixture(scope="module")
def lm():
    from test_speculation import lm_problem

    return lm_problem()


@pytest.mark.parametrize("options", [
    {"const_perf": "0.5%"},  # bytes-ranked: both branches speculated
    {"const_perf": "2%", "const_energy": "97%", "tiers": "global,module",
     "ladder": "fp32,int4,int2"},  # ranked by energy: the reject branch only
])
def test_tiered_speculation_keeps_every_decision(lm, client, tmp_path, monkeypatch, options):
    """Two workers evaluate the next plans of the tiered search ahead; the candidates, trials,
    choice and sensitivities stay the sequential run's, and so does a resumed run from a store
    that also holds the speculated results nobody asked for. A third of the steps are rejected
    by plan key (on top of constA), so that both outcomes occur often in the tiny model."""
    from test_speculation import LM, a_third_rejected

    from qslm_neuro.quantsearch.context import SearchContext

    monkeypatch.setattr(SearchContext, "accepts", a_third_rejected)
    model, task = lm
    first = next(iter(client.scheduler_info()["workers"]))
    assert DaskExecutor(client).slots == 2 and DaskExecutor(client, workers=[first]).slots == 1
    options = {**LM, **options}
    sequential = search(model, task, **options)
    store = tmp_path / "run.sqlite"
    parallel = search(model, task, executor=DaskExecutor(client), store=store, **options)
    assert fingerprint(parallel) == fingerprint(sequential)
    for key in ("full_evaluations", "calibration_evaluations", "proxy_evaluations", "computed"):
        assert parallel.counts[key] == sequential.counts[key]
    assert sequential.counts["speculative_evaluations"] == 0
    counts = parallel.counts
    assert counts["speculative_used"] > 0
    assert counts["speculative_used"] + counts["speculative_unused"] \
        == counts["speculative_evaluations"]
    assert counts["speculative_unused"] > 0 and "never asked for" in parallel.summary()
    with EvaluationStore.at(store) as opened:  # unused guesses: stored, never candidates
        assert opened.count("full") == len(parallel.candidates) + counts["speculative_unused"]
    for executor in (None, DaskExecutor(client)):
        again = search(model, task, executor=executor, store=store, **options)
        assert fingerprint(again) == fingerprint(sequential)
        assert again.counts["computed"] == {"full": 0, "calibration": 0, "proxy": 0}
        assert again.counts["speculative_evaluations"] == 0
    if "const_energy" not in options:  # a budget counts what the search asked for, not guesses
        capped = {**options, "max_full_evaluations": 6}
        assert fingerprint(search(model, task, executor=DaskExecutor(client), **capped)) \
            == fingerprint(search(model, task, **capped))


def test_exhaustive_over_blocks_in_parallel(problem, client):
    model, task = problem
    options = dict(FAST, ladder="fp32,int4", const_mem=None)
    sequential = search(model, task, strategy="exhaustive", **options)
    parallel = search(model, task, strategy="exhaustive", executor=DaskExecutor(client),
                      **options)
    assert fingerprint(parallel) == fingerprint(sequential)


def test_executor_arguments_are_checked():
    assert make_executor(None).parallel is False and make_executor(None).slots == 1
    assert executor_from_options(workers=2) == "local:2"
    assert executor_from_options(scheduler="tcp://h:1") == "tcp://h:1"
    for bad in ("local:0", "local:x", "nowhere"):
        with pytest.raises(BadInputError, match="executor"):
            make_executor(bad)
    with pytest.raises(BadInputError, match="--workers"):
        executor_from_options(workers=2, scheduler="tcp://h:1")


def test_chunked_sweep_on_workers_writes_the_in_memory_rows(client, tmp_path):
    from qslm_neuro.hw import sweep
    from qslm_neuro.hw.chunked_sweep import grid_chunks, sweep_chunked
    from qslm_neuro.workload.synthetic import synthetic_slm_workload

    workload = synthetic_slm_workload()
    grid = {"e_syn_op_pj": [5.0, 12.3, 30.0], "syn_mem_per_core_bytes": [16384, 65536],
            "neurons_per_core": [128, 512, 1024], "t_syn_op_ns": [0.5, 1.0, 3.0, 4.0]}
    table = sweep(workload, "loihi2", **grid)
    expected = table.to_csv(index=False)
    blocks = list(grid_chunks({k: np.asarray(v, float) for k, v in grid.items()}, 5))
    assert sum(int(np.prod([len(v) for v in b.values()])) for b in blocks) == len(table)
    for executor in (None, client):  # in this process, then on the two workers
        out = tmp_path / f"grid-{executor is None}.csv"
        summary = sweep_chunked(workload, "loihi2", executor=executor, out=out, chunk_points=5,
                                progress=False, **grid)
        assert out.read_text() == expected  # same numbers, same order, byte for byte
        assert summary.points == len(table) and summary.chunks == len(blocks)
    kept = sweep_chunked(workload, "loihi2", executor=client, chunk_points=7, progress=False,
                         **grid)  # no CSV: the summary only
    feasible = table[table["feasible"]]
    assert kept.csv is None and kept.points == len(table)
    assert kept.feasible == len(feasible)
    best = feasible.loc[feasible["energy_per_token_j"].idxmin()]
    assert kept.best["energy_per_token_j"] == best["energy_per_token_j"]
    assert kept.ranges["power_w"] == (table["power_w"].min(), table["power_w"].max())


def test_chunked_sweep_on_workers_writes_parquet_row_groups_in_grid_order(client, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    import pandas as pd

    from qslm_neuro.hw import sweep
    from qslm_neuro.hw.chunked_sweep import sweep_chunked
    from qslm_neuro.workload.synthetic import synthetic_slm_workload

    workload = synthetic_slm_workload()
    grid = {"e_syn_op_pj": [5.0, 12.3, 30.0], "neurons_per_core": [128, 512, 1024],
            "t_syn_op_ns": [0.5, 1.0, 3.0, 4.0]}
    chips = ["loihi", "loihi2"]
    table = sweep(workload, chips, **grid)
    out = tmp_path / "grid.parquet"
    summary = sweep_chunked(workload, chips, executor=client, out=out, chunk_points=4,
                            progress=False, **grid)  # 2 chips x 9 blocks over the two workers
    assert pq.ParquetFile(out).metadata.num_row_groups == summary.chunks == 18
    got = pd.read_parquet(out)
    assert list(got.dtypes) == list(table.dtypes)
    pd.testing.assert_frame_equal(got, table, check_exact=True)
    csv = tmp_path / "grid.csv"
    sweep_chunked(workload, chips, executor=client, out=csv, chunk_points=4, progress=False,
                  **grid)
    assert csv.read_text() == table.to_csv(index=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.csv", "grid.parquet"]
