#!/usr/bin/env bash
# Which CTC targets should the demo models use? (issue 13 part 5): jamo, syllables and sentencepiece over
# syllables, trained on the same 16 kHz demo corpus with the same recipe and budget, scored on the
# open-vocabulary test greedy and with an LM of each target's own unit built from the same text.
#
#   PATH="$PWD/.venv/bin:$PATH" bash examples/synthetic/compare_targets.sh [DATA_DIR] [RUN_DIR]
#
# Needs run.sh's corpus and 16 kHz run (DATA_DIR/16k, DEMO_RUN/16k: the jamo entry is the demo model's own
# training run) and open_test.sh's test (DATA_DIR/open_test/16k). Trains `char` (one token per syllable) and
# `sentencepiece` (unigram over syllables, SP_VOCAB ids) both at once, one thread each, for MINUTES with
# conf/demo.yaml: the conditions under which run.sh trains the two demo models, so all three get the same
# steps and the same CPU. Each run is averaged like the shipped models (3 best checkpoints, float16).
# LMs (from lm.sh's text pool, DATA_DIR/lm/broad_pool_nogpl.txt): the shipped jamo 6-gram for jamo, a syllable
# 4-gram for char, a word 3-gram for sentencepiece (its pieces are not LM units; the beam search scores
# words at spaces). Each pruned like the shipped one (--prune 2). Beam 16, LM weight 0.5 for all, not tuned.
# Writes RUN_DIR/targets.json and prints the table. About 2 h on 2 cores.
set -euo pipefail
DATA=${1:-data/demo}
RUN=${2:-runs/targets}
DEMO_RUN=${DEMO_RUN:-runs/demo}
MINUTES=${MINUTES:-110}
SP_VOCAB=${SP_VOCAB:-4000}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OPEN="$DATA/open_test/16k/test.jsonl"
POOL="$DATA/lm/broad_pool_nogpl.txt"
for f in "$DATA/16k/train.jsonl" "$OPEN" "$POOL" "$DEMO_RUN/16k/train_summary.json" "$DEMO_RUN/ko_jamo6.arpa.gz"; do
    [ -f "$f" ] || { echo "missing $f: run examples/synthetic/run.sh first" >&2; exit 1; }
done
mkdir -p "$RUN"

train() {  # train NAME [overrides...]: as run.sh trains demo_ko_16k
    local name=$1; shift
    hypersp-train --task synthetic --arch conformer_tiny -c "$HERE/conf/demo.yaml" \
        task.train_manifest="$DATA/16k/train.jsonl" task.valid_manifest="$DATA/16k/dev.jsonl" \
        trainer.out_dir="$RUN/$name" trainer.max_minutes="$MINUTES" trainer.resume=auto \
        trainer.progress_bar=false task.telephone_prob=0.1 "$@" > "$RUN/train_$name.log" 2>&1
}
echo "== training char and sentencepiece targets for up to $MINUTES min (logs: $RUN/train_*.log)"
train char tokenizer.name=char & pid1=$!
train sentencepiece tokenizer.name=sentencepiece tokenizer.vocab_size="$SP_VOCAB" & pid2=$!
wait $pid1; wait $pid2

echo "== LMs of each target's unit"
[ -f "$RUN/char4.arpa.gz" ] || hypersp-prepare lm --text "$POOL" --out "$RUN/char4.arpa.gz" --order 4 --prune 2 \
    --unit char --text-normalizer korean > "$RUN/char4.json"
[ -f "$RUN/word3.arpa.gz" ] || hypersp-prepare lm --text "$POOL" --out "$RUN/word3.arpa.gz" --order 3 --prune 2 \
    --unit word --text-normalizer korean > "$RUN/word3.json"

echo "== averaging and scoring on the open-vocabulary test ($OPEN)"
score() {  # score NAME RUN_DIR LM
    local name=$1 dir=$2 lm=$3
    [ -f "$RUN/$name.pt" ] || hypersp-average "$dir" -n 3 -o "$RUN/$name.pt" --half > "$RUN/$name.average.json"
    hypersp-eval --checkpoint "$RUN/$name.pt" --manifest "$OPEN" --decoding greedy --no-progress \
        --output-json "$RUN/${name}_greedy.json" > /dev/null
    hypersp-eval --checkpoint "$RUN/$name.pt" --manifest "$OPEN" --decoding ctc_beam --beam-size 16 --lm "$lm" \
        --lm-weight 0.5 --no-progress --output-json "$RUN/${name}_lm.json" > /dev/null
}
score jamo "$DEMO_RUN/16k" "$DEMO_RUN/ko_jamo6.arpa.gz"
score char "$RUN/char" "$RUN/char4.arpa.gz"
score sentencepiece "$RUN/sentencepiece" "$RUN/word3.arpa.gz"

python - "$RUN" "$DEMO_RUN" <<'PY'
import json, sys
run, demo = sys.argv[1:]
rows = []
for name, train_dir, lm in (("jamo", f"{demo}/16k", "jamo 6-gram (ko_jamo6)"), ("char", f"{run}/char", "syllable 4-gram"),
                            ("sentencepiece", f"{run}/sentencepiece", "word 3-gram")):
    t = json.load(open(f"{train_dir}/train_summary.json"))
    g, l = (json.load(open(f"{run}/{name}_{d}.json")) for d in ("greedy", "lm"))
    rows.append({"target": name, "steps": t["steps"], "minutes": round(t["train_seconds"] / 60, 1), "lm": lm,
                 "open_cer_greedy": g["cer"], "open_wer_greedy": g["wer"], "open_cer_lm": l["cer"], "open_wer_lm": l["wer"]})
json.dump(rows, open(f"{run}/targets.json", "w"), indent=1)
print("| target | steps (min) | open-test CER greedy | WER | LM | open-test CER with LM | WER |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['target']} | {r['steps']} ({r['minutes']}) | {r['open_cer_greedy']:.2f} % | {r['open_wer_greedy']:.2f} % | "
          f"{r['lm']} | {r['open_cer_lm']:.2f} % | {r['open_wer_lm']:.2f} % |")
PY
