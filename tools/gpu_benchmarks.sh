#!/usr/bin/env bash
# Runs on the lent GPU machine (the tool library's `device` tool), from the repository root:
#   tools/gpu_benchmarks.sh compare     -> $OUT/search_compare.json (benchmarks/search_compare.py)
#   tools/gpu_benchmarks.sh chiparith   -> $OUT/chip_arithmetic.json (SST-2 dev and the whole
#                                          WikiText-2 test set in chip arithmetic, on CUDA)
# Needs, carried beside the tree (both git-ignored): .whl/ (the cp312 wheels of snntorch, optuna
# and their pure dependencies, which the GPU image lacks) and .devdata/ (a copy of ../shared/data).
set -u -o pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 QSLM_DATA_DIR=$PWD/.devdata
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
case "${1:-}" in
  compare)
    mkdir -p runs/compare-gpu
    if [ -f .devdata/compare-store.sqlite ]; then  # a resumed run: the store of the last call
      cp .devdata/compare-store.sqlite runs/compare-gpu/evaluations.sqlite
    fi
    timeout "${LIMIT:-520}" python3 benchmarks/search_compare.py --device cuda --threads 4 \
        --no-progress --store runs/compare-gpu --results "$OUT/search_compare.json" \
        2>&1 | tee "$OUT/compare.log" | tail -40
    cp runs/compare-gpu/evaluations.sqlite "$OUT/compare-store.sqlite"
    ;;
  chiparith)
    python3 -m pytest -q -p no:cacheprovider tests/chiparith/test_twin_device.py || exit 1
    timeout "${LIMIT:-480}" python3 benchmarks/bench_chip_arithmetic.py --device cuda \
        --parts sst2,wt2 --batch-size 256 \
        --base benchmarks/results/chip_arithmetic.json --results "$OUT/chip_arithmetic.json" \
        2>&1 | tee "$OUT/chiparith.log" | tail -40
    ;;
  *) echo "usage: tools/gpu_benchmarks.sh compare|chiparith" >&2; exit 2 ;;
esac
