#!/usr/bin/env bash
# Quickstart: synthetic Korean corpus -> small QuartzNet -> CER/WER on unseen sentences.
# Usage: bash examples/synthetic/quickstart.sh [DATA_DIR] [RUN_DIR]
# Environment knobs: HOURS (corpus size), MINUTES (training budget), JOBS (parallel workers).
set -euo pipefail
DATA=${1:-data/synthetic}
RUN=${2:-runs/quickstart}
HOURS=${HOURS:-3}
MINUTES=${MINUTES:-16}
JOBS=${JOBS:-2}
start=$(date +%s)

echo "== 1/3 generating the synthetic Korean corpus (${HOURS} h, eSpeak NG) into ${DATA}"
mkdir -p "$DATA" "$RUN"
hypersp-prepare synthetic --out "$DATA" --jobs "$JOBS" hours="$HOURS" > /dev/null

echo "== 2/3 training rnn_small (BiLSTM jamo CTC) for up to ${MINUTES} min into ${RUN}"
hypersp-train --task synthetic --arch rnn_small -c examples/synthetic/conf/quickstart.yaml \
    task.train_manifest="$DATA/train.jsonl" task.valid_manifest="$DATA/dev.jsonl" \
    trainer.out_dir="$RUN" trainer.max_minutes="$MINUTES" > /dev/null

echo "== 3/3 evaluating $RUN/best.pt on held-out sentences ($DATA/test.jsonl)"
hypersp-eval --checkpoint "$RUN/best.pt" --manifest "$DATA/test.jsonl" --output-json "$RUN/test_result.json" > /dev/null

python - "$RUN" "$start" <<'PY'
import json, sys, time
run, start = sys.argv[1], int(sys.argv[2])
train = json.load(open(f"{run}/train_summary.json"))
test = json.load(open(f"{run}/test_result.json"))
print()
print("=" * 64)
print(" hypersp quickstart summary")
print("=" * 64)
print(f" training      : {train['steps']} steps, {train['epochs']:.1f} epochs, {train['train_seconds'] / 60:.1f} min, "
      f"{train['audio_seconds_per_second']:.0f} audio s/s")
print(f" best dev CER  : {train['best_valid_cer']:.2f} %")
print(f" test CER      : {test['cer']:.2f} % (spaces removed)   with spaces: {test['cer_with_spaces']:.2f} %")
print(f" test WER      : {test['wer']:.2f} %   on {test['num_utterances']} unseen sentences, {test['audio_seconds']:.0f} s audio")
print(f" inference RTF : {test['rtf']:.4f} (CPU)   scoring normalizer: {test['scoring_normalizer']}")
print(f" checkpoint    : {run}/best.pt   total wall time: {(time.time() - start) / 60:.1f} min")
print("=" * 64)
PY
