"""``qslm estimate --simulate sanafe``: record a checkpoint's spike-driven layers on real tokens
(weights with the plan applied, input spikes of each layer) and run them in SANA-FE beside our
cost model (:mod:`qslm_neuro.hw.sanafe_sim`). Torch is needed here, never in ``qslm_neuro.hw``.
"""
from __future__ import annotations

import argparse
from typing import Any, Sequence

from qslm_neuro.errors import BadInputError


def record_layer_runs(loaded: Any, plan: Any, n_tokens: int, data_dir: Any = None,
                      layers: Sequence[str] | None = None) -> tuple[list[Any], str]:
    """:class:`~qslm_neuro.hw.sanafe_sim.LayerRun` per spike-driven layer, and the token note."""
    import torch

    from qslm_neuro.hw.sanafe_sim import LayerRun
    from qslm_neuro.lava.traces import record_traces, task_token_stream
    from qslm_neuro.quant import QuantPlan

    model = loaded.model
    plan = plan if plan is not None else QuantPlan()
    chosen = [s for s in model.synapses() if s.kind == "linear" and s.source]
    if layers is not None:
        unknown = set(layers) - {s.layer for s in chosen}
        if unknown:
            raise BadInputError(f"not spike-driven layers: {sorted(unknown)}; choose from "
                                f"{[s.layer for s in chosen]}")
        chosen = [s for s in chosen if s.layer in layers]
    graded = [s.layer for s in model.synapses() if not (s.kind == "linear" and s.source)]
    tokens, note = task_token_stream(loaded, n_tokens, data_dir)
    if graded and layers is None:
        note += (f"; not simulated (graded or token inputs, not spike-driven): "
                 f"{', '.join(graded)}")
    targets = {s.layer: s.target for s in chosen if s.target}
    traces = record_traces(model, plan, tokens, [s.layer for s in chosen], targets=targets)
    populations = model.populations()
    runs = []
    with plan.applied(model), torch.no_grad():
        for synapse in chosen:
            weight = model.get_submodule(synapse.layer).weight.detach().float().cpu().numpy().T
            precision = plan.precision_of(synapse.layer)
            bits = precision.bits or 32
            trace = traces.layer(synapse.layer)
            target = populations.get(synapse.target) if synapse.target else None
            runs.append(LayerRun(
                name=synapse.layer, weights=weight.copy(), input_spikes=trace.inputs,
                weight_bits=int(bits), weight_format="int" if precision.kind == "int"
                else precision.kind,
                threshold=float(target.threshold) if target is not None else None,
                decay=float(target.beta) if target is not None else 0.5,
                recorded_output_spikes=(float(trace.target_spikes.sum(1).mean())
                                        if trace.target_spikes is not None else None)))
    return runs, note


def format_results(results: list[dict[str, Any]], chip: str) -> str:
    """Our figures beside SANA-FE's, per layer."""
    lines = [f"SANA-FE vs ours on {chip} (dynamic energy without non-synaptic work; step time "
             f"without embedded cores; SANA-FE's detailed timing, and its simple model)",
             f"{'layer':<26}{'format':>7}{'cores':>6}{'in/step':>8}{'out/step':>9}"
             f"{'SANA-FE nJ':>12}{'ours nJ':>10}{'E err':>8}{'SANA-FE us':>11}{'ours us':>9}"
             f"{'t err':>8}{'(vs simple)':>12}"]
    for r in results:
        if "unsupported" in r:
            lines.append(f"{r['layer']:<26} not simulated: {r['unsupported']}")
            continue
        s, o = r["sanafe"], r["ours"]
        lines.append(f"{r['layer']:<26}{r['synapse_format']:>7}{r['cores']:>6}"
                     f"{r['input_spikes_per_step']:>8.1f}{r['output_spikes_per_step']:>9.1f}"
                     f"{s['energy_per_step_j'] * 1e9:>12.2f}{o['energy_per_step_j'] * 1e9:>10.2f}"
                     f"{r['energy_error']:>+8.2%}{s['latency_per_step_s'] * 1e6:>11.3f}"
                     f"{o['latency_per_step_s'] * 1e6:>9.3f}{r['latency_error']:>+8.2%}"
                     f"{r['latency_error_vs_simple_model']:>+12.2%}")
    skipped = sorted({r["not_simulated"] for r in results if r.get("not_simulated")})
    for text in skipped:
        lines.append(f"not simulated by SANA-FE (excluded on both sides): {text}")
    return "\n".join(lines)


def run_simulate(args: argparse.Namespace, chips: list[str], overrides: dict[str, Any]) -> int:
    """Record, simulate on every chip, print the per-layer tables, write ``--out`` JSON."""
    from qslm_neuro.fileio import write_json_atomic
    from qslm_neuro.hw.sanafe_sim import simulate_layers

    if not getattr(args, "model", None):
        raise BadInputError("--simulate sanafe needs --model: SANA-FE replays the layers' weights "
                            "and recorded input spikes, which a workload file or --config lacks")
    from qslm_neuro.cli.common import load_model_arg, plan_from_arg

    torch_threads()
    loaded = load_model_arg(args.model)
    plan = plan_from_arg(args.plan, loaded.model)
    layers = [s.strip() for s in args.sim_layers.split(",")] if args.sim_layers else None
    if args.sim_tokens < 1:
        raise BadInputError(f"--sim-tokens {args.sim_tokens}: give a positive number of tokens")
    runs, note = record_layer_runs(loaded, plan, args.sim_tokens, args.data_dir, layers)
    print(f"recorded {len(runs)} spike-driven layers on {note}")
    everything = {}
    for chip in chips:
        results = simulate_layers(runs, chip, overrides, arch="derived", progress=True)
        print(format_results(results, chip))
        everything[chip] = results
    if args.out:
        write_json_atomic(args.out, {"tokens": note, "chips": everything})
        print(f"written {args.out}")
    return 0


def torch_threads() -> None:
    import torch

    torch.set_num_threads(1)  # one thread per process on the small shared CPU (DEVELOPERS.md)
