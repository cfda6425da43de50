# Shared body of examples/<corpus>/run.sh: prepare -> train -> eval. Nothing to edit: paths come
# from the command line. A corpus's run.sh sets CORPUS, VALID (validation split) and EVAL_SPLITS,
# optionally defines after_prepare(), then sources this file.
#
#   bash examples/<corpus>/run.sh RAW_DIR [DATA_DIR] [RUN_DIR] [key=value ...]
#
#   RAW_DIR   the raw download, unzipped (layout: examples/<corpus>/README.md)
#   DATA_DIR  manifests and report.json are written here (default data/<corpus>)
#   RUN_DIR   checkpoints and results (default runs/<corpus>_<arch>)
#   key=value extra hypersp-train overrides, e.g. trainer.max_steps=1000 optim.lr=0.001
#
# Environment: JOBS (preparation workers, default 8), ARCH (model preset, default quartznet15x5),
# PREPARE_OPTS (hypersp-prepare options, e.g. "transcript_side=pronunciation keep_digits=true"),
# STAGE (start at 1 prepare, 2 train or 3 eval; default 1).
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '5,14p' "${BASH_SOURCE[0]}" | sed "s/<corpus>/$CORPUS/g"; exit 1
fi
ARCH=${ARCH:-quartznet15x5}
RAW=$1
DATA=${2:-data/$CORPUS}
RUN=${3:-runs/${CORPUS}_$ARCH}
shift $(( $# < 3 ? $# : 3 ))
JOBS=${JOBS:-8}
STAGE=${STAGE:-1}
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)

if [ "$STAGE" -le 1 ]; then
    echo "== 1/3 prepare $RAW -> $DATA (report: $DATA/report.json)"
    # resumable: rerunning after an interruption skips finished work
    hypersp-prepare "$CORPUS" --root "$RAW" --out "$DATA" --jobs "$JOBS" ${PREPARE_OPTS:-} > /dev/null
    if declare -F after_prepare > /dev/null; then after_prepare; fi
fi

# A partial download prepares what exists: validate on VALID, else on the first evaluation split present.
if [ ! -s "$DATA/$VALID.jsonl" ]; then
    for split in $EVAL_SPLITS; do
        if [ -s "$DATA/$split.jsonl" ]; then
            echo "note: no $DATA/$VALID.jsonl; validating on $split instead" >&2; VALID=$split; break
        fi
    done
fi

if [ "$STAGE" -le 2 ]; then
    [ -s "$DATA/train.jsonl" ] || { echo "error: no $DATA/train.jsonl: nothing to train on (see $DATA/report.json)" >&2; exit 2; }
    [ -s "$DATA/$VALID.jsonl" ] || { echo "error: no validation manifest in $DATA ($VALID or any of: $EVAL_SPLITS)" >&2; exit 2; }
    echo "== 2/3 train $ARCH -> $RUN"
    hypersp-train --task "$CORPUS" --arch "$ARCH" -c "$HERE/conf/quartznet15x5.yaml" \
        task.train_manifest="$DATA/train.jsonl" task.valid_manifest="$DATA/$VALID.jsonl" \
        trainer.out_dir="$RUN" trainer.resume=auto "$@" > /dev/null   # summary: $RUN/train_summary.json
fi

echo "== 3/3 evaluate $RUN/best.pt on every split present (scoring normalizer: the task's task.scoring_normalizer)"
evaluated=0
for split in $EVAL_SPLITS; do
    if [ ! -s "$DATA/$split.jsonl" ]; then
        echo "-- $split: no $DATA/$split.jsonl in this download, skipped" >&2
        continue
    fi
    echo "-- $split (result: $RUN/eval_$split.json)"
    hypersp-eval --checkpoint "$RUN/best.pt" --manifest "$DATA/$split.jsonl" --output-json "$RUN/eval_$split.json" > /dev/null
    evaluated=$((evaluated + 1))
done
[ "$evaluated" -gt 0 ] || { echo "error: none of the evaluation splits ($EVAL_SPLITS) exists in $DATA" >&2; exit 2; }
