#!/usr/bin/env bash
# Runs on the lent GPU machine: training variants side by side, each one `qslm train`.
# Brings back the best checkpoint per task (chosen by its held-out score, never by dev/test)
# and every log.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 QSLM_DATA_DIR=$PWD/.devdata
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
BUDGET=${BUDGET:-420}
mkdir -p /tmp/ck /tmp/logs
run() { name=$1; shift; python3 -m qslm_neuro.cli train --device cuda --time-budget-s $BUDGET --out /tmp/ck/$name "$@" > /tmp/logs/$name.log 2>&1 & }
source ${VARIANTS:-tools/variants.sh}
wait
python3 tools/pick_best.py /tmp/ck $OUT
tar czf $OUT/logs.tgz -C /tmp logs $(cd /tmp && ls ck/*/training.json)
