"""Model configurations and the named configs shipped with qslm-neuro."""
from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from qslm_neuro.errors import BadInputError

HEADS = ("lm", "classify")
TASK_KINDS = HEADS  # the old name, kept for callers that import it
#: ``qslm``: ours (LIF in front of every block linear); ``spikegpt``: SpikeGPT's own block
#: (LIF on the time-mix and channel-mix outputs, float inputs to every linear), see
#: :mod:`qslm_neuro.models.spikegpt`.
ARCHITECTURES = ("qslm", "spikegpt")
EMBEDDINGS = ("float", "binary")


@dataclass(frozen=True)
class SLMConfig:
    """Shape and neuron settings of a spiking RWKV language model.

    ``head`` is ``lm`` (next-token head over the vocabulary) or ``classify`` (mean-pooled
    sequence classification head with ``n_classes`` outputs). Which *task* scores a model of
    each head is the task registry's business (:func:`qslm_neuro.tasks.registry.task_for_head`).
    Configs saved before the field was renamed say ``task``; :meth:`from_dict` still reads them.
    """

    vocab_size: int
    d_model: int
    n_layers: int
    d_ffn: int
    ctx_len: int
    head: str = "lm"
    n_classes: int = 2
    tau: float = 2.0
    threshold: float = 1.0
    surrogate_alpha: float = 2.0
    dropout: float = 0.0
    spiking_att_output: bool = True  # LIF in front of time-mix's output linear (else float input)
    zero_init_residual: bool = False  # RWKV-4 init: branch outputs start at 0 (model starts as BoW)
    name: str = ""
    architecture: str = "qslm"
    embedding: str = "float"  # spikegpt: "binary" = Heaviside(emb) as in SpikeGPT's model.py
    rescale_every: int = 0  # spikegpt: model_run.py's RWKV_RESCALE_LAYER (0 = off)

    def __post_init__(self) -> None:
        for key in ("vocab_size", "d_model", "n_layers", "d_ffn", "ctx_len"):
            value = getattr(self, key)
            if not isinstance(value, int) or value <= 0:
                raise BadInputError(f"SLMConfig.{key}={value!r} must be a positive integer")
        if self.head not in HEADS:
            raise BadInputError(f"SLMConfig.head={self.head!r}; expected one of {HEADS}")
        if self.head == "classify" and self.n_classes < 2:
            raise BadInputError(f"SLMConfig.n_classes={self.n_classes} must be >= 2")
        for key in ("tau", "threshold", "surrogate_alpha", "dropout"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    value != value or value in (float("inf"), float("-inf")):
                raise BadInputError(f"SLMConfig.{key}={value!r} must be a finite number "
                                    "(e.g. tau 2.0, threshold 1.0)")
        for key in ("spiking_att_output", "zero_init_residual"):
            if not isinstance(getattr(self, key), bool):
                raise BadInputError(f"SLMConfig.{key}={getattr(self, key)!r} must be true or "
                                    "false")
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int):
            raise BadInputError(f"SLMConfig.n_classes={self.n_classes!r} must be an integer")
        if self.threshold <= 0:
            raise BadInputError(f"SLMConfig.threshold={self.threshold} must be > 0")
        if self.tau <= 1.0:
            raise BadInputError(f"SLMConfig.tau={self.tau} must be > 1 (time steps)")
        if not 0.0 <= self.dropout < 1.0:
            raise BadInputError(f"SLMConfig.dropout={self.dropout} must lie in [0, 1)")
        if self.architecture not in ARCHITECTURES:
            raise BadInputError(f"SLMConfig.architecture={self.architecture!r}; expected one of "
                                f"{ARCHITECTURES}")
        if self.embedding not in EMBEDDINGS:
            raise BadInputError(f"SLMConfig.embedding={self.embedding!r}; expected one of "
                                f"{EMBEDDINGS}")
        if isinstance(self.rescale_every, bool) or not isinstance(self.rescale_every, int) \
                or self.rescale_every < 0:
            raise BadInputError(f"SLMConfig.rescale_every={self.rescale_every!r} must be an "
                                "integer >= 0 (0 = no rescaling)")
        if self.architecture == "qslm" and (self.embedding != "float" or self.rescale_every):
            raise BadInputError(
                f"SLMConfig.embedding={self.embedding!r} / rescale_every={self.rescale_every} "
                "exist only for architecture='spikegpt'; set architecture='spikegpt' or drop them")

    @property
    def head_size(self) -> int:
        return self.vocab_size if self.head == "lm" else self.n_classes

    @property
    def task(self) -> str:
        """Deprecated name of :attr:`head` (it never named a task: ``classify``, not ``sst2``)."""
        warnings.warn("SLMConfig.task is now SLMConfig.head", DeprecationWarning, stacklevel=2)
        return self.head

    def with_(self, **changes: Any) -> "SLMConfig":
        changes = _renamed(changes, "SLMConfig.with_")
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise BadInputError(f"SLMConfig has no field {unknown[0]!r}; known fields: "
                                f"{sorted(known)}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SLMConfig":
        """Read a saved config; the ``task`` key of configs saved before the rename is read as
        ``head`` (shipped checkpoints keep their files, so their sha256 stays as recorded)."""
        if "task" in data and "head" not in data:
            data = {("head" if key == "task" else key): value for key, value in data.items()}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise BadInputError(f"unknown SLMConfig keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


#: Named configurations. ``tiny`` is for tests; ``small`` is the shipped size (fits 16 MB in
#: fp32 with a 4096-token vocabulary). The two SpikeGPT sizes follow research.md section 2:
#: 216M = 18 layers, width 768, channel-mix 3072, GPT-NeoX vocabulary 50277, context 1024.
#: SpikeGPT-46M was trained character-level on enwik8 with 12 layers of width 512; its
#: vocabulary size is not stated in our sources, so 6064 (the usual enwik8 character set in
#: RWKV-style loaders) is ASSUMED; the parameter count then lands at ~47M.
NAMED_CONFIGS: dict[str, SLMConfig] = {
    "tiny": SLMConfig(vocab_size=512, d_model=32, n_layers=2, d_ffn=128, ctx_len=64, name="tiny"),
    "small": SLMConfig(vocab_size=4096, d_model=192, n_layers=4, d_ffn=768, ctx_len=128,
                       dropout=0.1, name="small"),
    "spikegpt-46m": SLMConfig(vocab_size=6064, d_model=512, n_layers=12, d_ffn=2048,
                              ctx_len=1024, name="spikegpt-46m"),
    "spikegpt-216m": SLMConfig(vocab_size=50277, d_model=768, n_layers=18, d_ffn=3072,
                               ctx_len=1024, name="spikegpt-216m"),
    # SpikeGPT's own block (qslm_neuro.models.spikegpt), as its code runs each size: the 46M
    # enwik8 model with model.py's binarised embedding (vocabulary ASSUMED as above), the 216M
    # model as model_run.py loads SpikeGPT-216M.pth: float embedding, residual halved every 6
    # layers. Block dropout 0.03 as in model.py (training only).
    "spikegpt-46m-original": SLMConfig(
        vocab_size=6064, d_model=512, n_layers=12, d_ffn=2048, ctx_len=1024, dropout=0.03,
        architecture="spikegpt", embedding="binary", name="spikegpt-46m-original"),
    "spikegpt-216m-original": SLMConfig(
        vocab_size=50277, d_model=768, n_layers=18, d_ffn=3072, ctx_len=1024, dropout=0.03,
        architecture="spikegpt", embedding="float", rescale_every=6,
        name="spikegpt-216m-original"),
}


def get_config(name: str, **overrides: Any) -> SLMConfig:
    """A named config, optionally with fields replaced (e.g. ``head="classify"``)."""
    if name not in NAMED_CONFIGS:
        raise BadInputError(
            f"unknown model config {name!r}; choose one of {sorted(NAMED_CONFIGS)}")
    return NAMED_CONFIGS[name].with_(**overrides) if overrides else NAMED_CONFIGS[name]


def _renamed(changes: dict[str, Any], where: str) -> dict[str, Any]:
    """``task=`` given for ``head=`` (the field's old name): accepted, with a warning."""
    if "task" not in changes:
        return changes
    if "head" in changes:
        raise BadInputError(f"{where}: give head=, not both head= and its old name task=")
    warnings.warn(f"{where}(task=...) is now head=...", DeprecationWarning, stacklevel=3)
    return {("head" if key == "task" else key): value for key, value in changes.items()}
