#!/usr/bin/env bash
# Quickstart: synthetic Korean corpus -> small Conformer -> CER/WER on unseen sentences and on the
# open-vocabulary test (sentences whose words the corpus generator never writes).
# Usage: bash examples/synthetic/quickstart.sh [DATA_DIR] [RUN_DIR]
# Environment knobs: HOURS (corpus size), ARCH (preset), STEPS (the training budget, in optimizer steps),
# MINUTES (a safety cap on training wall time: if it stops training first, the summary says so, because
# the result then depends on the machine's speed), JOBS (parallel workers).
set -euo pipefail
DATA=${1:-data/synthetic}
RUN=${2:-runs/quickstart}
HOURS=${HOURS:-3}
ARCH=${ARCH:-conformer_tiny}
STEPS=${STEPS:-1000}
MINUTES=${MINUTES:-45}  # a quiet 2-core AMD EPYC VM needs about 36 min for 1,000 steps (README)
JOBS=${JOBS:-2}
start=$(date +%s)

echo "== 1/3 generating the synthetic Korean corpus (${HOURS} h, eSpeak NG) into ${DATA}"
mkdir -p "$DATA" "$RUN"
hypersp-prepare synthetic --out "$DATA" --jobs "$JOBS" hours="$HOURS" > /dev/null

echo "== 2/3 training ${ARCH} (jamo CTC) for ${STEPS} steps (time cap ${MINUTES} min) into ${RUN}"
hypersp-train --task synthetic --arch "$ARCH" -c examples/synthetic/conf/quickstart.yaml \
    task.train_manifest="$DATA/train.jsonl" task.valid_manifest="$DATA/dev.jsonl" \
    trainer.out_dir="$RUN" trainer.max_steps="$STEPS" trainer.max_minutes="$MINUTES" > /dev/null

echo "== 3/3 evaluating $RUN/best.pt on held-out sentences ($DATA/test.jsonl) and on the open-vocabulary test"
hypersp-eval --checkpoint "$RUN/best.pt" --manifest "$DATA/test.jsonl" --output-json "$RUN/test_result.json" > /dev/null
OPEN=${DATA}_open
hypersp-prepare synthetic --out "$OPEN" --jobs "$JOBS" text=open seed=0 \
    heldout_variants=[m8,f5,steph2,klatt4,iven3,Andrea,benjamin,aunty] min_rate=125 max_rate=195 > /dev/null
hypersp-eval --checkpoint "$RUN/best.pt" --manifest "$OPEN/test.jsonl" --output-json "$RUN/open_result.json" > /dev/null

python - "$RUN" "$start" <<'PY'
import json, sys, time
run, start = sys.argv[1], int(sys.argv[2])
train = json.load(open(f"{run}/train_summary.json"))
test = json.load(open(f"{run}/test_result.json"))
open_test = json.load(open(f"{run}/open_result.json"))
print()
print("=" * 64)
print(" hypersp quickstart summary")
print("=" * 64)
print(f" training      : {train['steps']} steps, {train['epochs']:.1f} epochs, {train['train_seconds'] / 60:.1f} min, "
      f"{train['audio_seconds_per_second']:.0f} audio s/s")
if train.get("stop_reason") == "max_minutes":
    print(f" WARNING       : the time cap stopped training at step {train['steps']}, before the step budget: "
          f"this machine was slower (or busier) than the budget assumes, so these figures are lower than a full run's")
print(f" best dev CER  : {train['best_valid_cer']:.2f} %")
print(f" test CER      : {test['cer']:.2f} % (spaces removed)   with spaces: {test['cer_with_spaces']:.2f} %")
print(f" test WER      : {test['wer']:.2f} %   on {test['num_utterances']} unseen sentences, {test['audio_seconds']:.0f} s audio")
print(f" open-vocab CER: {open_test['cer']:.2f} %   WER {open_test['wer']:.2f} %   on {open_test['num_utterances']} sentences with "
      f"words the generator never writes (held-out voices)")
print(f" inference RTF : {test['rtf']:.4f} (CPU)   scoring normalizer: {test['scoring_normalizer']}")
print(f" checkpoint    : {run}/best.pt   total wall time: {(time.time() - start) / 60:.1f} min")
print("=" * 64)
PY
