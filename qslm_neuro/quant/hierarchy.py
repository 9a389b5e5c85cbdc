"""The global ▸ block ▸ module tree of any ``nn.Module``: what QSLM's tiered search walks.

QSLM quantizes at three levels: the whole network (global), its blocks, and its modules. This
module discovers those levels from the model itself, so it works for our spiking RWKV and for any
other ``nn.Module`` (an MLP, a small CNN, a model with nested module lists):

* **global**: the whole model (key :data:`GLOBAL` = ``"*"`` in :meth:`Hierarchy.expand`);
* **blocks**: the top-level children of the model, where a child that is a container
  (``nn.ModuleList``, ``nn.Sequential``, ``nn.ModuleDict``) is replaced by its items, so a model
  with ``emb``, ``blocks = ModuleList([...])`` and ``head`` has blocks ``emb``, ``blocks.0`` ...
  ``blocks.N`` and ``head``;
* **modules**: the quantizable units, i.e. every module that owns a ``weight`` parameter with at
  least two dimensions (``Linear``, ``Embedding``, ``Conv*`` and any custom module built that way).
  One-dimensional weights (LayerNorm gains, decay vectors) and other tensors stay unquantized.

A :class:`Hierarchy` is a plain, immutable description (paths, shapes, dtypes): it holds no
tensors, so footprints and plans can be computed from it without touching the weights.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Protocol, TypeVar, Union

from torch import nn

from qslm_neuro.errors import BadInputError

#: Key of the global level in :meth:`Hierarchy.expand` and ``QuantPlan.with_``.
GLOBAL = "*"

#: Containers whose items become blocks when they are direct children of the model.
CONTAINER_TYPES = (nn.ModuleList, nn.Sequential, nn.ModuleDict)

#: Name of the root module in printed output (its path is the empty string).
ROOT_LABEL = "<root>"

_V = TypeVar("_V")


class PlanLike(Protocol):
    """What :meth:`Hierarchy.tree` needs of a plan (a :class:`~qslm_neuro.quant.QuantPlan`).

    Typed by shape, not by class, so that this module, which plans build on, imports none of
    the plan modules.
    """

    def precision_of(self, path: str) -> Any: ...

    def footprint(self, model_or_hierarchy: "Hierarchy") -> Any: ...


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of the model's ``state_dict`` (parameters and persistent buffers).

    Tied tensors (the same object reachable under two names) appear once, under the first name.
    """

    name: str                 # state_dict key, e.g. "blocks.0.ln1.weight"
    owner: str                # path of the module that owns it ("" for the root)
    shape: tuple[int, ...]
    dtype: str                # e.g. "float32"
    itemsize: int             # bytes per element at the stored dtype
    is_parameter: bool

    @property
    def numel(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count

    @property
    def stored_bytes(self) -> int:
        return self.numel * self.itemsize


@dataclass(frozen=True)
class ModuleInfo:
    """A quantizable module: it owns a ``weight`` parameter with two or more dimensions."""

    path: str                 # module path, e.g. "blocks.0.att.key" ("" if the root itself)
    type_name: str            # e.g. "Linear"
    block: str                # path of the block that contains it
    weight_name: str          # state_dict key of its weight
    weight_shape: tuple[int, ...]
    weight_dtype: str
    channel_axis: int         # axis of output channels (0, or 1 for ConvTranspose)
    param_count: int          # elements of the parameters it owns directly (weight + bias ...)
    tied_to: str | None = None  # path of the module whose weight object it shares, if any

    @property
    def weight_count(self) -> int:
        count = 1
        for size in self.weight_shape:
            count *= size
        return count

    @property
    def fp32_bytes(self) -> int:
        """Bytes of its weight at fp32, the baseline precision."""
        return 4 * self.weight_count

    @property
    def out_channels(self) -> int:
        """Number of per-channel scales a per-channel quantizer stores for this weight."""
        return self.weight_shape[self.channel_axis]


@dataclass(frozen=True)
class BlockInfo:
    """A block: a top-level child of the model, or an item of a top-level container."""

    path: str
    type_name: str
    modules: tuple[str, ...]  # quantizable module paths inside it, in model order
    param_count: int          # elements of all parameters inside it (tied ones counted once)
    stored_bytes: int         # bytes of all state_dict tensors inside it at their stored dtype

    @property
    def is_search_unit(self) -> bool:
        """Whether the block has something to quantize (blocks without are shown, not searched)."""
        return bool(self.modules)


@dataclass(frozen=True)
class Hierarchy:
    """The global/block/module description of one model; build it with :meth:`from_module`."""

    model_type: str
    blocks: tuple[BlockInfo, ...]
    modules: tuple[ModuleInfo, ...]
    tensors: tuple[TensorInfo, ...]
    module_types: tuple[tuple[str, str], ...]  # (path, type name) of every module, model order

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_module(cls, model: nn.Module) -> "Hierarchy":
        """Discover the hierarchy of ``model`` (any ``nn.Module``)."""
        if not isinstance(model, nn.Module):
            raise BadInputError(
                f"Hierarchy.from_module needs a torch.nn.Module, got {type(model).__name__}; "
                "pass the model itself (e.g. the object returned by load_model)")
        block_paths = _discover_block_paths(model)
        tensors = _discover_tensors(model)
        modules = _discover_modules(model, block_paths)
        module_types = tuple((path, type(module).__name__)
                             for path, module in model.named_modules())
        types = dict(module_types)
        blocks = []
        for path in block_paths:
            inside = [t for t in tensors if _in_block(t.owner, path)]
            blocks.append(BlockInfo(
                path=path,
                type_name=types[path],
                modules=tuple(m.path for m in modules if m.block == path),
                param_count=sum(t.numel for t in inside if t.is_parameter),
                stored_bytes=sum(t.stored_bytes for t in inside)))
        return cls(model_type=type(model).__name__, blocks=tuple(blocks), modules=modules,
                   tensors=tensors, module_types=module_types)

    # -- summaries ---------------------------------------------------------------------------
    @property
    def param_count(self) -> int:
        """Elements of all parameters (tied ones counted once)."""
        return sum(t.numel for t in self.tensors if t.is_parameter)

    @property
    def stored_bytes(self) -> int:
        """Bytes of the whole state_dict at the stored dtypes (tied tensors counted once)."""
        return sum(t.stored_bytes for t in self.tensors)

    @property
    def module_paths(self) -> tuple[str, ...]:
        """Paths of the quantizable modules, in model order."""
        return tuple(m.path for m in self.modules)

    @property
    def block_paths(self) -> tuple[str, ...]:
        """Paths of all blocks, including those with nothing to quantize."""
        return tuple(b.path for b in self.blocks)

    @property
    def search_blocks(self) -> tuple[str, ...]:
        """Paths of the blocks that contain at least one quantizable module (the search units)."""
        return tuple(b.path for b in self.blocks if b.is_search_unit)

    # -- look-ups ----------------------------------------------------------------------------
    def module(self, path: str) -> ModuleInfo:
        """The quantizable module at ``path``."""
        for info in self.modules:
            if info.path == path:
                return info
        raise self._unknown(path, "quantizable module", self.module_paths)

    def block(self, path: str) -> BlockInfo:
        """The block at ``path``."""
        for info in self.blocks:
            if info.path == path:
                return info
        raise self._unknown(path, "block", self.block_paths)

    def block_of(self, path: str) -> str:
        """The block containing the module at ``path`` (any module path inside a block)."""
        self._require_known(path)
        for info in self.blocks:
            if _in_block(path, info.path):
                return info.path
        inner = [b.path for b in self.blocks if _is_within(b.path, path)]
        where = (f"it contains the blocks {_short_list(inner)}" if inner
                 else "it is outside all blocks")
        raise BadInputError(
            f"module path {path!r} is not inside a single block ({where}); "
            f"pass a path inside one of the blocks {_short_list(self.block_paths)}")

    def modules_in(self, path: str) -> tuple[str, ...]:
        """Quantizable modules at or under ``path`` (a block, any module path, or ``"*"``)."""
        if path == GLOBAL:
            return self.module_paths
        self._require_known(path)
        return tuple(m.path for m in self.modules if _is_within(m.path, path))

    def expand(self, assignment: Mapping[str, _V]) -> dict[str, _V]:
        """Turn ``{level path: value}`` into ``{quantizable module path: value}``.

        Keys may be ``"*"`` (global), block paths, or any module path; each covers the
        quantizable modules at or under it. When keys overlap, the more specific (deeper) path
        wins, whatever the order of the mapping: ``{"*": int8, "blocks.1": int4}`` puts every
        module of ``blocks.1`` at int4 and all others at int8.
        """
        def depth(path: str) -> int:
            if path == GLOBAL:
                return -1
            return 0 if path == "" else path.count(".") + 1

        result: dict[str, _V] = {}
        for path in sorted(assignment, key=depth):
            covered = self.modules_in(path)
            if not covered:
                raise BadInputError(
                    f"{path!r} ({self.type_of(path)}) contains no quantizable module (only "
                    "modules owning a weight with 2+ dimensions are quantized; LayerNorm gains "
                    "and decay vectors stay at their stored precision); remove it or pick one of "
                    f"the search blocks {_short_list(self.search_blocks)}")
            for module_path in covered:
                result[module_path] = assignment[path]
        return {path: result[path] for path in self.module_paths if path in result}

    def type_of(self, path: str) -> str:
        """Class name of the module at ``path``."""
        self._require_known(path)
        return dict(self.module_types)[path]

    # -- printing ----------------------------------------------------------------------------
    def tree(self, plan: PlanLike | None = None) -> str:
        """A printable tree: global ▸ blocks ▸ quantizable modules, with params and bytes.

        Without ``plan`` module bytes are at fp32 (the baseline); with a plan they are at the
        plan's precision (weights at their bit width plus fp32 scales).
        """
        fp = plan.footprint(self) if plan is not None else None
        rows = {row.module: row for row in fp.rows if row.quantizable} if fp is not None else {}
        block_bytes = fp.bytes_by_block() if fp is not None else {}
        lines = [f"{GLOBAL} global: {self.model_type} · {len(self.blocks)} blocks "
                 f"({len(self.search_blocks)} with quantizable modules) · "
                 f"{len(self.modules)} quantizable modules · {self.param_count:,} params · "
                 f"{format_bytes(self.stored_bytes)} stored"
                 + (f" · {format_bytes(fp.total_bytes)} under plan "
                    f"({fp.reduction:.1%} smaller than fp32)" if fp is not None else "")]
        root_tensors = [t for t in self.tensors
                        if not any(_in_block(t.owner, b.path) for b in self.blocks)]
        entries: list[tuple[str, list[str]]] = []
        for block in self.blocks:
            head = (f"{block.path or ROOT_LABEL} ({block.type_name}) · {block.param_count:,} "
                    f"params · {format_bytes(block.stored_bytes)}")
            if fp is not None and block.is_search_unit:
                head += f" · {format_bytes(block_bytes.get(block.path, 0))} under plan"
            if not block.is_search_unit:
                head += " · nothing to quantize"
            children = []
            for path in block.modules:
                info = self.module(path)
                shape = "x".join(str(s) for s in info.weight_shape)
                line = (f"{path or ROOT_LABEL} ({info.type_name} {shape}) · "
                        f"{info.weight_count:,} weights · ")
                if fp is not None and path in rows:
                    row = rows[path]
                    line += f"{row.storage} {format_bytes(row.total_bytes)}"
                    if row.scale_bytes:
                        line += f" (scales {format_bytes(row.scale_bytes)})"
                elif fp is not None:  # a tied weight, counted with the module it shares
                    line += f"{plan.precision_of(path).name} (counted with {info.tied_to})"
                else:
                    line += f"{format_bytes(info.fp32_bytes)} at fp32"
                if info.tied_to is not None:
                    line += f" · tied to {info.tied_to}"
                children.append(line)
            quantized = {m.weight_name for m in self.modules}
            others = [t for t in self.tensors
                      if _in_block(t.owner, block.path) and t.name not in quantized]
            if others and block.is_search_unit:
                children.append(_others_line(others))
            entries.append((head, children))
        if root_tensors:
            entries.append((f"{ROOT_LABEL} own tensors · " + _others_line(root_tensors), []))
        for index, (head, children) in enumerate(entries):
            last = index == len(entries) - 1
            lines.append(("└── " if last else "├── ") + head)
            for child_index, child in enumerate(children):
                branch = "└── " if child_index == len(children) - 1 else "├── "
                lines.append(("    " if last else "│   ") + branch + child)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.tree()

    # -- helpers -----------------------------------------------------------------------------
    def _require_known(self, path: str) -> None:
        if path not in dict(self.module_types):
            raise self._unknown(path, "module path",
                                [p for p, _ in self.module_types if p] + [GLOBAL])

    def _unknown(self, path: object, what: str, known: Iterable[str]) -> BadInputError:
        known = list(known)
        close = difflib.get_close_matches(str(path), known, n=5, cutoff=0.5)
        hint = f"did you mean {close}? " if close else ""
        return BadInputError(
            f"unknown {what} {path!r} in {self.model_type}; {hint}"
            f"known: {_short_list(known)} (print Hierarchy.from_module(model).tree() to see all)")


#: What APIs that need a model's structure accept: the model itself or its hierarchy.
ModelOrHierarchy = Union[nn.Module, Hierarchy]


def as_hierarchy(model_or_hierarchy: ModelOrHierarchy) -> Hierarchy:
    """Accept either a model or its hierarchy (APIs take both)."""
    if isinstance(model_or_hierarchy, Hierarchy):
        return model_or_hierarchy
    return Hierarchy.from_module(model_or_hierarchy)


def format_bytes(count: float) -> str:
    """Human-readable bytes in binary units (B, KiB, MiB, GiB)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# -- discovery -------------------------------------------------------------------------------
def _discover_block_paths(model: nn.Module) -> list[str]:
    paths = []
    for name, child in model.named_children():
        if isinstance(child, CONTAINER_TYPES):
            paths.extend(f"{name}.{item}" for item, _ in child.named_children())
        else:
            paths.append(name)
    if _quantizable_weight(model) is not None:
        paths.insert(0, "")  # the root owns a weight itself (e.g. a bare nn.Linear as model)
    return paths


def _discover_tensors(model: nn.Module) -> tuple[TensorInfo, ...]:
    seen: set[int] = set()
    tensors = []
    for name, value in model.state_dict(keep_vars=True).items():
        if not hasattr(value, "shape") or id(value) in seen:
            continue
        seen.add(id(value))
        tensors.append(TensorInfo(
            name=name, owner=name.rpartition(".")[0], shape=tuple(value.shape),
            dtype=str(value.dtype).removeprefix("torch."), itemsize=value.element_size(),
            is_parameter=isinstance(value, nn.Parameter)))
    return tuple(tensors)


def _discover_modules(model: nn.Module, block_paths: list[str]) -> tuple[ModuleInfo, ...]:
    owner_of_weight: dict[int, str] = {}
    modules = []
    for path, module in model.named_modules():
        weight = _quantizable_weight(module)
        if weight is None:
            continue
        block = next((b for b in block_paths if _in_block(path, b)), None)
        if block is None:  # only reachable for weights owned by a container itself
            continue
        tied_to = owner_of_weight.get(id(weight))
        owner_of_weight.setdefault(id(weight), path)
        own_params = dict(module.named_parameters(recurse=False))
        modules.append(ModuleInfo(
            path=path, type_name=type(module).__name__, block=block,
            weight_name=f"{path}.weight" if path else "weight",
            weight_shape=tuple(weight.shape), weight_dtype=str(weight.dtype).removeprefix("torch."),
            channel_axis=1 if isinstance(module, nn.modules.conv._ConvTransposeNd) else 0,
            param_count=sum(p.numel() for p in own_params.values()), tied_to=tied_to))
    return tuple(modules)


def _quantizable_weight(module: nn.Module) -> nn.Parameter | None:
    weight = module._parameters.get("weight")
    if isinstance(weight, nn.Parameter) and weight.ndim >= 2:
        return weight
    return None


def _is_within(path: str, ancestor: str) -> bool:
    """Whether module ``path`` is ``ancestor`` or lies under it ("" is the root)."""
    return ancestor == "" or path == ancestor or path.startswith(ancestor + ".")


def _in_block(path: str, block: str) -> bool:
    """Whether module ``path`` belongs to ``block``; block "" (a root owning a weight) holds
    only the root's own tensors, not its children."""
    return path == "" if block == "" else _is_within(path, block)


def _others_line(tensors: list[TensorInfo]) -> str:
    names = [t.name for t in tensors]
    shown = ", ".join(names[:4]) + (f", +{len(names) - 4} more" if len(names) > 4 else "")
    return (f"not quantized: {sum(t.numel for t in tensors):,} elements · "
            f"{format_bytes(sum(t.stored_bytes for t in tensors))} ({shown})")


def _short_list(items: Iterable[str], limit: int = 8) -> str:
    items = [repr(i) for i in items]
    if len(items) <= limit:
        return "[" + ", ".join(items) + "]"
    return "[" + ", ".join(items[:limit]) + f", ... {len(items) - limit} more]"

