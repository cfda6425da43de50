#!/usr/bin/env bash
# The shipped demo models demo_ko_16k and demo_ko_8k, from a clean checkout:
#
#   make install && PATH="$PWD/.venv/bin:$PATH" bash examples/synthetic/run.sh [DATA_DIR] [RUN_DIR]
#   (or: make demo-models)
#
# 1. generates the demo corpus twice, at 16 kHz and through the 8 kHz telephone channel (eSpeak NG, no
#    download; options below), 2. trains conformer_tiny on each, both at once (one thread each),
# 3. averages each run's 3 best checkpoints into a float16 model-only checkpoint and evaluates it on
#    the held-out test split (sentences, voices and a speaking-rate band never used in training),
# 4. writes each model card from those results and copies models and cards into hypersp/pretrained/ (SHIP=0 skips), where `--checkpoint demo_ko_16k` finds them.
#
# Environment: MINUTES (training budget per model, default 105), JOBS (corpus workers, default 2),
# HOURS (training audio per corpus, default 14), STAGE (start at 1 corpus, 2 train, 3 package+eval).
set -euo pipefail
DATA=${1:-data/demo}
RUN=${2:-runs/demo}
MINUTES=${MINUTES:-105}
JOBS=${JOBS:-2}
HOURS=${HOURS:-14}
STAGE=${STAGE:-1}
SHIP=${SHIP:-1}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# Every eSpeak NG variant that synthesizes Korean (variants=[all]) except 8 held out for test, wide
# rate/pitch ranges with the 165-185 wpm band kept for test, noise, 15 % random-syllable "babble".
CORPUS_OPTS=(hours="$HOURS" seed=0 variants=[all]
    heldout_variants=[m8,f5,steph2,klatt4,iven3,Andrea,benjamin,aunty] heldout_test_fraction=1.0
    min_rate=110 max_rate=250 heldout_rate_band=[165,185] min_pitch=10 max_pitch=90
    min_pitch_range=20 max_pitch_range=90 noise_snr_db_min=15 noise_snr_db_max=50
    babble_fraction=0.15 dev_fraction=0.02 test_fraction=0.03)

if [ "$STAGE" -le 1 ]; then
    echo "== 1/3 demo corpus (${HOURS} h each) -> $DATA/16k (16 kHz) and $DATA/8k (8 kHz telephone)"
    hypersp-prepare synthetic --out "$DATA/16k" --jobs "$JOBS" "${CORPUS_OPTS[@]}" > /dev/null
    hypersp-prepare synthetic_tel --out "$DATA/8k" --jobs "$JOBS" "${CORPUS_OPTS[@]}" > /dev/null
fi

train() {  # train RATE TASK [overrides...]
    local rate=$1 task=$2; shift 2
    hypersp-train --task "$task" --arch conformer_tiny -c "$HERE/conf/demo.yaml" \
        task.train_manifest="$DATA/$rate/train.jsonl" task.valid_manifest="$DATA/$rate/dev.jsonl" \
        trainer.out_dir="$RUN/$rate" trainer.max_minutes="$MINUTES" trainer.resume=auto \
        trainer.progress_bar=false "$@" > "$RUN/train_$rate.log" 2>&1
}

if [ "$STAGE" -le 2 ]; then
    echo "== 2/3 training conformer_tiny at 16 kHz and 8 kHz for up to $MINUTES min (logs: $RUN/train_*.log)"
    mkdir -p "$RUN"
    train 16k synthetic task.telephone_prob=0.1 & pid16=$!
    train 8k synthetic_tel & pid8=$!
    status=0
    wait $pid16 || { echo "16 kHz training failed: see $RUN/train_16k.log" >&2; status=1; }
    wait $pid8 || { echo "8 kHz training failed: see $RUN/train_8k.log" >&2; status=1; }
    [ $status = 0 ] || exit $status
fi

echo "== 3/3 averaging the 3 best checkpoints (float16) and evaluating on the held-out test split"
for rate in 16k 8k; do
    name=demo_ko_$rate
    hypersp-average "$RUN/$rate" -n 3 -o "$RUN/$name.pt" --half > "$RUN/$name.average.json"
    for split in dev test; do
        hypersp-eval --checkpoint "$RUN/$name.pt" --manifest "$DATA/$rate/$split.jsonl" \
            --output-json "$RUN/${name}_$split.json" > /dev/null
    done
    python "$HERE/model_card.py" "$name" "$DATA/$rate" "$RUN" "$RUN/$name.md" > /dev/null
    if [ "$SHIP" = 1 ]; then cp "$RUN/$name.pt" "$RUN/$name.md" "$ROOT/hypersp/pretrained/"; fi
done

python - "$RUN" <<'PY'
import json, sys
run = sys.argv[1]
for rate in ("16k", "8k"):
    train = json.load(open(f"{run}/{rate}/train_summary.json"))
    test = json.load(open(f"{run}/demo_ko_{rate}_test.json"))
    print(f"demo_ko_{rate}: {train['steps']} steps in {train['train_seconds'] / 60:.1f} min; held-out test CER "
          f"{test['cer']:.2f} % (spaces removed), {test['cer_with_spaces']:.2f} % with spaces, WER {test['wer']:.2f} % "
          f"on {test['num_utterances']} utterances; RTF {test['rtf']:.4f}")
PY
