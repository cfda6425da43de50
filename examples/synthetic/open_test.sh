#!/usr/bin/env bash
# The open-vocabulary test (issue 13 part 2): 240 reserved sentences (hypersp/prepare/synthetic/open_test_text.py,
# never training text) spoken by the demo recipe's 8 held-out eSpeak NG voices at 125-195 wpm, at
# 16 kHz and through the 8 kHz telephone channel, then the shipped demo models evaluated on them:
#
#   PATH="$PWD/.venv/bin:$PATH" bash examples/synthetic/open_test.sh [DATA_DIR] [OUT_DIR]
#
# Environment: MODEL16, MODEL8 (checkpoints, default the shipped demo_ko_16k / demo_ko_8k), JOBS,
# DECODING (extra hypersp-eval arguments: the shipped models decode with CTC beam search and the shipped LM
# hypersp/pretrained/ko_jamo6.arpa.gz by default; "--decoding greedy" for greedy, "--lm other.arpa" for another LM),
# TRAIN16, TRAIN8 (the models' training manifests, default data/demo/{16k,8k}/train.jsonl of run.sh: the share of
# test words never in their text is measured against them, and skipped when a manifest is missing).
set -euo pipefail
DATA=${1:-data/open_test}
OUT=${2:-runs/open_test}
JOBS=${JOBS:-1}
MODEL16=${MODEL16:-demo_ko_16k}
MODEL8=${MODEL8:-demo_ko_8k}
DECODING=${DECODING:-}
TRAIN16=${TRAIN16:-data/demo/16k/train.jsonl}
TRAIN8=${TRAIN8:-data/demo/8k/train.jsonl}

# Held-out voices of examples/synthetic/run.sh (never in demo training); ordinary pitch; light noise.
OPEN_OPTS=(text=open seed=0 heldout_variants=[m8,f5,steph2,klatt4,iven3,Andrea,benjamin,aunty]
    min_rate=125 max_rate=195 min_pitch=30 max_pitch=70 min_pitch_range=30 max_pitch_range=80
    noise_snr_db_min=30 noise_snr_db_max=50)

echo "== open-vocabulary test -> $DATA/16k (16 kHz) and $DATA/8k (8 kHz telephone)"
hypersp-prepare synthetic --out "$DATA/16k" --jobs "$JOBS" "${OPEN_OPTS[@]}" > /dev/null
hypersp-prepare synthetic_tel --out "$DATA/8k" --jobs "$JOBS" "${OPEN_OPTS[@]}" > /dev/null

mkdir -p "$OUT"
# shellcheck disable=SC2086
hypersp-eval --checkpoint "$MODEL16" --manifest "$DATA/16k/test.jsonl" --output-json "$OUT/open_16k.json" --no-progress $DECODING > /dev/null
# shellcheck disable=SC2086
hypersp-eval --checkpoint "$MODEL8" --manifest "$DATA/8k/test.jsonl" --output-json "$OUT/open_8k.json" --no-progress $DECODING > /dev/null

python - "$OUT" "$DATA" "$TRAIN16" "$TRAIN8" <<'PY'
import json, os, sys
from hypersp.data.manifest import read_manifest
from hypersp.prepare.synthetic.open_test_text import open_test_sentences, unseen_word_fraction
out, data, train16, train8 = sys.argv[1:]
for rate, train in (("16k", train16), ("8k", train8)):
    r = json.load(open(f"{out}/open_{rate}.json"))
    print(f"{rate}: CER {r['cer']:.2f} % (spaces removed), {r['cer_with_spaces']:.2f} % with spaces, "
          f"WER {r['wer']:.2f} % on {r['num_utterances']} utterances ({data}/{rate}/test.jsonl)")
    if not os.path.isfile(train):
        print(f"{rate}: no training manifest {train}: the share of unseen words is not measured")
        continue
    unseen = unseen_word_fraction(open_test_sentences(), (e.text for e in read_manifest(train)))
    unseen["train_manifest"] = train
    json.dump(unseen, open(f"{out}/open_{rate}_unseen.json", "w"), indent=1)
    print(f"{rate}: {unseen['num_tokens']} test words, {100 * unseen['tokens']:.1f} % of them (and "
          f"{100 * unseen['types']:.1f} % of the {unseen['num_types']} distinct words) never in {train}")
PY
