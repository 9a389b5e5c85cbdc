"""Checkpoints: safetensors weights, JSON config, tokenizer and a sha256 manifest.

Layout of a checkpoint directory::

    model.safetensors   weights (fp32; or packed integers + scales, see qslm_neuro.export)
    config.json         the SLMConfig
    tokenizer.json      the BPE tokenizer the model was trained with
    training.json       how it was trained and what it measured (free-form, optional)
    manifest.json       sha256 and size of every file above

Loading verifies the manifest first: a changed, truncated or missing file is refused with a
:class:`~qslm_neuro.errors.ChecksumError` naming the file, so a model is never silently
evaluated with weights other than the ones its numbers were measured on.
"""
from __future__ import annotations

import json
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from qslm_neuro.errors import BadInputError, ChecksumError, DataNotFoundError
from qslm_neuro.fileio import sha256_file, staged_directory, write_json_atomic
from qslm_neuro.models.config import SLMConfig
from qslm_neuro.models.packed import PACKED_FORMAT
from qslm_neuro.models.rwkv import SpikingRWKV
from qslm_neuro.models.spikegpt import SpikeGPT

MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TOKENIZER = "tokenizer.json"
TRAINING = "training.json"
FORMAT = "qslm-checkpoint/1"

#: model -> (directory, tokenizer, training) of the checkpoint it was loaded from, so that a bare
#: ``loaded.model`` passed on its own (``estimate((model, plan))``) still finds its tokenizer.
_ORIGINS: "weakref.WeakKeyDictionary[SpikingRWKV, tuple[Path, Any, dict[str, Any]]]" = (
    weakref.WeakKeyDictionary())


@dataclass
class LoadedModel:
    """A model with everything needed to evaluate it."""

    model: SpikingRWKV | SpikeGPT
    tokenizer: Any  # qslm_neuro.tasks.tokenizer.Tokenizer, or NeoXTokenizer for imported SpikeGPT models
    config: SLMConfig
    path: Path
    training: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(directory: str | os.PathLike[str], model: SpikingRWKV | SpikeGPT,
                    tokenizer: Any, training: dict[str, Any] | None = None, *,
                    overwrite: bool = False) -> Path:
    """Write a checkpoint directory through a staging folder beside it, renamed in at the end
    (:func:`qslm_neuro.fileio.staged_directory`); an existing non-empty directory is replaced
    only with ``overwrite=True``."""
    directory = Path(directory)
    with staged_directory(directory, overwrite=overwrite) as staging:
        state = {name: tensor.detach().to("cpu", torch.float32).contiguous()
                 for name, tensor in model.state_dict().items() if not _is_neuron_constant(name)}
        save_file(state, str(staging / WEIGHTS), metadata={"format": FORMAT})
        (staging / CONFIG).write_text(model.config.to_json() + "\n")
        tokenizer.save(staging)
        files = [WEIGHTS, CONFIG, TOKENIZER]
        if training is not None:
            write_json_atomic(staging / TRAINING, training)
            files.append(TRAINING)
        write_manifest(staging, files, {"format": FORMAT})
    return directory


def write_manifest(staging: Path, files: list[str], header: dict[str, Any]) -> None:
    """World-readable files and their sha256 manifest (the last file written)."""
    for name in files:  # writers differ in the modes they give; shipped files are world-readable
        os.chmod(staging / name, 0o644)
    manifest = {**header, "files": {
        name: {"sha256": sha256_file(staging / name), "bytes": (staging / name).stat().st_size}
        for name in files}}
    write_json_atomic(staging / MANIFEST, manifest)


def verify_checkpoint(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every file against the manifest; return the manifest or raise ChecksumError."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise BadInputError(f"checkpoint {str(directory)!r} is a file; pass the folder that "
                            f"holds it and {MANIFEST} (e.g. data/slm-small-sst2)")
    if not directory.is_dir():
        raise DataNotFoundError(
            f"checkpoint directory {str(directory)!r} does not exist; pass the folder that holds "
            f"{MANIFEST} (e.g. data/slm-small-sst2) or train one with `qslm train`")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ChecksumError(
            f"{manifest_path} is missing: refusing to load an unverifiable checkpoint. "
            "Re-save it with qslm_neuro.models.checkpoint.save_checkpoint or `qslm train`.")
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ChecksumError(f"{manifest_path} is not a valid manifest ({exc})") from exc
    for name, entry in entries.items():
        path = directory / name
        if not path.is_file():
            raise ChecksumError(f"{path} is listed in {MANIFEST} but missing")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise ChecksumError(
                f"{path} has {size} bytes but the manifest says {entry['bytes']}: the file was "
                "truncated or changed; restore it (git checkout) or re-train")
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise ChecksumError(
                f"{path} sha256 {digest[:12]}... differs from the manifest's "
                f"{entry['sha256'][:12]}...: the file was changed; restore it or re-train")
    for required in (WEIGHTS, CONFIG, TOKENIZER):
        if required not in entries:
            raise ChecksumError(f"{manifest_path} does not list {required}")
    return manifest


def load_checkpoint(directory: str | os.PathLike[str],
                    device: str | torch.device = "cpu") -> LoadedModel:
    """Verify and load a checkpoint directory."""
    from qslm_neuro.models import construct_model
    from qslm_neuro.tasks.neox_tokenizer import load_tokenizer

    if not isinstance(directory, (str, os.PathLike)) or not str(directory).strip():
        raise BadInputError(f"checkpoint directory {directory!r}: expected a folder path such as "
                            "'data/slm-small-sst2'")
    device = checked_device(device)
    directory = Path(directory)
    manifest = verify_checkpoint(directory)
    config = SLMConfig.from_dict(json.loads((directory / CONFIG).read_text()))
    model = construct_model(config)
    try:
        if manifest.get("format") == PACKED_FORMAT:  # integer weights (qslm export)
            from qslm_neuro.models.packed import load_packed_state

            state = load_packed_state(directory / WEIGHTS)
        else:
            state = load_file(str(directory / WEIGHTS))
    except Exception as exc:  # safetensors raises its own SafetensorError for a damaged file
        raise BadInputError(f"{directory / WEIGHTS} cannot be read as safetensors ({exc}); "
                            "restore the file or re-train the checkpoint") from exc
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of another shape than the config says
        first = str(exc).strip().splitlines()[-1].strip()
        raise BadInputError(f"{directory / WEIGHTS} does not match {directory / CONFIG} "
                            f"({first}); restore the config the weights were trained with") \
            from exc
    missing = [k for k in missing if not _is_neuron_constant(k)]
    if missing or unexpected:
        raise BadInputError(
            f"{directory / WEIGHTS} does not match {CONFIG}: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}")
    model.to(device).eval()
    training_path = directory / TRAINING
    training = json.loads(training_path.read_text()) if training_path.is_file() else {}
    tokenizer = load_tokenizer(directory)
    _ORIGINS[model] = (directory, tokenizer, training)
    return LoadedModel(model=model, tokenizer=tokenizer, config=config, path=directory,
                       training=training)


def checked_device(device: Any) -> torch.device:
    """``device`` as a torch device that exists here, else BadInputError naming the fix."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise BadInputError(f"device={device!r}: expected 'cpu', 'cuda' or 'cuda:N'") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise BadInputError(f"device={device!r}: this torch ({torch.__version__}) sees no "
                                "CUDA GPU; use device='cpu' or install a CUDA build of torch")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise BadInputError(f"device={device!r}: only {torch.cuda.device_count()} GPU(s) "
                                "are visible")
    elif parsed.type not in ("cpu", "meta", "mps"):
        raise BadInputError(f"device={device!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    return parsed


def load_model(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> LoadedModel:
    """``qslm_neuro.load_model``: a verified checkpoint (model, tokenizer, config, path)."""
    return load_checkpoint(path, device)


def loaded_from(model: Any) -> LoadedModel | None:
    """The checkpoint a model was loaded from (None for a model built or trained here)."""
    try:
        origin = _ORIGINS.get(model)
    except TypeError:  # not weak-referenceable: not one of ours
        return None
    if origin is None:
        return None
    directory, tokenizer, training = origin
    return LoadedModel(model=model, tokenizer=tokenizer, config=model.config, path=directory,
                       training=training)


def _is_neuron_constant(key: str) -> bool:
    """snntorch neuron buffers (beta, threshold, ...) are rebuilt from the config."""
    return ".lif." in key
