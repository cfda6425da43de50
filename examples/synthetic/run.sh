#!/usr/bin/env bash
# The shipped demo models demo_ko_16k and demo_ko_8k and their LM, from a clean checkout:
#
#   make install && PATH="$PWD/.venv/bin:$PATH" bash examples/synthetic/run.sh [DATA_DIR] [RUN_DIR]
#   (or: make demo-models, which also installs the optional extra hypersp[broadtext] the corpus needs)
#
# 1. generates the demo corpus twice, at 16 kHz and through the 8 kHz telephone channel (eSpeak NG, no
#    download; options below), and builds the general Korean LM ko_jamo6 (lm.sh),
# 2. trains conformer_tiny on each corpus, both at once (one thread each),
# 3. averages each run's 3 best checkpoints into a float16 model-only checkpoint and evaluates it: the
#    in-vocabulary test split (sentences, voices and a speaking-rate band never used in training, text from the
#    same generator), the open-vocabulary test (open_test.sh: reserved sentences never in any training text) and
#    CER by segment length (bench/long_segments.py), each greedy and with the default decoding (CTC beam
#    search + the LM, hypersp/pretrained/NAME.decoding.yaml),
# 4. writes each model card from those results (model_card.py) and copies models, cards and the LM into
#    hypersp/pretrained/ (SHIP=0 skips), where `--checkpoint demo_ko_16k` finds them.
#
# Environment: MINUTES (time cap per model, default 110; training runs trainer.max_steps of conf/demo.yaml),
# JOBS (corpus workers, default 2), HOURS (training audio per corpus, default 14), STAGE (start at 1 corpus+LM,
# 2 train, 3 package+eval).
set -euo pipefail
DATA=${1:-data/demo}
RUN=${2:-runs/demo}
MINUTES=${MINUTES:-110}
JOBS=${JOBS:-2}
HOURS=${HOURS:-14}
STAGE=${STAGE:-1}
SHIP=${SHIP:-1}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# Every eSpeak NG variant that synthesizes Korean (variants=[all]) except 8 held out for test, wide
# rate/pitch ranges with the 165-185 wpm band kept for test, noise, 15 % random-syllable "babble";
# 60 % of the sentences from the broad pool of real Korean text and lexicons (text=broad, needs
# hypersp[broadtext], which `make demo-models` installs), 10 % of training utterances 10-30 s long
# (sentences joined with pauses), 15 % in a synthetic room and 15 % through a lossy codec.
CORPUS_OPTS=(hours="$HOURS" seed=0 variants=[all]
    heldout_variants=[m8,f5,steph2,klatt4,iven3,Andrea,benjamin,aunty] heldout_test_fraction=1.0
    min_rate=110 max_rate=250 heldout_rate_band=[165,185] min_pitch=10 max_pitch=90
    min_pitch_range=20 max_pitch_range=90 noise_snr_db_min=15 noise_snr_db_max=50
    babble_fraction=0.15 dev_fraction=0.02 test_fraction=0.03
    text=broad broad_fraction=0.6 long_fraction=0.1 reverb_fraction=0.15 codec_fraction=0.15)

if [ "$STAGE" -le 1 ]; then
    echo "== 1/3 demo corpus (${HOURS} h each) -> $DATA/16k (16 kHz) and $DATA/8k (8 kHz telephone)"
    hypersp-prepare synthetic --out "$DATA/16k" --jobs "$JOBS" "${CORPUS_OPTS[@]}" > /dev/null
    hypersp-prepare synthetic_tel --out "$DATA/8k" --jobs "$JOBS" "${CORPUS_OPTS[@]}" > /dev/null
    echo "== 1/3 the general Korean LM -> $RUN/ko_jamo6.arpa.gz"
    mkdir -p "$RUN"
    bash "$HERE/lm.sh" "$RUN/ko_jamo6.arpa.gz" "$DATA/lm" > "$RUN/lm.log" 2>&1
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

echo "== 3/3 averaging the 3 best checkpoints (float16); in-vocabulary, open-vocabulary and by-length CER"
# The default decoding of the shipped models (their NAME.decoding.yaml), with this run's LM.
default_decoding() {  # default_decoding NAME -> hypersp-eval arguments
    python - "$ROOT/hypersp/pretrained/$1.decoding.yaml" "$RUN/ko_jamo6.arpa.gz" <<'PY'
import sys
from omegaconf import OmegaConf
d = OmegaConf.load(sys.argv[1])
print(f"--decoding {d.name} --beam-size {d.beam_size} --lm {sys.argv[2]} --lm-weight {d.lm_weight} --word-bonus {d.word_bonus}")
PY
}
for rate in 16k 8k; do
    name=demo_ko_$rate
    hypersp-average "$RUN/$rate" -n 3 -o "$RUN/$name.pt" --half > "$RUN/$name.average.json"
    for split in dev test; do
        hypersp-eval --checkpoint "$RUN/$name.pt" --manifest "$DATA/$rate/$split.jsonl" --decoding greedy \
            --output-json "$RUN/${name}_$split.json" --no-progress > /dev/null
    done
    # shellcheck disable=SC2046
    hypersp-eval --checkpoint "$RUN/$name.pt" --manifest "$DATA/$rate/test.jsonl" $(default_decoding "$name") \
        --output-json "$RUN/${name}_test_default.json" --no-progress > /dev/null
done
# The open-vocabulary test (made once, then reused), greedy and with the default decoding.
for dec in greedy default; do
    if [ $dec = greedy ]; then args="--decoding greedy"; else args=$(default_decoding demo_ko_16k); fi
    MODEL16="$RUN/demo_ko_16k.pt" MODEL8="$RUN/demo_ko_8k.pt" TRAIN16="$DATA/16k/train.jsonl" \
        TRAIN8="$DATA/8k/train.jsonl" DECODING="$args" JOBS="$JOBS" \
        bash "$HERE/open_test.sh" "$DATA/open_test" "$RUN/open_$dec" > "$RUN/open_$dec.log"
done
for rate in 16k 8k; do
    name=demo_ko_$rate
    python "$ROOT/bench/long_segments.py" --manifest "$DATA/open_test/$rate/test.jsonl" --checkpoint "$RUN/$name.pt" \
        --variants engine --decoding greedy --output-json "$RUN/${name}_by_length_greedy.json" > /dev/null
    # shellcheck disable=SC2046
    python "$ROOT/bench/long_segments.py" --manifest "$DATA/open_test/$rate/test.jsonl" --checkpoint "$RUN/$name.pt" \
        --variants engine $(default_decoding "$name") --output-json "$RUN/${name}_by_length_default.json" > /dev/null
    python "$HERE/model_card.py" "$name" "$DATA/$rate" "$RUN" "$RUN/$name.md" > /dev/null
done
if [ "$SHIP" = 1 ]; then
    cp "$RUN/demo_ko_16k.pt" "$RUN/demo_ko_16k.md" "$RUN/demo_ko_8k.pt" "$RUN/demo_ko_8k.md" "$RUN/ko_jamo6.arpa.gz" \
        "$ROOT/hypersp/pretrained/"
fi

python - "$RUN" <<'PY'
import json, sys
run = sys.argv[1]
for rate in ("16k", "8k"):
    train = json.load(open(f"{run}/{rate}/train_summary.json"))
    test = json.load(open(f"{run}/demo_ko_{rate}_test.json"))
    print(f"demo_ko_{rate}: {train['steps']} steps in {train['train_seconds'] / 60:.1f} min; in-vocabulary test CER "
          f"{test['cer']:.2f} % (greedy, spaces removed)")
    for dec in ("greedy", "default"):
        r = json.load(open(f"{run}/open_{dec}/open_{rate}.json"))
        print(f"  open-vocabulary test, {dec} decoding: CER {r['cer']:.2f} %, WER {r['wer']:.2f} % "
              f"on {r['num_utterances']} utterances")
PY
