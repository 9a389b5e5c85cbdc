"""The arithmetic a search's full evaluations compute the task metric in (issue 23).

* ``"float"`` (the default): the plan's weights fake-quantized, everything else in float32.
* ``"chip"`` (:class:`ChipArithmetic`): the bit-exact twin (:mod:`qslm_neuro.chiparith`) in the
  number formats of a chip file's ``[arithmetic]`` section (``--hw``, with ``--set``
  overrides), the formats calibrated on training text exactly as ``qslm eval --arithmetic
  chip`` does (:func:`qslm_neuro.chiparith.evaluate.calibration_batches`).

What runs in chip arithmetic: every *full* evaluation of a quantized plan (the number constA is
checked on, and the objective's accuracy term) and, when racing, every item slice of one. What
stays in float, and why: the fp32 baseline (constA is relative to the model as trained, which no
chip computes: fp32 weights do not fit an 8-bit synapse), the sensitivity/calibration and KL
proxy evaluations (they only order the search's steps; every step is then decided on a full
evaluation), and the activity a hardware estimate is built on (measured with the float model
during the same full evaluation, whose float metric is kept beside as ``float_metric``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from qslm_neuro.errors import BadInputError

ARITHMETICS = ("float", "chip")


@dataclass(frozen=True)
class ChipArithmetic:
    """Score candidates as the chip computes them.

    ``hw``: the chip whose ``[arithmetic]`` formats are used (a name, a TOML path or a model;
    None: the search's one chip); ``overrides``: format overrides (``{"state_bits": 16}``, as
    ``--set``); ``calibration``: the (idx, lengths) batches of *training* text the formats are
    calibrated on (:func:`~qslm_neuro.chiparith.evaluate.calibration_batches`;
    :func:`~qslm_neuro.quantsearch.checkpoint.search_checkpoint` draws them itself), and
    ``calibration_label``: what they are, in words, for the report."""

    hw: Any = None
    overrides: Mapping[str, Any] | None = None
    calibration: Sequence[Any] | None = None
    calibration_label: str = ""


ArithmeticLike = Any  # "float", "chip" or a ChipArithmetic


def parse_arithmetic(value: ArithmeticLike) -> ChipArithmetic | None:
    """None for float arithmetic, else the :class:`ChipArithmetic` asked for."""
    if value is None or value == "float":
        return None
    if value == "chip":
        return ChipArithmetic()
    if isinstance(value, ChipArithmetic):
        return value
    raise BadInputError(f"arithmetic={value!r}; expected one of {ARITHMETICS} (or "
                        "ChipArithmetic(hw='loihi2', overrides={'state_bits': 16}))")


def arithmetic_chip(spec: ChipArithmetic, chips: Sequence[Any]) -> Any:
    """The chip whose formats ``spec`` uses: its own ``hw``, else the search's only chip."""
    if spec.hw is not None:
        return spec.hw
    named = [c for c in chips if c is not None]
    if len(named) != 1:
        raise BadInputError(
            f"arithmetic='chip' needs one chip to take the number formats from; the search "
            f"names {len(named)} ({', '.join(map(str, named)) or 'none'}); give "
            "ChipArithmetic(hw='loihi2') (CLI: one --hw)")
    return named[0]


def chip_formats(spec: ChipArithmetic, chips: Sequence[Any] = ()) -> tuple[str, Any]:
    """(chip name, :class:`~qslm_neuro.hw.arithmetic.ArithmeticFormats`) of ``spec``: bad input
    (no such chip, no ``[arithmetic]`` section, an override that is not a format) raised here."""
    from qslm_neuro.hw import load_hardware
    from qslm_neuro.hw.arithmetic import ARITHMETIC

    chip = arithmetic_chip(spec, chips)
    unknown = sorted(set(spec.overrides or {}) - set(ARITHMETIC))
    if unknown:
        raise BadInputError(f"format overrides {unknown} are not number formats of an "
                            f"[arithmetic] section; expected some of {sorted(ARITHMETIC)}")
    hardware = load_hardware(chip, dict(spec.overrides or {}))
    if not hardware.arithmetic:
        raise BadInputError(
            f"arithmetic='chip' takes its number formats from the chip file's [arithmetic] "
            f"section; {hardware.name!r} has none: name a chip that has one (--hw loihi2, "
            "--hw embedded-soc) or use arithmetic 'float'")
    return hardware.name, hardware.formats()


class ChipScorer:
    """A resolved :class:`ChipArithmetic`: formats, calibration, the store identity, and the twin
    of one plan at a time (a racing candidate's slices reuse it)."""

    def __init__(self, spec: ChipArithmetic, chips: Sequence[Any] = ()) -> None:
        self.hw_name, self.formats = chip_formats(spec, chips)
        if not spec.calibration:
            raise BadInputError(
                "arithmetic='chip' needs training text to calibrate the formats on: "
                "ChipArithmetic(calibration=calibration_batches('sst2', tokenizer, data_dir)) "
                "(qslm_neuro.chiparith), or search a checkpoint (search_checkpoint, qslm search), "
                "which draws them itself")
        self.calibration = list(spec.calibration)
        self.calibration_label = spec.calibration_label or \
            f"{len(self.calibration)} batches of calibration text"
        #: What the chip results are keyed by (beside weights, evaluation and quantizer).
        self.identity = {"arithmetic": "chip", "formats": self.formats.to_dict(),
                         "format_calibration": batches_digest(self.calibration)}
        self._twin: tuple[str, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_twin"] = None  # rebuilt on a worker when needed
        return state

    def twin(self, model: Any, plan: Any) -> Any:
        """The bit-exact twin of ``model`` under ``plan`` (formats calibrated under the plan)."""
        if self._twin is None or self._twin[0] != plan.key:
            from qslm_neuro.chiparith.twin import chip_twin

            self._twin = (plan.key, chip_twin(model, plan, self.formats, self.calibration))
        return self._twin[1]

    def describe(self) -> dict[str, Any]:
        """The report's statement of what the selection metric was computed in."""
        return {"selection": "chip", "hw": self.hw_name, "formats": self.formats.to_dict(),
                "format_calibration": self.calibration_label,
                "baseline": "float (fp32 model: the reference constA is relative to)",
                "in_float": "fp32 baseline, sensitivity/calibration and proxy evaluations, "
                            "activity for hardware estimates (float_metric in details)"}


def describe_float() -> dict[str, Any]:
    return {"selection": "float", "note": "fake-quantized weights, float32 everything else"}


def arithmetic_words(arithmetic: Mapping[str, Any] | None) -> str:
    """One line for the screen: which arithmetic the accuracies were measured in."""
    if not arithmetic or arithmetic.get("selection") != "chip":
        return "arithmetic: float (fake-quantized weights) for every accuracy"
    f = arithmetic["formats"]
    return (f"arithmetic: candidates scored in {arithmetic['hw']}'s chip arithmetic (bit-exact "
            f"twin: weights {f['weight_bits']} bits, state {f['state_bits']}, activations "
            f"{f['activation_bits']}; formats calibrated on {arithmetic['format_calibration']}); "
            "fp32 baseline in float")


def batches_digest(batches: Sequence[Any]) -> str:
    """sha256 of every calibration batch's token ids and lengths, in order."""
    import torch

    digest = hashlib.sha256()
    for idx, lengths in batches:
        for tensor in (idx, lengths):
            if tensor is None:
                digest.update(b"none|")
                continue
            data = torch.as_tensor(tensor).detach().cpu().to(torch.int64).contiguous()
            digest.update(f"{tuple(data.shape)}|".encode())
            digest.update(data.numpy().tobytes())
    return digest.hexdigest()[:32]


__all__ = ["ARITHMETICS", "ChipArithmetic", "ChipScorer", "arithmetic_chip", "arithmetic_words",
           "batches_digest", "chip_formats", "describe_float", "parse_arithmetic"]
