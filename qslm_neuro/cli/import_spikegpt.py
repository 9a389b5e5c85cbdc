"""``qslm import-spikegpt`` (registered in :mod:`~.main`): a SpikeGPT ``.pth`` state_dict -> a verified qslm checkpoint.

The file is read with ``torch.load(weights_only=True)``, which never runs pickled code; a file
that needs more than tensors is refused with what to do instead. Every key and shape is checked
against SpikeGPT's layout for the size inferred from the tensors (``emb.weight`` gives vocabulary
and width, the block indices the depth, ``ffn.key`` the channel-mix width); missing and
unexpected keys are refused by name. The result (``architecture="spikegpt"``,
:mod:`qslm_neuro.models.spikegpt`) is written by the ordinary checkpoint code: safetensors,
config, the tokenizer file as given, and a sha256 manifest.

Defaults follow ``model_run.py``, the path that loads ``SpikeGPT-216M.pth``: binarised embedding
only for a 77-token vocabulary, residual rescaling every 6 blocks. ``--embedding binary
--rescale-every 0`` runs the network as ``model.py`` (training) does.
"""
from __future__ import annotations

import argparse
import pickle
import re
from pathlib import Path
from typing import Any

from qslm_neuro.errors import BadInputError, DataNotFoundError

_BLOCK = re.compile(r"^blocks\.(\d+)\.")
#: model_run.py binarises the embedding only for this vocabulary size.
BINARY_EMBEDDING_VOCAB = 77
MODEL_RUN_RESCALE_EVERY = 6
SHOWN = 12  # names listed per problem in an error message
EXIT_OK = 0
HELP = "convert a SpikeGPT .pth state_dict (and its tokenizer) into a verified checkpoint"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="SpikeGPT state_dict file, e.g. SpikeGPT-216M.pth")
    p.add_argument("--tokenizer", required=True,
                   help="its tokenizer file (SpikeGPT: 20B_tokenizer.json)")
    p.add_argument("--out", required=True, help="checkpoint directory to write")
    p.add_argument("--embedding", default="auto", choices=["auto", "float", "binary"],
                   help="auto: as model_run.py (binary only for a 77-token vocabulary)")
    p.add_argument("--rescale-every", type=int, default=MODEL_RUN_RESCALE_EVERY,
                   help="halve the residual every N blocks as model_run.py does (0: off, as "
                   "model.py)")
    p.add_argument("--task", default="lm", choices=["lm", "classify"],
                   help="classify: a fine-tuned classifier, head.weight [classes, width] + head.bias")
    p.add_argument("--ctx-len", type=int, default=1024, help="context length (SpikeGPT: 1024)")
    p.add_argument("--name", default=None, help="config name (default: the file's stem)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")


def read_state_dict(path: Path) -> dict[str, Any]:
    """Tensors of a ``.pth`` file, loaded without executing pickled code."""
    import torch

    if not path.is_file():
        raise DataNotFoundError(f"checkpoint {str(path)!r} does not exist; pass SpikeGPT's "
                                "state_dict file (e.g. SpikeGPT-216M.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        what = f"it pickles {found.group(1)}" if found else "it holds more than tensors"
        raise BadInputError(
            f"{path} cannot be read with torch.load(weights_only=True): {what}, and loading it "
            "would execute code stored in the file, which qslm never does. If you trust the "
            "file, re-save just its tensors elsewhere (torch.save(model.state_dict(), "
            "'plain.pth')) and import that") from exc
    except Exception as exc:  # truncated or not a torch file at all
        raise BadInputError(f"{path} is not a readable torch checkpoint ({exc})") from exc
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        keys = sorted(state)[:SHOWN] if isinstance(state, dict) else type(state).__name__
        raise BadInputError(f"{path} is not a plain state_dict of tensors (top level: {keys}); "
                            "SpikeGPT saves model.state_dict() itself")
    return state


def check_tensors(state: dict[str, Any], path: Path) -> None:
    """Refuse tensors no SpikeGPT holds: not floating point, not finite, or the size-giving
    matrices not 2-D (checked before anything is inferred from their shapes)."""
    import torch

    not_float = sorted(k for k, v in state.items() if not v.is_floating_point())
    if not_float:
        raise BadInputError(f"{path}: tensors {not_float[:SHOWN]} are not floating point "
                            f"({state[not_float[0]].dtype}); SpikeGPT's weights are float")
    for key in ("emb.weight", "blocks.0.ffn.key.weight", "head.weight"):
        if key in state and state[key].dim() != 2:
            raise BadInputError(f"{path}: {key} has shape {tuple(state[key].shape)}; SpikeGPT's "
                                "is a 2-D matrix [rows, columns]: is the file a SpikeGPT "
                                "state_dict?")
    bad = sorted(k for k, v in state.items() if not bool(torch.isfinite(v).all()))
    if bad:
        raise BadInputError(f"{path}: tensors {bad[:SHOWN]} hold NaN or infinite values; "
                            "the checkpoint is damaged or diverged: import a good one")


def infer_config(state: dict[str, Any], args: argparse.Namespace, name: str) -> Any:
    """Size and run options from the tensors and the command line."""
    from qslm_neuro.models.config import SLMConfig

    for key in ("emb.weight", "blocks.0.ffn.key.weight", "head.weight"):
        if key not in state:
            raise BadInputError(f"the checkpoint has no {key!r}, so its size cannot be inferred; "
                                "is it a SpikeGPT (RWKV) state_dict?")
    vocab, width = state["emb.weight"].shape
    depth = 1 + max(int(m.group(1)) for m in map(_BLOCK.match, state) if m)
    hidden = state["blocks.0.ffn.key.weight"].shape[0]
    embedding = args.embedding
    if embedding == "auto":
        embedding = "binary" if vocab == BINARY_EMBEDDING_VOCAB else "float"
    head = {"head": args.task}
    if args.task == "classify":
        head["n_classes"] = int(state["head.weight"].shape[0])
    return SLMConfig(vocab_size=int(vocab), d_model=int(width), n_layers=depth,
                     d_ffn=int(hidden), ctx_len=args.ctx_len, architecture="spikegpt",
                     embedding=embedding, rescale_every=args.rescale_every, name=name, **head)


def check_layout(state: dict[str, Any], expected: dict[str, tuple[int, ...]], path: Path) -> None:
    """Refuse missing, unexpected and wrongly shaped tensors, naming them."""
    problems = []
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(f"{k} {tuple(state[k].shape)} (expected {expected[k]})"
                    for k in set(expected) & set(state) if tuple(state[k].shape) != expected[k])
    for label, names in (("missing keys", missing), ("unexpected keys", unexpected),
                         ("wrong shapes", shapes)):
        if names:
            more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
            problems.append(f"{len(names)} {label}: {', '.join(names[:SHOWN])}{more}")
    if problems:
        raise BadInputError(f"{path} does not have SpikeGPT's layout for the size inferred from "
                            f"its tensors: " + "; ".join(problems))


def run(args: argparse.Namespace) -> int:
    import torch

    from qslm_neuro.fileio import sha256_file
    from qslm_neuro.models.checkpoint import save_checkpoint
    from qslm_neuro.models.spikegpt import SpikeGPT, expected_state_shapes
    from qslm_neuro.tasks.neox_tokenizer import load_tokenizer

    from qslm_neuro.validate import check_input_file, check_output_dir

    path, out = Path(args.checkpoint), Path(args.out)
    check_output_dir(args.out, overwrite=args.overwrite)
    if args.rescale_every < 0:
        raise BadInputError(f"--rescale-every {args.rescale_every}: expected 0 (off) or more")
    if args.ctx_len < 1:
        raise BadInputError(f"--ctx-len {args.ctx_len}: expected a positive number of tokens "
                            "(SpikeGPT: 1024)")
    if args.name is not None and not args.name.strip():
        raise BadInputError("--name '' is empty; leave it out for the file's stem")
    check_input_file(args.tokenizer, "--tokenizer", "tokenizer file (SpikeGPT's is "
                     "20B_tokenizer.json from its repository)")
    check_input_file(args.checkpoint, "checkpoint", "SpikeGPT state_dict file (e.g. "
                     "SpikeGPT-216M.pth)")
    tokenizer = load_tokenizer(args.tokenizer)
    state = read_state_dict(path)
    check_tensors(state, path)
    config = infer_config(state, args, args.name or path.stem)
    check_layout(state, expected_state_shapes(config), path)
    if tokenizer.vocab_size != config.vocab_size:
        raise BadInputError(
            f"--tokenizer {args.tokenizer} has {tokenizer.vocab_size} ids but emb.weight has "
            f"{config.vocab_size} rows: not the tokenizer this model was trained with")
    state = {k: v.to(torch.float32).contiguous() for k, v in state.items()}
    with torch.device("meta"):
        model = SpikeGPT(config)
    model.load_state_dict(state, strict=True, assign=True)
    info = {"imported_from": {"file": path.name, "bytes": path.stat().st_size,
                              "sha256": sha256_file(path), "tokenizer": Path(args.tokenizer).name,
                              "tokenizer_sha256": sha256_file(args.tokenizer)},
            "source": "SpikeGPT (Zhu et al., arXiv 2302.13939), imported by qslm import-spikegpt",
            "run_as": f"embedding={config.embedding}, rescale_every={config.rescale_every}"}
    save_checkpoint(out, model.eval(), tokenizer, info, overwrite=args.overwrite)
    print(f"imported {path.name}: {model.num_parameters():,} parameters, {config.n_layers} "
          f"blocks, width {config.d_model}, vocabulary {config.vocab_size}, "
          f"embedding {config.embedding}, rescale every {config.rescale_every or 'never'}")
    print(f"checkpoint written to {out}")
    return EXIT_OK
