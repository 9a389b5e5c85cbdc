"""The .tflite and netx readers on small files these tests build themselves (flatbuffers, h5py),
checked against MAC and spike counts computed here by brute force; then through the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qslm_neuro.errors import BadInputError

ROOT = Path(__file__).resolve().parents[2]
tflite = pytest.importorskip("tflite")
flatbuffers = pytest.importorskip("flatbuffers")
h5py = pytest.importorskip("h5py")

INT8, INT32 = 9, 2  # tflite.TensorType codes


def _vector(b, start, items, prepend):
    start(b, len(items))
    for item in reversed(items):
        prepend(item)
    return b.EndVector()


def build_tflite(path: Path) -> dict:
    """conv 3x3 SAME (2->4 ch, 8x8) -> depthwise 3x3 stride 2 SAME -> ADD(x, x) -> avg pool 4x4
    -> reshape -> fully connected 4->3, int8 weights with per-channel scales."""
    rng = np.random.default_rng(0)
    b = flatbuffers.Builder(4096)
    conv_w = rng.integers(-5, 6, (4, 3, 3, 2), dtype=np.int8)
    conv_w[0, 0, 0, :] = 0
    dw_w = rng.integers(1, 6, (1, 3, 3, 4), dtype=np.int8)
    fc_w = rng.integers(1, 6, (3, 4), dtype=np.int8)
    datas = [None, conv_w, dw_w, fc_w]
    buffers = []
    for data in datas:
        vec = None
        if data is not None:
            raw = data.tobytes()
            tflite.BufferStartDataVector(b, len(raw))
            for byte in reversed(raw):
                b.PrependUint8(byte)
            vec = b.EndVector()
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        buffers.append(tflite.BufferEnd(b))
    # tensors: (shape, type, buffer, scales)
    specs = [([1, 8, 8, 2], INT8, 0, 0), ([4, 3, 3, 2], INT8, 1, 4), ([1, 8, 8, 4], INT8, 0, 0),
             ([1, 3, 3, 4], INT8, 2, 4), ([1, 4, 4, 4], INT8, 0, 0), ([1, 4, 4, 4], INT8, 0, 0),
             ([1, 1, 1, 4], INT8, 0, 0), ([1, 4], INT8, 0, 0), ([3, 4], INT8, 3, 3),
             ([1, 3], INT8, 0, 0), ([2], INT32, 0, 0)]
    tensors = []
    for i, (shape, ttype, buf, scales) in enumerate(specs):
        name = b.CreateString(f"t{i}")
        shp = _vector(b, tflite.TensorStartShapeVector, shape, b.PrependInt32)
        quant = None
        if scales:
            sv = _vector(b, tflite.QuantizationParametersStartScaleVector, [0.1] * scales,
                         b.PrependFloat32)
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, sv)
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shp)
        tflite.TensorAddType(b, ttype)
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        tensors.append(tflite.TensorEnd(b))
    B = tflite.BuiltinOperator
    codes = [B.CONV_2D, B.DEPTHWISE_CONV_2D, B.ADD, B.AVERAGE_POOL_2D, B.RESHAPE,
             B.FULLY_CONNECTED]
    opcodes = []
    for code in codes:
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, code)
        tflite.OperatorCodeAddBuiltinCode(b, code)
        opcodes.append(tflite.OperatorCodeEnd(b))

    def conv_opts(start, add_pad, add_sh, add_sw, end, stride):
        start(b)
        add_pad(b, tflite.Padding.SAME)
        add_sh(b, stride)
        add_sw(b, stride)
        return end(b)

    opts = {0: (tflite.BuiltinOptions.Conv2DOptions, conv_opts(
        tflite.Conv2DOptionsStart, tflite.Conv2DOptionsAddPadding, tflite.Conv2DOptionsAddStrideH,
        tflite.Conv2DOptionsAddStrideW, tflite.Conv2DOptionsEnd, 1)),
        1: (tflite.BuiltinOptions.DepthwiseConv2DOptions, conv_opts(
            tflite.DepthwiseConv2DOptionsStart, tflite.DepthwiseConv2DOptionsAddPadding,
            tflite.DepthwiseConv2DOptionsAddStrideH, tflite.DepthwiseConv2DOptionsAddStrideW,
            tflite.DepthwiseConv2DOptionsEnd, 2))}
    tflite.Pool2DOptionsStart(b)
    tflite.Pool2DOptionsAddPadding(b, tflite.Padding.VALID)
    tflite.Pool2DOptionsAddStrideH(b, 4)
    tflite.Pool2DOptionsAddStrideW(b, 4)
    tflite.Pool2DOptionsAddFilterHeight(b, 4)
    tflite.Pool2DOptionsAddFilterWidth(b, 4)
    opts[3] = (tflite.BuiltinOptions.Pool2DOptions, tflite.Pool2DOptionsEnd(b))
    wiring = [(0, [0, 1], [2]), (1, [2, 3], [4]), (2, [4, 4], [5]), (3, [5], [6]),
              (4, [6, 10], [7]), (5, [7, 8], [9])]
    operators = []
    for code, ins, outs in wiring:
        iv = _vector(b, tflite.OperatorStartInputsVector, ins, b.PrependInt32)
        ov = _vector(b, tflite.OperatorStartOutputsVector, outs, b.PrependInt32)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, code)
        tflite.OperatorAddInputs(b, iv)
        tflite.OperatorAddOutputs(b, ov)
        if code in opts:
            tflite.OperatorAddBuiltinOptionsType(b, opts[code][0])
            tflite.OperatorAddBuiltinOptions(b, opts[code][1])
        operators.append(tflite.OperatorEnd(b))
    tv = _vector(b, tflite.SubGraphStartTensorsVector, tensors, b.PrependUOffsetTRelative)
    ov = _vector(b, tflite.SubGraphStartOperatorsVector, operators, b.PrependUOffsetTRelative)
    inv = _vector(b, tflite.SubGraphStartInputsVector, [0], b.PrependInt32)
    outv = _vector(b, tflite.SubGraphStartOutputsVector, [9], b.PrependInt32)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tv)
    tflite.SubGraphAddOperators(b, ov)
    tflite.SubGraphAddInputs(b, inv)
    tflite.SubGraphAddOutputs(b, outv)
    graph = tflite.SubGraphEnd(b)
    gv = _vector(b, tflite.ModelStartSubgraphsVector, [graph], b.PrependUOffsetTRelative)
    cv = _vector(b, tflite.ModelStartOperatorCodesVector, opcodes, b.PrependUOffsetTRelative)
    bv = _vector(b, tflite.ModelStartBuffersVector, buffers, b.PrependUOffsetTRelative)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, cv)
    tflite.ModelAddSubgraphs(b, gv)
    tflite.ModelAddBuffers(b, bv)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return {"conv_w": conv_w}


def brute_macs(size, out, k, stride, pad, c_in_per_group, c_out):
    """(input, output) pairs inside the input, counted one by one."""
    count = 0
    for oy in range(out):
        for ox in range(out):
            for ky in range(k):
                for kx in range(k):
                    y, x = oy * stride - pad + ky, ox * stride - pad + kx
                    count += 0 <= y < size and 0 <= x < size
    return count * c_in_per_group * c_out


def test_tflite_reader_counts_macs_from_the_file(tmp_path):
    from qslm_neuro.measure.from_tflite import QUANT_ADD_OPS, REQUANT_OPS, from_tflite

    path = tmp_path / "m.tflite"
    made = build_tflite(path)
    w = from_tflite(path)
    conv, dw, fc = w.layers
    assert (conv.kind, dw.kind, fc.kind) == ("conv", "conv", "linear")
    assert conv.connections == brute_macs(8, 8, 3, 1, 1, 2, 4)
    # SAME with stride 2 on 8 -> 4: TFLite pads 1 in total, 0 before
    assert dw.connections == brute_macs(8, 4, 3, 2, 0, 1, 4)
    assert (dw.kernel_weights, dw.out_channels) == (36, 1)
    assert (fc.fan_in, fc.fan_out) == (4, 3)
    assert conv.scale_count == 4 and conv.weight_bits == 8 and conv.weight_format == "int"
    assert conv.zero_fraction == pytest.approx((made["conv_w"] == 0).mean())
    assert w.meta["macs_per_inference"] == conv.connections + dw.connections + 12
    ops = {o.name: o for o in w.nonsynaptic}
    assert ops["op2_add"].ops_per_step == 64 * QUANT_ADD_OPS
    assert ops["op3_average_pool_2d"].ops_per_step == 4 * (16 + 1)
    assert ops["op0_conv_2d.requantize"].ops_per_step == 256 * REQUANT_OPS
    assert all(l.activity.binary_share == 0.0 for l in w.layers)


def test_tflite_reader_refuses_other_files(tmp_path):
    from qslm_neuro.measure.from_tflite import from_tflite

    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(BadInputError, match="TFL3"):
        from_tflite(bad)


def build_netx(folder: Path) -> None:
    """input 1x6x6 -> conv 3x3 stride 1 (2 ch, 4x4) -> flatten -> dense 32 -> 3, with spikes."""
    rng = np.random.default_rng(1)
    with h5py.File(folder / "network.net", "w") as f:
        f["simulation/tSample"] = 4
        f["layer/0/type"] = np.array([b"input"])
        f["layer/0/shape"] = np.array([1, 6, 6])
        f["layer/1/type"] = np.array([b"conv"])
        f["layer/1/shape"] = np.array([2, 4, 4])
        f["layer/1/weight"] = rng.integers(-3, 4, (2, 1, 3, 3)).astype(np.float32)
        for key, value in (("kernelSize", [3, 3]), ("stride", [1, 1]), ("padding", [0, 0]),
                           ("dilation", [1, 1])):
            f[f"layer/1/{key}"] = np.array(value)
        f["layer/1/groups"] = 1
        f["layer/2/type"] = np.array([b"flatten"])
        f["layer/2/shape"] = np.array([1, 1, 32])
        f["layer/3/type"] = np.array([b"dense"])
        f["layer/3/shape"] = np.array([3, 1, 1])
        f["layer/3/weight"] = np.ones((3, 32), dtype=np.float32)
    spikes = {"input": rng.random((6, 6, 1, 6)) < 0.5, "conv-0": rng.random((4, 4, 2, 6)) < 0.2}
    for name, array in spikes.items():
        np.save(folder / f"{name}.npy", array)


def test_netx_reader_takes_activity_from_recorded_spikes(tmp_path):
    from qslm_neuro.measure.from_netx import from_netx

    build_netx(tmp_path)
    w = from_netx(tmp_path / "network.net", spikes=tmp_path)
    conv, fc = w.layers
    inp = np.load(tmp_path / "input.npy")[..., :4].reshape(-1, 4).sum(0).mean()
    hid = np.load(tmp_path / "conv-0.npy")[..., :4].reshape(-1, 4).sum(0).mean()
    assert w.time_steps_per_token == 4
    assert conv.activity.input_events_per_step == pytest.approx(inp)
    assert fc.activity.input_events_per_step == pytest.approx(hid)
    assert (conv.fan_in, conv.fan_out, conv.connections) == (36, 32, 2 * 16 * 9)
    assert (conv.source, conv.target, fc.source, fc.target) == ("input", "conv-0", "conv-0",
                                                                "fc-0")
    assert {p.name: p.output_spikes_per_step for p in w.populations}["fc-0"] == 0.0
    with pytest.raises(BadInputError, match="exactly one"):
        from_netx(tmp_path / "network.net")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "qslm_neuro.cli.main", "estimate", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_cli_estimates_a_tflite_and_a_netx_file(tmp_path):
    build_tflite(tmp_path / "m.tflite")
    build_netx(tmp_path)
    out = _cli("--tflite", str(tmp_path / "m.tflite"), "--hw", "stm32h7a3")
    assert out.returncode == 0, out.stderr
    assert "on stm32h7a3 (mcu): feasible" in out.stdout and "op1_depthwise_conv_2d" in out.stdout
    out = _cli("--netx", str(tmp_path / "network.net"), "--spikes", str(tmp_path), "--hw",
               "loihi2")
    assert out.returncode == 0, out.stderr
    assert "on loihi2 (neuromorphic)" in out.stdout and "conv-0" in out.stdout
    out = _cli("--netx", str(tmp_path / "network.net"), "--hw", "loihi2")
    assert out.returncode == 2 and "--spikes" in out.stderr


def test_the_python_front_door_reads_both_files(tmp_path):
    import qslm_neuro

    build_tflite(tmp_path / "m.tflite")
    build_netx(tmp_path)
    mcu = qslm_neuro.estimate(str(tmp_path / "m.tflite"), hw="stm32h7a3")
    assert mcu.feasible and mcu.workload == "m"
    chip = qslm_neuro.estimate(str(tmp_path / "network.net"), hw="loihi2", inputs=str(tmp_path))
    assert chip.activity_source.startswith("netx: recorded spikes")
