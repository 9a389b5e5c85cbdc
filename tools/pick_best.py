"""Pick the best checkpoint per task by its held-out selection score and pack it for the trip back.

Usage: python tools/pick_best.py CHECKPOINTS_DIR OUT_DIR. Dev accuracy and test perplexity are
printed for every variant but never used to choose.
"""
import json
import sys
import tarfile
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
best: dict[str, tuple[float, Path]] = {}
for info_path in sorted(root.glob("*/training.json")):
    info = json.loads(info_path.read_text())
    task = info["task"]
    scores = [e["validation"] for e in info["epochs_log"]]
    if task == "sst2":
        key, reported = max(scores), f"dev acc {info['dev_accuracy']:.4f}"
    else:
        key, reported = -min(scores), (f"test ppl {info['test_perplexity']:.2f} "
                                       f"bpb {info['test_bits_per_byte']:.4f}")
    print(f"{info_path.parent.name:10s} epochs {len(scores):3d} held-out best "
          f"{abs(key):.4f}  {reported}  {info['train_time_s']:.0f} s")
    if task not in best or key > best[task][0]:
        best[task] = (key, info_path.parent)
for task, (_, path) in best.items():
    print(f"chosen for {task}: {path.name}")
    with tarfile.open(out / f"best-{task}.tar", "w") as tar:
        tar.add(path, arcname=path.name)
