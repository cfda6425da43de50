#!/usr/bin/env bash
# A streaming demo model (issue 18): demo_ko_16k (RATE=8k: demo_ko_8k) fine-tuned with what a live stream has (conf/demo_stream.yaml:
# attention 64 frames back and none ahead, causal convolutions, features normalized by the frames so far), so the cached stream (streaming.mode=cached) computes
# the model's own forward and the final can come from the streamed frames, with no second full-context pass.
#
#   PATH="$PWD/.venv/bin:$PATH" [RATE=8k] bash examples/synthetic/stream_finetune.sh [DATA_DIR] [RUN_DIR] [KEY=VALUE ...]
#
# Below, 16k stands for RATE (16k by default, or 8k: the telephone-channel model from demo_ko_8k, as run.sh trains it).
#
# Needs run.sh's corpus (DATA_DIR/16k) and open_test.sh's test (DATA_DIR/open_test/16k). Starts from
# INIT (default RUN_DIR/demo_ko_16k.pt, run.sh's own model; or the shipped name demo_ko_16k), trains
# trainer.max_steps of conf/demo_stream.yaml on both cores (MINUTES caps it), averages the 3 best checkpoints
# (float16) into RUN_DIR/demo_ko_16k_stream.pt and evaluates it offline (in-vocabulary and open-vocabulary test,
# greedy and with the shipped LM), by segment length (bench/long_segments.py) and streamed (bench/streaming_cost.py
# on the open test: the final from the streamed frames vs the same model offline) and writes its model card (stream_card.py) beside it; SHIP=1 also
# puts model, card and default decoding (conf/demo_ko_16k_stream.decoding.yaml) into hypersp/pretrained/, as
# the shipped demo_ko_16k_stream was made. About an hour on 2 cores.
set -euo pipefail
DATA=${1:-data/demo}
RUN=${2:-runs/demo}
shift $(( $# < 2 ? $# : 2 ))  # the rest: hypersp-train overrides (e.g. trainer.max_steps=600)
RATE=${RATE:-16k}  # 16k, or 8k: demo_ko_8k fine-tuned into demo_ko_8k_stream (telephone channel)
[ "$RATE" = 16k ] || [ "$RATE" = 8k ] || { echo "RATE=$RATE: give 16k or 8k" >&2; exit 1; }
INIT=${INIT:-$RUN/demo_ko_$RATE.pt}
MINUTES=${MINUTES:-100}
SHIP=${SHIP:-0}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT="$RUN/${RATE}_stream"
NAME=demo_ko_${RATE}_stream
OPEN="$DATA/open_test/$RATE/test.jsonl"
TASK=(synthetic task.telephone_prob=0.1)  # as run.sh trains each rate
[ "$RATE" = 8k ] && TASK=(synthetic_tel)
LM="$ROOT/hypersp/pretrained/ko_jamo6.arpa.gz"
for f in "$DATA/$RATE/train.jsonl" "$OPEN"; do
    [ -f "$f" ] || { echo "missing $f: run examples/synthetic/run.sh first" >&2; exit 1; }
done
mkdir -p "$RUN"

echo "== fine-tuning $INIT for streaming (log: $RUN/train_${RATE}_stream.log)"
hypersp-train --task "${TASK[0]}" --arch conformer_tiny -c "$HERE/conf/demo.yaml" -c "$HERE/conf/demo_stream.yaml" \
    task.train_manifest="$DATA/$RATE/train.jsonl" task.valid_manifest="$DATA/$RATE/dev.jsonl" "${TASK[@]:1}" \
    trainer.init_from="$INIT" trainer.out_dir="$OUT" trainer.max_minutes="$MINUTES" trainer.resume=auto \
    trainer.progress_bar=false "$@" > "$RUN/train_${RATE}_stream.log" 2>&1

echo "== averaging; offline CER (in-vocabulary and open-vocabulary test, greedy and beam 16 + ko_jamo6 w0.5)"
hypersp-average "$OUT" -n 3 -o "$RUN/$NAME.pt" --half > "$RUN/$NAME.average.json"
for split in test open; do
    manifest="$DATA/$RATE/test.jsonl"; [ $split = open ] && manifest="$OPEN"
    hypersp-eval --checkpoint "$RUN/$NAME.pt" --manifest "$manifest" --decoding greedy --no-progress \
        --output-json "$RUN/${NAME}_${split}_greedy.json" > /dev/null
    hypersp-eval --checkpoint "$RUN/$NAME.pt" --manifest "$manifest" --decoding ctc_beam --beam-size 16 --lm "$LM" \
        --lm-weight 0.5 --no-progress --output-json "$RUN/${NAME}_${split}_default.json" > /dev/null
done

echo "== CER by segment length on the open test (greedy and beam 16 + ko_jamo6 w0.5)"
python "$ROOT/bench/long_segments.py" --manifest "$OPEN" --checkpoint "$RUN/$NAME.pt" --variants engine \
    --decoding greedy --output-json "$RUN/${NAME}_by_length_greedy.json" > /dev/null
python "$ROOT/bench/long_segments.py" --manifest "$OPEN" --checkpoint "$RUN/$NAME.pt" --variants engine \
    --decoding ctc_beam --beam-size 16 --lm "$LM" --lm-weight 0.5 --output-json "$RUN/${NAME}_by_length_default.json" > /dev/null

echo "== streamed vs offline on the open test (0.1 s messages, greedy partials, final from the streamed frames)"
python "$ROOT/bench/streaming_cost.py" --manifest "$OPEN" --checkpoint "$RUN/$NAME.pt" --threads 1 \
    --decoding ctc_beam --beam-size 16 --lm "$LM" --lm-weight 0.5 \
    --variant "streamed_final:mode=cached,final_full_context=false" \
    --variant "window:mode=window" > "$RUN/${NAME}_streaming_cost.json"

PARENT="$RUN/open_default/open_$RATE.json"  # the card compares with the parent on the open test; run.sh writes it
if [ ! -f "$PARENT" ]; then  # a run dir of its own (or INIT a shipped name): evaluate the parent the same way
    echo "== $PARENT missing: the open test with $INIT (beam 16 + ko_jamo6 w0.5), for the card"
    mkdir -p "$RUN/open_default"
    hypersp-eval --checkpoint "$INIT" --manifest "$OPEN" --decoding ctc_beam --beam-size 16 --lm "$LM" \
        --lm-weight 0.5 --no-progress --output-json "$PARENT" > /dev/null
fi
python "$HERE/stream_card.py" "$RUN" "$RUN/$NAME.md" --rate "$RATE" > /dev/null
if [ "$SHIP" = 1 ]; then  # the model, its card naming it, and its default decoding (beam 16 + ko_jamo6, as demo_ko_16k)
    cp "$RUN/$NAME.pt" "$ROOT/hypersp/pretrained/"
    python "$HERE/stream_card.py" "$RUN" "$ROOT/hypersp/pretrained/$NAME.md" --shipped --rate "$RATE" > /dev/null
    cp "$HERE/conf/$NAME.decoding.yaml" "$ROOT/hypersp/pretrained/"
fi

python - "$RUN" "$NAME" "$RATE" <<'PY'
import json, sys
run, name, rate = sys.argv[1:]
t = json.load(open(f"{run}/{rate}_stream/train_summary.json"))
print(f"{name}: {t['steps']} fine-tuning steps in {t['train_seconds'] / 60:.1f} min")
for split in ("test", "open"):
    for dec in ("greedy", "default"):
        r = json.load(open(f"{run}/{name}_{split}_{dec}.json"))
        print(f"  {'in-vocabulary' if split == 'test' else 'open-vocabulary'} test, {dec}: CER {r['cer']:.2f} %")
s = json.load(open(f"{run}/{name}_streaming_cost.json"))
print(f"  offline (beam + LM) CER {s['offline']['cer']:.2f} %, {s['offline']['cpu_s']} CPU s")
for v, r in s["variants"].items():
    print(f"  {v}: CER {r['cer']:.2f} %, {r['cpu_s']} CPU s ({r['cpu_ratio_to_offline']}x offline)")
PY
