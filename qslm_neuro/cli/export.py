"""``qslm export``: a chosen plan as deployable files.

* ``qslm export --plan report.json --out DIR``: a packed integer checkpoint (safetensors with
  integer levels at the plan's width, their scales, the unquantized tensors, a sha256 manifest);
  ``qslm eval --model DIR`` and ``load_checkpoint(DIR)`` read it back.
* ``qslm export --nir --plan report.json --out net.nir``: the model's spike-driven fragments as a
  NIR graph with the plan's weights and ``weight_bits`` / ``scale`` / ``weight_exp`` metadata;
  what NIR cannot express is listed.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from qslm_neuro.errors import BadInputError

HELP = "write a plan's model as a packed integer checkpoint, or its spiking parts as NIR"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plan", required=True,
                   help="plan JSON or search report.json (its chosen plan), or a precision")
    p.add_argument("--out", required=True, help="checkpoint directory (or .nir file with --nir)")
    p.add_argument("--model", default=None,
                   help="checkpoint directory (default: the one the search report names)")
    p.add_argument("--nir", action="store_true",
                   help="write the spike-driven fragments as a NIR graph instead")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out (never the source checkpoint)")
    p.add_argument("--strict", action="store_true",
                   help="refuse a search report made on another checkpoint or task (default: "
                   "a warning)")


def run(args: argparse.Namespace) -> int:
    from qslm_neuro.cli.checks import plan_text
    from qslm_neuro.cli.common import plan_from_arg
    from qslm_neuro.models.checkpoint import load_checkpoint
    from qslm_neuro.validate import check_output_dir, check_output_file

    plan_arg = plan_text(args.plan)
    model_dir = args.model or _report_checkpoint(plan_arg)
    if args.nir:  # everything about the output is checked before the model is read
        if not str(args.out).endswith(".nir"):
            raise BadInputError(f"--out {args.out!r}: a NIR graph file ends in .nir")
        check_output_file(args.out)
        if Path(args.out).exists() and not args.overwrite:
            raise BadInputError(f"--out {args.out!r} exists; choose a new file name or pass "
                                "--overwrite to replace it")
    else:
        check_output_dir(args.out, overwrite=args.overwrite, sources=(model_dir,))
    loaded = load_checkpoint(model_dir)
    plan = plan_from_arg(plan_arg, loaded.model, strict=args.strict)  # another model's: warns
    if args.nir:
        from qslm_neuro.export.nir_out import export_slm_nir

        graph, missing = export_slm_nir(loaded.model, plan, args.out)
        layers = [n for n, v in graph.nodes.items() if type(v).__name__ in ("Linear", "Affine")]
        print(f"wrote {args.out}: {len(layers)} LIF -> Linear layers at the plan's precision "
              f"(metadata weight_bits, scale, weight_exp)")
        print("not expressible in NIR (kept out, listed in the file's metadata): "
              + "; ".join(missing))
        return 0
    from qslm_neuro.export.packed import export_packed

    summary = export_packed(loaded, plan, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out} (packed checkpoint of {model_dir}, plan {plan.key[:12]})")
    print(f"  weight bytes on disk {summary['weight_bytes_on_disk']:,} vs footprint "
          f"{summary['footprint_weight_bytes']:,} ({summary['weight_bytes_ratio']:.4f}x); "
          f"model.safetensors {summary['safetensors_file_bytes']:,} bytes")
    return 0


def _report_checkpoint(plan_arg: str) -> str:
    """The checkpoint a search report was made on (``settings.checkpoint``)."""
    try:
        data = json.loads(Path(plan_arg).read_text())
    except (OSError, json.JSONDecodeError):
        data = {}
    checkpoint = (data.get("settings") or {}).get("checkpoint") if isinstance(data, dict) else None
    if not checkpoint:
        raise BadInputError(f"--plan {plan_arg!r} names no checkpoint; pass --model DIR")
    return str(checkpoint)
