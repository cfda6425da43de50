#!/usr/bin/env bash
# ktelspeech recipe: prepare -> train -> eval. Nothing to edit: paths come from the command line.
#
#   bash examples/ktelspeech/run.sh RAW_DIR [DATA_DIR] [RUN_DIR] [key=value ...]
#
#   RAW_DIR   the raw download, unzipped (layout: examples/ktelspeech/README.md)
#   DATA_DIR  manifests and report.json are written here (default data/ktelspeech)
#   RUN_DIR   checkpoints and results (default runs/ktelspeech_quartznet15x5)
#   key=value extra hypersp-train overrides, e.g. trainer.max_steps=1000 optim.lr=0.001
#
# Environment: JOBS (preparation workers, default 8), ARCH (model preset, default quartznet15x5),
# PREPARE_OPTS (hypersp-prepare options, e.g. "transcript_side=pronunciation keep_digits=true"),
# STAGE (start at 1 prepare, 2 train or 3 eval; default 1).
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,15p' "$0"; exit 1
fi
RAW=$1
DATA=${2:-data/ktelspeech}
RUN=${3:-runs/ktelspeech_quartznet15x5}
shift $(( $# < 3 ? $# : 3 ))
JOBS=${JOBS:-8}
ARCH=${ARCH:-quartznet15x5}
STAGE=${STAGE:-1}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "$STAGE" -le 1 ]; then
    echo "== 1/3 prepare $RAW -> $DATA (report: $DATA/report.json)"
    # resumable: rerunning after an interruption skips finished work
    hypersp-prepare ktelspeech --root "$RAW" --out "$DATA" --jobs "$JOBS" ${PREPARE_OPTS:-} > /dev/null
fi

if [ "$STAGE" -le 2 ]; then
    echo "== 2/3 train $ARCH -> $RUN"
    hypersp-train --task ktelspeech --arch "$ARCH" -c "$HERE/conf/quartznet15x5.yaml" \
        task.train_manifest="$DATA/train.jsonl" task.valid_manifest="$DATA/valid.jsonl" \
        trainer.out_dir="$RUN" trainer.resume=auto "$@" > /dev/null   # summary: $RUN/train_summary.json
fi

echo "== 3/3 evaluate $RUN/best.pt (scoring normalizer korean_cer)"
for split in test valid; do
    echo "-- $split (result: $RUN/eval_$split.json)"
    hypersp-eval --checkpoint "$RUN/best.pt" --manifest "$DATA/$split.jsonl" \
        --scoring-normalizer korean_cer --output-json "$RUN/eval_$split.json" > /dev/null
done
