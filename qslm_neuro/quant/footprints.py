"""Footprints: the exact bytes a model occupies under a plan, tensor by tensor."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qslm_neuro.quant.hierarchy import ModelOrHierarchy, as_hierarchy, format_bytes
from qslm_neuro.quant.plan import QuantPlan
from qslm_neuro.quant.precision import FP32
from qslm_neuro.quant.quantizer import SCALE_BITS


@dataclass(frozen=True)
class TensorBytes:
    """Bytes one state_dict tensor takes under a plan."""

    name: str             # state_dict key
    module: str           # owning module path
    block: str            # block path ("" if outside all blocks)
    count: int            # elements
    storage: str          # precision name for quantizable weights, stored dtype otherwise
    quantizable: bool     # whether it is a quantizable module's weight
    value_bytes: int      # ceil(count * bits / 8)
    scale_count: int = 0
    scale_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return self.value_bytes + self.scale_bytes


@dataclass(frozen=True)
class Footprint:
    """The model's memory under a plan, tensor by tensor, and its fp32 baseline."""

    plan_key: str
    rows: tuple[TensorBytes, ...]
    baseline_bytes: int           # the same model with every quantizable weight at fp32

    @property
    def total_bytes(self) -> int:
        return sum(row.total_bytes for row in self.rows)

    @property
    def weight_bytes(self) -> int:
        """Quantizable weights at their precision, scales included."""
        return sum(row.total_bytes for row in self.rows if row.quantizable)

    @property
    def scale_bytes(self) -> int:
        return sum(row.scale_bytes for row in self.rows)

    @property
    def other_bytes(self) -> int:
        """Everything that stays unquantized (biases, LayerNorms, decays, buffers)."""
        return sum(row.total_bytes for row in self.rows if not row.quantizable)

    @property
    def reduction(self) -> float:
        """Share of the fp32 baseline saved (0.75 = four times smaller)."""
        return 1.0 - self.total_bytes / self.baseline_bytes if self.baseline_bytes else 0.0

    @property
    def mean_weight_bits(self) -> float:
        """Average stored bits per quantizable weight, scales included."""
        count = sum(row.count for row in self.rows if row.quantizable)
        return 8.0 * self.weight_bytes / count if count else 0.0

    def bytes_by_module(self) -> dict[str, int]:
        """Bytes of each quantizable module's weight (with scales), by module path."""
        return {row.module: row.total_bytes for row in self.rows if row.quantizable}

    def bytes_by_block(self) -> dict[str, int]:
        """Bytes of every tensor inside each block (quantized and not)."""
        result: dict[str, int] = {}
        for row in self.rows:
            result[row.block] = result.get(row.block, 0) + row.total_bytes
        return result

    def to_dict(self) -> dict[str, Any]:
        return {"plan_key": self.plan_key, "total_bytes": self.total_bytes,
                "baseline_bytes": self.baseline_bytes, "reduction": self.reduction,
                "weight_bytes": self.weight_bytes, "scale_bytes": self.scale_bytes,
                "other_bytes": self.other_bytes, "mean_weight_bits": self.mean_weight_bits,
                "rows": [asdict(row) for row in self.rows]}

    def table(self) -> str:
        """A plain-text table, one row per tensor, with totals."""
        width = max([len(r.name) for r in self.rows] + [6])
        lines = [f"{'tensor':<{width}}  {'elements':>11}  {'storage':<12} {'bytes':>12}  "
                 f"{'scales':>8}"]
        for r in self.rows:
            lines.append(f"{r.name:<{width}}  {r.count:>11,}  {r.storage:<12} "
                         f"{r.value_bytes:>12,}  {r.scale_bytes:>8,}")
        lines.append(f"total {format_bytes(self.total_bytes)} ({self.total_bytes:,} B) vs fp32 "
                     f"{format_bytes(self.baseline_bytes)}: {self.reduction:.1%} smaller, "
                     f"{self.mean_weight_bits:.2f} bits per quantizable weight")
        return "\n".join(lines)


def footprint(model_or_hierarchy: ModelOrHierarchy, plan: QuantPlan | None = None) -> Footprint:
    """Exact bytes of the model under ``plan`` (default: fp32 everywhere, the baseline).

    Quantizable weights count ``ceil(count * bits / 8)`` bytes (dense packing, whole bytes per
    tensor) plus 4 bytes per fp32 scale; every other state_dict tensor (biases, LayerNorm
    gains, decay vectors, persistent buffers) counts at its stored dtype. Tied tensors count
    once. The baseline puts every quantizable weight at fp32 (4 bytes).
    """
    hierarchy = as_hierarchy(model_or_hierarchy)
    plan = QuantPlan() if plan is None else plan
    plan.validate(hierarchy)
    weights = {info.weight_name: info for info in hierarchy.modules if info.tied_to is None}
    block_of_owner = {}
    for block in hierarchy.blocks:
        for tensor in hierarchy.tensors:
            if tensor.owner not in block_of_owner and _owner_in_block(tensor.owner, block.path):
                block_of_owner[tensor.owner] = block.path
    rows = []
    baseline = 0
    for tensor in hierarchy.tensors:
        info = weights.get(tensor.name)
        block = block_of_owner.get(tensor.owner, "")
        if info is None:
            rows.append(TensorBytes(tensor.name, tensor.owner, block, tensor.numel, tensor.dtype,
                                    False, tensor.stored_bytes))
            baseline += tensor.stored_bytes
            continue
        precision = plan.precision_of(info.path)
        scales = precision.scale_count(info.weight_shape, info.channel_axis)
        rows.append(TensorBytes(tensor.name, info.path, block, tensor.numel, precision.name,
                                True, precision.value_bytes(tensor.numel), scales,
                                scales * SCALE_BITS // 8))
        baseline += FP32.value_bytes(tensor.numel)
    return Footprint(plan.key, tuple(rows), baseline)


def _owner_in_block(owner: str, block: str) -> bool:
    if block == "":
        return owner == ""
    return owner == block or owner.startswith(block + ".")
