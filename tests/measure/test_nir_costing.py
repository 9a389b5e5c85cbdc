"""NIR graphs and plain snnTorch models in: workloads, conv costing, exact event counts."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from qslm_neuro.cli.main import main
from qslm_neuro.errors import BadInputError
from qslm_neuro.workload import Activity, NeuronPopulation, SynapticLayer, Workload

nir = pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")
C, H, W = 4, 6, 6


def _leaky(shape, **kw):
    return snn.Leaky(beta=torch.full(shape, 0.8), threshold=torch.full(shape, 0.5),
                     init_hidden=True, reset_mechanism="zero", **kw)


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, C, 3, padding=1), _leaky((C, H, W)), nn.Flatten(),
                        nn.Linear(C * H * W, 10), _leaky((10,), output=True))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[3].weight.mul_(4.0)
    return net


@pytest.fixture(scope="module")
def nir_file(tmp_path_factory):
    from snntorch.export_nir import export_to_nir

    folder = tmp_path_factory.mktemp("nir")
    graph = export_to_nir(_net(), torch.rand(1, 2, H, W), ignore_dims=[0])
    nir.write(str(folder / "net.nir"), graph)
    spikes = (torch.rand(12, 3, 2, H, W, generator=torch.Generator().manual_seed(1)) < 0.3)
    np.save(folder / "spikes.npy", spikes.float().numpy())
    return folder / "net.nir", folder / "spikes.npy", spikes.float()


def test_cli_costs_snntorch_export_and_counts_input_spikes(nir_file, capsys):
    path, spikes_path, spikes = nir_file
    assert main(["estimate", "--nir", str(path), "--inputs", str(spikes_path),
                 "--hw", "loihi2"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in ("0", "3")}
    assert rows["0"][1] == "conv" and rows["3"][1] == "linear"
    assert int(rows["0"][5]) == int(spikes.sum())  # input events == spikes in the file


def test_simulator_matches_snntorch_import(nir_file):
    from snntorch.import_nir import import_from_nir
    import snntorch.utils

    from qslm_neuro.measure.nir_sim import simulate

    path, _, spikes = nir_file
    graph = nir.read(str(path))
    sim = simulate(graph, spikes, keep=("1", "4"))
    net = import_from_nir(nir.read(str(path)))
    hidden = []
    getattr(net, "1").register_forward_hook(lambda m, a, o: hidden.append(o))
    outs = []
    for b in range(spikes.shape[1]):
        snntorch.utils.reset(net)
        outs.append(torch.stack([net(spikes[t, b])[0] for t in range(spikes.shape[0])]))
    ref_out = torch.stack(outs, 1).double()
    ref_hidden = torch.stack(hidden).reshape(spikes.shape[1], spikes.shape[0], -1)
    assert ref_out.sum() > 5 and ref_hidden.sum() > 20  # the comparison is not vacuous
    assert torch.equal(sim.outputs["4"], ref_out)
    assert torch.equal(sim.outputs["1"].reshape(12, 3, -1), ref_hidden.transpose(0, 1).double())


def test_estimate_api_and_rates(nir_file):
    import qslm_neuro

    path, spikes_path, spikes = nir_file
    report = qslm_neuro.estimate(str(path), hw="loihi2", inputs=spikes)
    assert report.layer_rows["kind"].tolist() == ["conv", "linear"]
    stated = qslm_neuro.estimate(str(path), hw="loihi", rates={"input": 0.25, "1": 0.1})
    layer = stated.layer_rows.set_index("name")
    assert layer.loc["0", "input_events_per_step"] == pytest.approx(0.25 * 2 * H * W)
    assert layer.loc["3", "input_events_per_step"] == pytest.approx(0.1 * C * H * W)
    with pytest.raises(BadInputError, match="state its rate"):
        qslm_neuro.estimate(str(path), rates={"input": 0.2})


def test_unknown_node_is_named_and_exits_2(tmp_path, capsys, monkeypatch):
    from qslm_neuro.measure import from_nir as from_nir_module

    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array([3])),
                                "fc": nir.Linear(np.ones((2, 3))),
                                "output": nir.Output(np.array([2]))},
                         edges=[("input", "fc"), ("fc", "output")])

    class Weird:  # a node type qslm-neuro does not know
        input_type = output_type = {}

    graph.nodes["odd"] = Weird()
    graph.edges.append(("fc", "odd"))
    with pytest.raises(BadInputError, match="'odd'.*Weird"):
        from_nir_module.from_nir(graph, rates={"input": 0.1})
    spikes = tmp_path / "s.npy"
    np.save(spikes, np.zeros((2, 1, 3), dtype=np.float32))
    monkeypatch.setattr(from_nir_module, "read_graph", lambda _p: (graph, "weird"))
    assert main(["estimate", "--nir", "weird.nir", "--inputs", str(spikes)]) == 2
    assert "'odd'" in capsys.readouterr().err
    assert main(["estimate", "--nir", str(tmp_path / "none.nir"), "--inputs", str(spikes)]) == 2


def test_conv_memory_holds_the_kernel_not_the_unrolled_matrix():
    from qslm_neuro.hw import estimate

    act = Activity(input_events_per_step=10.0)
    conv = SynapticLayer("c", fan_in=2 * 8 * 8, fan_out=4 * 8 * 8, weight_bits=8,
                         weight_format="int", kind="conv", kernel_weights=4 * 2 * 9,
                         kernel_positions=9, out_channels=4, connections=4 * 2 * 9 * 64 - 400,
                         activity=act, source="in")
    dense = SynapticLayer("d", fan_in=2 * 8 * 8, fan_out=4 * 8 * 8, weight_bits=8,
                          weight_format="int", activity=act, source="in")
    rc = estimate(Workload("c", (conv,)), "loihi2").layer_rows.iloc[0]
    rd = estimate(Workload("d", (dense,)), "loihi2").layer_rows.iloc[0]
    assert rc["synaptic_memory_bytes"] < rd["synaptic_memory_bytes"] / 50
    per_event = conv.connections / conv.fan_in
    assert per_event <= 9 * 4
    assert rc["synaptic_ops_per_step"] == pytest.approx(10.0 * per_event)
    assert rd["synaptic_ops_per_step"] == pytest.approx(10.0 * 256)


def test_workload_validation_messages():
    with pytest.raises(BadInputError, match="exceed its fan_in"):
        SynapticLayer("a", 4, 2, activity=Activity(5.0))
    with pytest.raises(BadInputError, match="kernel_weights"):
        SynapticLayer("a", 4, 2, kind="conv", activity=Activity(1.0))
    pop = NeuronPopulation("hidden", 8)
    with pytest.raises(BadInputError, match="did you mean"):
        Workload("w", (SynapticLayer("b", 8, 2, source="hiden"),), (pop,))
    with pytest.raises(BadInputError, match="must be equal"):
        Workload("w", (SynapticLayer("b", 3, 5, target="hidden"),), (pop,))
    old = Workload("w", (SynapticLayer("b", 8, 2, source="hidden"),), (pop,)).to_dict()
    for layer in old["layers"]:  # a workload JSON written before conv layers existed
        for key in ("kernel_weights", "kernel_positions", "out_channels", "connections"):
            layer.pop(key)
    assert Workload.from_dict(old).layers[0].weight_count == 16


def test_time_stepped_recorder_counts_exact_events():
    from qslm_neuro.measure.time_stepped import workload_from_module
    from qslm_neuro.workload.neurobench import neurobench_counts

    torch.manual_seed(0)
    lif = snn.Leaky(beta=0.5, threshold=1.0, init_hidden=True, reset_mechanism="zero")
    net = nn.Sequential(nn.Linear(6, 5, bias=False), lif, nn.Linear(5, 3, bias=False),
                        snn.Leaky(beta=0.5, init_hidden=True, output=True))
    with torch.no_grad():
        net[0].weight.copy_(torch.linspace(-0.5, 1.5, 30).reshape(5, 6))
    spikes = torch.zeros(4, 2, 6)
    spikes[0, 0, :3] = 1
    spikes[1, 1, :] = 1
    spikes[3, 0, 5] = 1  # 3 + 6 + 1 = 10 input spikes over 4 steps x 2 samples
    # the hidden spikes, stepped by hand with snnTorch's equations
    mem = torch.zeros(2, 5)
    hidden = 0
    for t in range(4):
        mem = 0.5 * mem * (mem <= 1.0) + spikes[t] @ net[0].weight.T
        hidden += int((mem > 1.0).sum())
    w = workload_from_module(net, None, spikes)
    first, second = w.layers
    assert first.activity.input_events_per_step * first.activity.samples == pytest.approx(10)
    assert first.activity.samples == 8 and first.source == "input" and first.target == "1"
    assert second.activity.input_events_per_step * 8 == pytest.approx(hidden) and hidden > 0
    assert second.source == "1"
    counts = neurobench_counts(w)
    assert counts["Effective_ACs"] == pytest.approx((10 * 5 + hidden * 3) / 8)
    assert counts["Dense"] == 6 * 5 + 5 * 3
    assert counts["MembraneUpdates"] == 8


def test_without_nir_the_features_say_how_to_install(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "nir", None)  # import nir now raises ImportError
    spikes = tmp_path / "s.npy"
    np.save(spikes, np.zeros((2, 1, 3), dtype=np.float32))
    assert main(["estimate", "--nir", "net.nir", "--inputs", str(spikes)]) == 2
    assert "pip install 'qslm-neuro[nir]'" in capsys.readouterr().err


def test_recorder_reads_synaptic_and_project_populations():
    from qslm_neuro.measure.time_stepped import workload_from_module
    from qslm_neuro.models.neurons import LIFPopulation

    class Net(nn.Module):  # the project's populations run whole sequences [batch, time, ...]
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.pop, self.fc2 = nn.Linear(6, 5), LIFPopulation(5), nn.Linear(5, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc2(self.pop(self.fc1(x.transpose(0, 1))))

    torch.manual_seed(0)
    spikes = (torch.rand(7, 3, 6) < 0.4).float()
    w = workload_from_module(Net(), None, spikes)
    first, second = w.layers
    assert first.activity.samples == 21
    assert first.activity.input_events_per_step * 21 == pytest.approx(float(spikes.sum()))
    assert second.source == "pop" and first.target == "pop"
    pop = next(p for p in w.populations if p.name == "pop")
    assert pop.output_spikes_per_step == pytest.approx(second.activity.input_events_per_step)

    seq = nn.Sequential(nn.Linear(6, 4), snn.Synaptic(alpha=0.5, beta=0.8, init_hidden=True),
                        nn.Linear(4, 2))
    w = workload_from_module(seq, None, spikes)
    assert w.layers[1].source == "1" and w.layers[0].target == "1"
    assert w.layers[0].activity.input_events_per_step * 21 == pytest.approx(float(spikes.sum()))


def test_plain_model_without_inputs_says_to_give_spike_trains():
    from qslm_neuro import estimate

    net = nn.Sequential(nn.Linear(4, 3), snn.Leaky(beta=0.9, init_hidden=True))
    with pytest.raises(BadInputError, match="inputs=spikes"):
        estimate((net, None), "loihi2")


def _arr(*shape, value=1.0):
    return np.full(shape, value)


def test_every_node_type_gets_a_cost_role():
    from qslm_neuro.measure.from_nir import from_nir

    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(np.array([1, 6, 6])),
        "conv": nir.Conv2d((6, 6), rng.normal(0.8, 0.3, (2, 1, 3, 3)), 1, 1, 1, 1, np.zeros(2)),
        "if": nir.IF(r=_arr(2, 6, 6), v_threshold=_arr(2, 6, 6)),
        "pool": nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0),
        "scale": nir.Scale(_arr(18, value=2.0)),
        "delay": nir.Delay(_arr(18, value=2e-4)),
        "fc": nir.Linear(rng.normal(0.5, 0.2, (6, 18))),
        "thr": nir.Threshold(_arr(6, value=0.5)),
        "aff": nir.Affine(rng.normal(0, 1, (4, 6)), np.zeros(4)),
        "li": nir.LI(tau=_arr(4, value=2e-4), r=_arr(4, value=2.0), v_leak=_arr(4, value=0.0)),
        "fc2": nir.Linear(rng.normal(0, 1, (3, 6))),
        "culi": nir.CubaLI(tau_syn=_arr(3, value=2e-4), tau_mem=_arr(3, value=2e-4),
                           r=_arr(3, value=2.0), v_leak=_arr(3, value=0.0)),
        "fc3": nir.Linear(rng.normal(0, 1, (3, 6))),
        "i": nir.I(r=_arr(3)),
        "output": nir.Output(np.array([4])),
    }
    edges = [("input", "conv"), ("conv", "if"), ("if", "pool"), ("pool", "flat"),
             ("flat", "scale"), ("scale", "delay"), ("delay", "fc"), ("fc", "thr"),
             ("thr", "aff"), ("aff", "li"), ("li", "output"), ("thr", "fc2"), ("fc2", "culi"),
             ("thr", "fc3"), ("fc3", "i")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    spikes = (torch.rand(10, 2, 1, 6, 6, generator=torch.Generator().manual_seed(0)) < 0.5)
    w = from_nir(graph, inputs=spikes.float())
    kinds = {l.name: (l.kind, l.source, l.target) for l in w.layers}
    assert kinds == {"conv": ("conv", "input", "if"), "fc": ("linear", "", "thr"),
                     "aff": ("linear", "thr", "li"), "fc2": ("linear", "thr", "culi"),
                     "fc3": ("linear", "thr", "i")}
    pops = {p.name: p.neuron_type for p in w.populations}
    assert pops == {"input": "input", "if": "if", "thr": "threshold", "li": "li",
                    "culi": "cuba_li", "i": "i"}
    assert {o.name: o.kind for o in w.nonsynaptic} == {"pool": "pooling", "scale": "elementwise",
                                                      "delay": "elementwise"}
    assert w.layer("fc").activity.binary_share < 1.0  # scaled spikes: graded inputs
    assert w.layer("aff").activity.input_events_per_step > 0  # spikes went all the way through

    conv1d = nir.NIRGraph(nodes={"input": nir.Input(np.array([2, 10])),
                                 "c": nir.Conv1d(10, np.ones((3, 2, 3)), 1, 0, 1, 1, np.zeros(3)),
                                 "lif": nir.LIF(tau=_arr(3, 8), r=_arr(3, 8), v_leak=_arr(3, 8),
                                                v_threshold=_arr(3, 8)),
                                 "output": nir.Output(np.array([3, 8]))},
                          edges=[("input", "c"), ("c", "lif"), ("lif", "output")])
    layer = from_nir(conv1d, rates={"input": 0.5}).layers[0]
    assert (layer.kind, layer.fan_in, layer.fan_out, layer.kernel_weights) == ("conv", 20, 24, 18)
    assert layer.connections == 3 * 2 * 3 * 8  # no padding: every output sees the full kernel


def test_simulator_matches_import_for_cubalif_and_avgpool():
    from snntorch.import_nir import import_from_nir
    import snntorch.utils

    from qslm_neuro.measure.nir_sim import simulate

    rng = np.random.default_rng(1)
    shape = (4, 6, 6)
    dt, tau_syn, tau_mem = 1e-4, 1e-4 / 0.5, 1e-4 / 0.2
    nodes = {
        "input": nir.Input(np.array([2, 6, 6])),
        "conv": nir.Conv2d((6, 6), rng.normal(0.3, 0.4, (4, 2, 3, 3)).astype(np.float32), 1, 1,
                           1, 1, np.zeros(4, dtype=np.float32)),
        "cuba": nir.CubaLIF(tau_syn=_arr(*shape, value=tau_syn),
                            tau_mem=_arr(*shape, value=tau_mem),
                            r=_arr(*shape, value=tau_mem / dt), v_leak=_arr(*shape, value=0.0),
                            v_threshold=_arr(*shape, value=1.0),
                            w_in=_arr(*shape, value=tau_syn / dt)),
        "pool": nir.AvgPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=0),
        "fc": nir.Affine(rng.normal(0.5, 0.5, (5, 36)).astype(np.float32),
                         np.zeros(5, dtype=np.float32)),
        "lif": nir.LIF(tau=_arr(5, value=tau_mem), r=_arr(5, value=tau_mem / dt),
                       v_leak=_arr(5, value=0.0), v_threshold=_arr(5, value=0.5)),
        "output": nir.Output(np.array([5])),
    }
    edges = [("input", "conv"), ("conv", "cuba"), ("cuba", "pool"), ("pool", "flat"),
             ("flat", "fc"), ("fc", "lif"), ("lif", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    spikes = (torch.rand(12, 2, 2, 6, 6, generator=torch.Generator().manual_seed(2)) < 0.4).float()
    ours = simulate(graph, spikes, keep=("lif",)).outputs["lif"]
    net = import_from_nir(graph)
    theirs = []
    for b in range(2):
        snntorch.utils.reset(net)
        theirs.append(torch.stack([net(spikes[t, b])[0] for t in range(12)]))
    theirs = torch.stack(theirs, 1).double()
    assert theirs.sum() > 5 and torch.equal(ours, theirs)


def test_recurrent_rleaky_export_is_simulated_and_costed():
    """snnTorch's RLeaky exports as LIF <-> Affine; with reset_delay=False its zero reset is
    NIR's (the delayed one also drops the input of the step after a spike)."""
    from snntorch.export_nir import export_to_nir
    import snntorch.utils

    from qslm_neuro.measure.from_nir import from_nir
    from qslm_neuro.measure.nir_sim import simulate

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 5),
                        snn.RLeaky(beta=torch.full((5,), 0.8), threshold=torch.ones(5),
                                   linear_features=5, init_hidden=True, reset_mechanism="zero",
                                   reset_delay=False), nn.Linear(5, 2))
    with torch.no_grad():
        net[1].recurrent.weight.mul_(3)
    graph = export_to_nir(net, torch.rand(1, 6), ignore_dims=[0])
    x = (torch.rand(15, 3, 6, generator=torch.Generator().manual_seed(3)) < 0.5).float()
    sim = simulate(graph, x, keep=("1.lif",))
    hidden = []
    net[1].register_forward_hook(lambda m, a, o: hidden.append(o))
    snntorch.utils.reset(net)
    with torch.no_grad():
        for t in range(15):
            net(x[t])
    assert torch.stack(hidden).sum() > 5
    assert torch.equal(torch.stack(hidden).double(), sim.outputs["1.lif"])
    rec = from_nir(graph, inputs=x).layer("1.w_rec")
    assert (rec.source, rec.target) == ("1.lif", "1.lif")
    spikes = float(torch.stack(hidden).sum())
    assert rec.activity.input_events_per_step * 45 == pytest.approx(spikes)
