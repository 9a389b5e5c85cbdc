"""Cost equations of a Loihi-like chip: pure numpy, broadcasting over hardware-parameter arrays.

``pl`` holds each parameter shaped to broadcast against a trailing layer axis, ``pg`` the same
values without it (for totals). With plain floats both are scalars and the result is one
estimate; with open-grid arrays (one axis per swept parameter) the result is the whole grid.
Totals are summed over layers *before* they meet layer-independent parameters, so a swept energy
figure never multiplies a (grid x layers) array. Counting is kept apart from pricing: the step
counts actions (synaptic ops, bits read, compartment updates, messages, hops, cycles) and
:data:`ENERGY` prices them, for the whole step and for each row of the per-layer table. Parts
and time: :mod:`.common`; the mapping (cores, synapse format per layer):
:mod:`qslm_neuro.hw.mapping`; equations in words: ``hw_models/README.md``.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from qslm_neuro.hw.arrays import WorkloadArrays
from qslm_neuro.hw.families.base import EnergyTable, Family, price_parts, row_counts
from qslm_neuro.hw.families.common import Rule, StepCosts, max_last, name_list
from qslm_neuro.hw.mapping import choose_format, map_to_cores, sparse_matmul, synop_fixed_pj
from qslm_neuro.hw.schema import NEUROMORPHIC_NONSYN_DEFAULTS, NEUROMORPHIC_PARAMS, NONSYN_KINDS

Params = Mapping[str, "np.ndarray | float"]

#: Names of the step period's parts (what can bound the token rate), in report order.
TIME_PARTS = ("synaptic cores", "embedded cores", "programmable neurons", "NoC", "barrier",
              "chip link")

#: Energy per action (pJ): each part from the step's (or a table row's) action counts.
ENERGY: EnergyTable = {
    "synaptic_ops": lambda c, p: synop_fixed_pj(p) * (
        c["synops"] + (p["graded_op_energy_factor"] - 1.0) * c["graded_synops"]),
    "memory_reads": lambda c, p: p["e_syn_read_pj_per_bit"] * c["bits_read"],
    "neuron_updates": lambda c, p: p["e_neuron_access_pj"] * c["compartment_updates"]
    + p["e_neuron_active_pj"] * c["active_compartments"],
    "spike_messages": lambda c, p: p["e_spike_out_pj"] * c["spikes"]
    + (p["e_msg_out_pj"] + p["e_msg_in_pj"]) * c["messages"],
    "noc_hops": lambda c, p: c["messages"] * (c["hops_per_message"] * p["e_hop_pj"]
                                              + c["off_chip_share"] * p["e_chip_link_pj"]),
    "nonsynaptic": lambda c, p: c["embedded_cycles"] * p["e_embedded_cycle_pj"]
    + c["programmable_ops"] * p["e_prog_op_pj"] + c["io_values"] * p["e_io_value_pj"],
}


def static_mw(p: Params, cores: Any, chips: Any) -> Any:
    """Static power: a share per chip plus one per powered (used) core; unused cores are gated."""
    return p["p_static_chip_mw"] * chips + p["p_static_core_mw"] * cores


def neuromorphic_step(wa: WorkloadArrays, pl: Params, pg: Params,
                      per_layer: bool = False) -> StepCosts:
    """One time step on a Loihi-like chip: see ``hw_models/README.md`` for the equations.

    With ``synapse_format = auto`` and static power per core the format choice needs the step's
    period: a first pass chooses by synaptic energy alone and gives the period, which then prices
    each format's cores. Only the grid points where that can change a layer's format (or where
    formats were switched to fit the chips) are evaluated again (gathered as a flat list), so a
    sweep costs little more than one pass.
    """
    if not (np.any(np.asarray(pl["synapse_format"]) == 0)
            and np.any(np.asarray(pl["p_static_core_mw"]) > 0)):
        return _step(wa, pl, pg, per_layer, 0.0)
    first = _step(wa, pl, pg, False, 0.0)
    period = np.asarray(first.time_ns)[..., None]
    if per_layer:
        return _step(wa, pl, pg, True, period)
    # only layers whose formats need different core counts can change, and only for auto
    f = choose_format(wa, pl, 0.0)
    auto = np.asarray(pl["synapse_format"]) == 0
    extra, saving = np.asarray(f["extra_static_mw"]), np.asarray(f["saving_pj"])
    # the static term can only overturn a saving (extra cores) or a loss (fewer cores)
    can_flip = auto & (((saving > 0) & (extra > 0)) | ((saving <= 0) & (extra < 0)))
    cols = np.nonzero(np.any(can_flip, axis=tuple(range(can_flip.ndim - 1)))
                      if can_flip.ndim > 1 else np.atleast_1d(can_flip))[0]
    changed = np.asarray(f["refit"])  # a refit chosen without the period is chosen again
    if cols.size:
        def take(a: np.ndarray) -> np.ndarray:
            return a[..., cols] if a.ndim and a.shape[-1] > 1 else a

        flipped = (take(saving) > take(extra) * period) != (take(saving) > 0)
        changed = changed | np.any(flipped & take(auto.astype(bool) * np.ones(1, bool)), axis=-1)
    if not np.any(changed):
        return first
    shape = np.broadcast_shapes(np.shape(changed), np.shape(first.time_ns),
                                *(np.shape(v) for v in pg.values()))
    where = np.nonzero(np.broadcast_to(changed, shape))
    pg_sub = {k: (np.broadcast_to(v, shape)[where] if np.ndim(v) else v) for k, v in pg.items()}
    pl_sub = {k: (v[:, None] if np.ndim(v) else v) for k, v in pg_sub.items()}
    again = _step(wa, pl_sub, pg_sub, False, np.broadcast_to(period[..., 0], shape)[where][:, None])

    def merged(full: Any, part: Any) -> np.ndarray:
        out = np.array(np.broadcast_to(np.asarray(full), shape))
        out[where] = part
        return out

    for name in ("time_ns", "static_mw", "cores", "chips", "synaptic_memory_bytes", "feasible"):
        setattr(first, name, merged(getattr(first, name), getattr(again, name)))
    for table in ("energy_pj", "time_parts_ns", "extra"):
        full, part = getattr(first, table), getattr(again, table)
        setattr(first, table, {k: merged(full[k], part[k]) for k in full})
    return first


def _step(wa: WorkloadArrays, pl: Params, pg: Params, per_layer: bool,
          period_ns: "np.ndarray | float") -> StepCosts:
    m = map_to_cores(wa, pl, pg, period_ns)
    b = wa.binary_share
    graded_events = wa.input_events * (1.0 - b) * pl["graded_input_ops"]
    events = wa.input_events * b + graded_events            # messages-worth of input per step
    msgs_in = events * m.dest_cores_per_input               # dense: every output split; conv: fewer
    synops = events * m.synapses_per_event                  # zeros only where the format is dense
    synops_graded = graded_events * m.synapses_per_event
    io_values = (wa.fan_out * wa.calls * ~wa.has_target).sum()  # graded outputs read out

    # action counts per step, summed over layers before they meet the (swept) energy figures
    synops_sum = synops.sum(-1)
    msgs_sum = msgs_in.sum(-1)
    free_neurons = wa.free_pop_sizes.sum()
    mesh_side = np.sqrt(np.minimum(m.tiles, pg["cores_per_chip"] / pg["cores_per_tile"]))
    hops = pg["hop_distance_factor"] * (mesh_side - 1.0 / mesh_side)
    off_chip_share = 1.0 - 1.0 / m.chips
    # cycles_<kind> counts instructions per elementary op on whichever processor runs it
    prog_ops = sum(wa.nonsyn_ops[i] * pg[f"prog_share_{k}"] * pg[f"cycles_{k}"]
                   for i, k in enumerate(NONSYN_KINDS))
    embedded_cycles = sum(wa.nonsyn_ops[i] * (1.0 - pg[f"prog_share_{k}"]) * pg[f"cycles_{k}"]
                          for i, k in enumerate(NONSYN_KINDS))
    counts = {
        "synops": synops_sum, "graded_synops": synops_graded.sum(-1),
        "bits_read": (synops * m.read_bits).sum(-1),
        "compartment_updates": m.compartments.sum(-1) + free_neurons,
        "active_compartments": (m.compartments * wa.active_share).sum(-1) + free_neurons,
        "spikes": wa.pop_spikes_total, "messages": msgs_sum, "hops_per_message": hops,
        "off_chip_share": off_chip_share, "embedded_cycles": embedded_cycles,
        "programmable_ops": prog_ops, "io_values": io_values,
    }
    energy = price_parts(ENERGY, counts, pg)

    # time (ns per step): every core works in parallel; the slowest core sets the pace
    per_core_in = events / m.split_in
    receive_ns = per_core_in * pl["t_msg_in_ns"] + synops / m.cores * pl["t_syn_op_ns"]
    send_ns = (m.compartments / m.cores * (pl["t_neuron_access_ns"]
                                           + wa.active_share * pl["t_neuron_active_ns"])
               + wa.target_spikes / m.cores * pl["t_spike_out_ns"]
               + wa.target_spikes * m.dest_cores_per_spike / m.cores * pl["t_msg_out_ns"])
    layer_ns = np.maximum(receive_ns, send_ns)
    source_msgs = sparse_matmul(msgs_in, wa.source_onehot)
    source_ns = (source_msgs * pl["t_msg_out_ns"]
                 + wa.source_is_lif * (wa.source_sizes * (pl["t_neuron_access_ns"]
                                                          + pl["t_neuron_active_ns"])
                                       + wa.source_spikes * pl["t_spike_out_ns"])
                 ) / m.source_cores
    embedded_ns = ((embedded_cycles / pg["embedded_clock_hz"] * 1e9 + io_values * pg["t_io_value_ns"])
                   / (pg["embedded_cores_per_chip"] * m.chips))
    prog_ns = prog_ops * pg["t_prog_op_ns"] / m.cores_total
    cores_ns = np.maximum(max_last(layer_ns), max_last(source_ns))
    sync_ns = np.minimum(pg["t_sync_base_ns"] + pg["t_sync_per_doubling_ns"] * np.log2(m.tiles),
                         pg["t_sync_max_ns"])
    parts_ns = dict(zip(TIME_PARTS, (cores_ns, embedded_ns, prog_ns, hops * pg["t_hop_ns"],
                                     sync_ns, (m.chips > 1) * pg["t_chip_link_ns"])))
    time_ns = (np.maximum(np.maximum(cores_ns, embedded_ns), prog_ns) + parts_ns["NoC"]
               + sync_ns + parts_ns["chip link"])

    feasible = (m.chips <= pg["max_chips"]) & m.fanout_ok
    costs = StepCosts(
        energy_pj=energy, time_ns=time_ns, static_mw=static_mw(pg, m.cores_total, m.chips),
        cores=m.cores_total,
        chips=m.chips, synaptic_memory_bytes=m.synaptic_memory_bytes.sum(-1), feasible=feasible,
        time_parts_ns=parts_ns, parallel=TIME_PARTS[:3],
        pipeline_depth=wa.pipeline_depth,
        extra={"tiles": m.tiles, "mean_hops": hops, "messages_per_step": msgs_sum,
               "synaptic_ops_per_step": synops_sum, "embedded_ns": embedded_ns,
               "sync_ns": sync_ns})
    if per_layer:
        costs.layers, costs.rows = _table(wa, pl, m, counts, synops, synops_graded, msgs_in,
                                          layer_ns, source_ns)
        costs.extra["layers_switched_to_fit"] = np.asarray(m.switched).sum(-1)
    return costs


def _table(wa: WorkloadArrays, p: Params, m: Any, step_counts: Mapping[str, Any],
           synops: np.ndarray, synops_graded: np.ndarray, msgs_in: np.ndarray,
           layer_ns: np.ndarray, source_ns: np.ndarray) -> tuple[dict, dict]:
    """Per-layer arrays, and rows for the cores and work no layer owns (they sum to the totals),
    each priced by :data:`ENERGY` from its own counts."""
    counts = row_counts(
        synops=synops, graded_synops=synops_graded, bits_read=synops * m.read_bits,
        compartment_updates=m.compartments, active_compartments=m.compartments * wa.active_share,
        spikes=wa.target_spikes, messages=msgs_in,
        hops_per_message=step_counts["hops_per_message"],
        off_chip_share=step_counts["off_chip_share"])
    layers = {
        "synapse_format": np.where(m.sparse, "sparse", "dense"),
        "synapses_per_weight": m.synapses_per_weight, "bits_per_synapse": m.read_bits,
        "synaptic_memory_bytes": m.synaptic_memory_bytes,
        "cores": m.cores, "fan_in_split": m.split_in, "fan_out_split": m.split_out,
        "compartments": m.compartments, "dest_cores_per_spike": m.dest_cores_per_spike,
        "synaptic_ops_per_step": synops, "messages_per_step": msgs_in,
        **{f"{part}_pj": value for part, value in price_parts(ENERGY, counts, p).items()},
        "core_time_ns": layer_ns,
    }
    rows: dict[str, dict] = {}
    source_time = dict(zip(wa.source_names, np.atleast_1d(source_ns)))
    for j, name in enumerate(wa.source_names):
        if not wa.source_is_lif[j]:
            rows[name] = {"kind": "input", "cores": m.source_cores[j],
                          "core_time_ns": source_time[name]}
    for q, name in enumerate(wa.free_pop_names):
        size = wa.free_pop_sizes[q]
        priced = price_parts(ENERGY, row_counts(compartment_updates=size, active_compartments=size,
                                                spikes=wa.free_pop_spikes[q]), p)
        rows[name] = {"kind": "population", "cores": np.ceil(size / p["neurons_per_core"]),
                      "compartments": size,
                      **{f"{part}_pj": value for part, value in priced.items()},
                      "core_time_ns": source_time.get(name, size * (p["t_neuron_access_ns"]
                                                                    + p["t_neuron_active_ns"])
                                                      / np.ceil(size / p["neurons_per_core"]))}
    nonsynaptic = row_counts(**{k: step_counts[k] for k in ("embedded_cycles", "programmable_ops",
                                                          "io_values")})
    rows["non-synaptic (embedded cores, programmable neurons)"] = {
        "kind": "nonsynaptic", "cores": 0.0,
        **{f"{part}_pj": value for part, value in price_parts(ENERGY, nonsynaptic, p).items()}}
    rows["chip (static power of the chips)"] = {"kind": "chip", "cores": 0.0}
    return layers, rows


def row_static_mw(p: Params, step: StepCosts, kinds: Any, cores: Any) -> Any:
    """Each row's static power: its cores' share, and the chip row the per-chip share."""
    return np.where(np.asarray(kinds) == "chip", static_mw(p, 0.0, float(np.asarray(step.chips))),
                    static_mw(p, np.asarray(cores, dtype=float), 0.0))


def neuromorphic_flags(p: Params, wa: WorkloadArrays, step: StepCosts) -> list[str]:
    """What a reader of a neuromorphic estimate must know: formats, splits, chips, limits."""
    flags: list[str] = []
    spw = np.asarray(step.layers["synapses_per_weight"])
    floats: dict[tuple[str, int], list[str]] = {}
    splits: dict[tuple[int, int], list[str]] = {}
    for i, name in enumerate(wa.layer_names):
        fmt, bits = wa.weight_formats[i], int(wa.weight_bits[i])
        if fmt != "int":
            floats.setdefault((fmt, bits), []).append(name)
        if spw[i] > 1:
            splits.setdefault((bits, int(spw[i])), []).append(name)
    for (fmt, bits), names in floats.items():
        flags.append(f"{fmt} weights costed as {bits}-bit fixed point (the chip has no "
                     f"floating-point synapses): {name_list(names)}")
    for (bits, count), names in splits.items():
        width = int(p['max_weight_bits'])
        flags.append(f"{bits}-bit weights exceed the {width}-bit synapse; split over {count} "
                     f"synapses per weight ({count} x {width} = {count * width} bits occupied "
                     f"per weight, {count}x synaptic ops): {name_list(names)}")
    formats = list(np.asarray(step.layers["synapse_format"]))
    chosen = {0: "cheaper per layer", 1: "forced by the chip", 2: "forced by the chip"}[
        int(p["synapse_format"])]
    switched = int(step.extra.get("layers_switched_to_fit", 0))
    if switched:
        chosen += (f"; {switched} layer(s) switched to the format needing fewer cores so the "
                   f"model fits {int(p['max_chips'])} chip(s)")
    flags.append(f"synapse formats ({chosen}): "
                 f"{formats.count('dense')} layer(s) dense, {formats.count('sparse')} sparse "
                 f"({int(p['sparse_index_bits'])} index bits per synapse)")
    graded = [n for n, b in zip(wa.layer_names, wa.binary_share) if b < 1.0]
    if graded and p["graded_input_ops"] > 1:
        flags.append(f"{len(graded)} layer(s) take non-binary inputs; each graded event costs "
                     f"{p['graded_input_ops']:g} binary synaptic events (bit-serial spikes)")
    chips, max_chips = int(step.chips), int(p["max_chips"])
    if chips > max_chips:
        flags.append(f"needs {chips} chips ({int(step.cores)} cores at "
                     f"{int(p['cores_per_chip'])} per chip); the model allows {max_chips} "
                     f"(override max_chips for a multi-chip system)")
    elif chips > 1:
        flags.append(f"mapped over {chips} chips ({int(step.cores)} cores)")
    if not bool(np.all(np.asarray(step.layers["dest_cores_per_spike"])
                       <= p["max_axons_out_per_core"])):
        flags.append("a neuron's spikes must reach more cores than max_axons_out_per_core")
    total_ops = wa.nonsyn_ops.sum()
    if total_ops > 0:
        prog = sum(wa.nonsyn_ops[i] * p[f"prog_share_{k}"]
                   for i, k in enumerate(NONSYN_KINDS))
        flags.append(f"non-synaptic ops: {1 - prog / total_ops:.0%} on embedded cores, "
                     f"{prog / total_ops:.0%} on programmable neurons")
    return flags


def neuromorphic_rules(p: Params) -> list[Rule]:
    """Cross-field rules of a Loihi-like chip (values may be arrays that broadcast)."""
    rules: list[Rule] = [
        (np.asarray(p["cores_per_tile"]) > np.asarray(p["cores_per_chip"]),
         ("cores_per_tile", "cores_per_chip"),
         "a tile cannot hold more cores than the chip; lower cores_per_tile or raise "
         "cores_per_chip"),
        (np.asarray(p["t_sync_base_ns"]) > np.asarray(p["t_sync_max_ns"]),
         ("t_sync_base_ns", "t_sync_max_ns"),
         "the barrier ceiling is below its one-tile time; set t_sync_max_ns >= t_sync_base_ns"),
        (np.asarray(p["e_syn_read_pj_per_bit"]) * np.asarray(p["syn_op_ref_bits"])
         > np.asarray(p["e_syn_op_pj"]) * (1 + 1e-9),
         ("e_syn_read_pj_per_bit", "syn_op_ref_bits", "e_syn_op_pj"),
         "the weight read alone costs more than the whole synaptic op; lower "
         "e_syn_read_pj_per_bit or syn_op_ref_bits, or raise e_syn_op_pj"),
        (np.asarray(p["syn_mem_per_core_bytes"]) * 8 < np.asarray(p["max_weight_bits"]),
         ("syn_mem_per_core_bytes", "max_weight_bits"),
         "a core cannot hold a single synapse; raise syn_mem_per_core_bytes"),
        (np.asarray(p["max_axons_in_per_core"]) > np.asarray(p["neurons_per_core"])
         * np.asarray(p["syn_mem_per_core_bytes"]) * 8,
         ("max_axons_in_per_core", "neurons_per_core", "syn_mem_per_core_bytes"),
         "more input axons than the core has synapse bits could ever connect; lower "
         "max_axons_in_per_core"),
    ]
    no_prog = (np.asarray(p["e_prog_op_pj"]) == 0) & (np.asarray(p["t_prog_op_ns"]) == 0)
    for kind in NONSYN_KINDS:
        rules.append((no_prog & (np.asarray(p[f"prog_share_{kind}"]) > 0),
                      (f"prog_share_{kind}", "e_prog_op_pj", "t_prog_op_ns"),
                      f"work on programmable neurons would be free; give e_prog_op_pj and "
                      f"t_prog_op_ns, or set prog_share_{kind} = 0 (embedded cores)"))
    return rules


NEUROMORPHIC = Family(
    name="neuromorphic", description="a Loihi-like chip: event-driven cores with synaptic "
    "memory, LIF compartments, a mesh network and embedded processors",
    params=NEUROMORPHIC_PARAMS, nonsyn_defaults=NEUROMORPHIC_NONSYN_DEFAULTS,
    step=neuromorphic_step, flags=neuromorphic_flags, rules=neuromorphic_rules,
    static_mw=row_static_mw, energy=ENERGY)
