"""A TensorFlow Lite flatbuffer (``.tflite``) -> a non-spiking int8 MAC :class:`Workload`.

Every shape, stride, padding and weight count is read from the file (PyPI ``tflite`` parses the
flatbuffer; nothing is typed in). One inference is one "token" of one time step. Operators:

* ``CONV_2D``, ``DEPTHWISE_CONV_2D`` -> conv layers (kernel stored once; MACs = the exact
  (input, output) pairs inside the input, padding taps excluded);
* ``FULLY_CONNECTED`` -> a linear layer;
* ``AVERAGE_POOL_2D``, ``MAX_POOL_2D`` -> pooling ops (one per window tap, +1 per output for the
  average's divide);
* ``ADD``, ``MUL``, ``SOFTMAX``, ``QUANTIZE``, ``DEQUANTIZE`` -> element-wise ops;
* ``RESHAPE``, ``SQUEEZE`` -> free.

Inputs are dense activations (``binary_share = 0``): a dense kernel processes every input, so a
layer's MACs per inference are its connections. The integer arithmetic around the MACs is
counted from TFLite's int8 quantization scheme (arm/TFLite reference integer kernels): every
conv / dense output is requantized (bias add, fixed-point multiply, rounding shift, zero-point
add, clamp low and high: :data:`REQUANT_OPS` = 6 ops), and a quantized ``ADD`` rescales both
inputs and its output (:data:`QUANT_ADD_OPS`). Any other operator is refused by name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from qslm_neuro.errors import BadInputError, MissingDependencyError
from qslm_neuro.measure.conv_geometry import Conv2dShape
from qslm_neuro.workload import Activity, NonSynapticOp, SynapticLayer, Workload

#: Elementary integer ops per requantized conv/dense output: + bias, fixed-point multiply
#: (SQRDMULH), rounding right shift, + output zero point, clamp to min, clamp to max.
REQUANT_OPS = 6
#: Elementary ops per element of a quantized ADD: per input (+ zero point, left shift,
#: fixed-point multiply, rounding shift) x 2, the add, output (multiply, rounding shift,
#: + zero point), clamp x 2.
QUANT_ADD_OPS = 14
#: Per element of SOFTMAX (subtract max, exponential from a table, accumulate, scale),
#: QUANTIZE / DEQUANTIZE (scale, round, + zero point) and MUL (multiply + requantization).
ELEMENTWISE_OPS = {"SOFTMAX": 4, "QUANTIZE": 3, "DEQUANTIZE": 3, "MUL": 1 + REQUANT_OPS,
                   "ADD": QUANT_ADD_OPS}
FREE_OPS = ("RESHAPE", "SQUEEZE")
INSTALL_HINT = "pip install 'qslm-neuro[tflite]' (or: pip install tflite flatbuffers)"


def _tflite() -> Any:
    try:
        import tflite
    except ImportError as exc:
        raise MissingDependencyError(f"reading .tflite files needs the 'tflite' package: "
                                     f"{INSTALL_HINT}") from exc
    return tflite


def read_model(path: str | os.PathLike[str]) -> Any:
    """The parsed ``tflite.Model`` of a file (BadInputError if it is not one)."""
    tflite = _tflite()
    path = Path(os.fspath(path))
    if not path.is_file():
        raise BadInputError(f".tflite file {str(path)!r} does not exist")
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise BadInputError(f"{str(path)!r} is not a TensorFlow Lite flatbuffer (no 'TFL3' "
                            "identifier)")
    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
        raise BadInputError(f"{str(path)!r} has {model.SubgraphsLength()} subgraphs; only "
                            "single-graph models are supported")
    return model


def from_tflite(path: str | os.PathLike[str], name: str | None = None) -> Workload:
    """Workload of one inference of a ``.tflite`` model (int8 or float weights)."""
    tflite = _tflite()
    model = read_model(path)
    graph = model.Subgraphs(0)
    op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    type_names = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
    layers: list[SynapticLayer] = []
    ops: list[NonSynapticOp] = []
    macs = 0
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = op_names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM")
        ins = [graph.Tensors(op.Inputs(j)) for j in range(op.InputsLength()) if op.Inputs(j) >= 0]
        out = graph.Tensors(op.Outputs(0))
        label = f"op{i}_{kind.lower()}"
        if kind in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            layer = _synaptic(tflite, model, kind, op, ins, out, label, type_names,
                              stage=len(layers))
            layers.append(layer)
            macs += layer.connections if layer.kind == "conv" else layer.fan_in * layer.fan_out
            ops.append(NonSynapticOp(f"{label}.requantize", "elementwise",
                                     float(layer.fan_out * REQUANT_OPS)))
        elif kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            opt = tflite.Pool2DOptions()
            table = op.BuiltinOptions()
            opt.Init(table.Bytes, table.Pos)
            taps = opt.FilterHeight() * opt.FilterWidth()
            n_out = _elements(out)
            ops.append(NonSynapticOp(label, "pooling",
                                     float(n_out * (taps + (kind == "AVERAGE_POOL_2D")))))
        elif kind in ELEMENTWISE_OPS:
            ops.append(NonSynapticOp(label, "elementwise", float(_elements(out)
                                                                 * ELEMENTWISE_OPS[kind])))
        elif kind not in FREE_OPS:
            raise BadInputError(f"{os.fspath(path)!r}: operator {i} is {kind}, which cannot be "
                                f"costed yet; supported: CONV_2D, DEPTHWISE_CONV_2D, "
                                f"FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, "
                                f"{', '.join(ELEMENTWISE_OPS)}, {', '.join(FREE_OPS)}")
    if not layers:
        raise BadInputError(f"{os.fspath(path)!r} has no conv or fully-connected operator")
    return Workload(
        name=name or Path(os.fspath(path)).stem, layers=tuple(layers), nonsynaptic=tuple(ops),
        activity_source="tflite: dense int8 activations (every input processed, no spikes)",
        meta={"tflite_file": os.fspath(path), "macs_per_inference": macs,
              "token": "one inference"})


def _elements(tensor: Any) -> int:
    return int(np.prod(tensor.ShapeAsNumpy()))


def _synaptic(tflite: Any, model: Any, kind: str, op: Any, ins: list[Any], out: Any, label: str,
              type_names: dict[int, str], stage: int) -> SynapticLayer:
    x, w = ins[0], ins[1]
    wtype = type_names.get(w.Type(), "?")
    bits, fmt = {"INT8": (8, "int"), "UINT8": (8, "int"), "INT4": (4, "int"),
                 "INT16": (16, "int"), "FLOAT16": (16, "fp16"), "FLOAT32": (32, "fp32")}.get(
        wtype, (0, ""))
    if not bits:
        raise BadInputError(f"{label}: weights of type {wtype} cannot be costed")
    quant = w.Quantization()
    scales = quant.ScaleLength() if quant is not None and fmt == "int" else 0
    # unsigned weights carry a zero point: a stored 0 is not a zero weight, so none are counted
    weights = None if wtype == "UINT8" else _weights(model, w, bits, fmt)
    zero_fraction = float((weights == 0).mean()) if weights is not None else 0.0
    common = dict(weight_bits=bits, weight_format=fmt, zero_fraction=zero_fraction,
                  scale_count=scales, stage=stage)
    if kind == "FULLY_CONNECTED":  # every input is processed: events = fan_in, not spikes
        fan_out, fan_in = (int(v) for v in w.ShapeAsNumpy())
        return SynapticLayer(name=label, fan_in=fan_in, fan_out=fan_out, kind="linear",
                             activity=Activity(float(fan_in), binary_share=0.0), **common)
    shape = _conv_shape(tflite, kind, op, x, w, out)
    return SynapticLayer(name=label, fan_in=shape.fan_in, fan_out=shape.fan_out, kind="conv",
                         activity=Activity(float(shape.fan_in), binary_share=0.0), **common,
                         **shape.layer_fields())


def _weights(model: Any, w: Any, bits: int, fmt: str) -> np.ndarray | None:
    """The weight values when the file holds them (to count zeros), else None."""
    data = model.Buffers(w.Buffer()).DataAsNumpy()
    if isinstance(data, int) or bits not in (8, 16, 32):  # no data (0) or packed int4
        return None
    dtype = {("int", 8): np.int8, ("int", 16): np.int16, ("int", 32): np.int32,
             ("fp16", 16): np.float16, ("fp32", 32): np.float32}[(fmt, bits)]
    values = np.frombuffer(data.tobytes(), dtype=dtype)
    return values if values.size == int(np.prod(w.ShapeAsNumpy())) else None


def _conv_shape(tflite: Any, kind: str, op: Any, x: Any, w: Any, out: Any) -> Conv2dShape:
    table = op.BuiltinOptions()
    if kind == "CONV_2D":
        opt = tflite.Conv2DOptions()
    else:
        opt = tflite.DepthwiseConv2DOptions()
    opt.Init(table.Bytes, table.Pos)
    _, h, wd, c_in = (int(v) for v in x.ShapeAsNumpy())
    _, ho, wo, c_out = (int(v) for v in out.ShapeAsNumpy())
    ws = [int(v) for v in w.ShapeAsNumpy()]
    kernel = (ws[1], ws[2])
    stride = (opt.StrideH(), opt.StrideW())
    dilation = (opt.DilationHFactor(), opt.DilationWFactor())
    same = opt.Padding() == tflite.Padding.SAME
    pad = tuple(max((o - 1) * s + (k - 1) * d + 1 - n, 0) // 2 if same else 0
                for o, s, k, d, n in zip((ho, wo), stride, kernel, dilation, (h, wd)))
    groups = c_in if kind == "DEPTHWISE_CONV_2D" else 1
    return Conv2dShape(c_in=c_in, c_out=c_out, in_hw=(h, wd), out_hw=(ho, wo), kernel=kernel,
                       stride=stride, pad=pad, dilation=dilation, groups=groups)
