#!/usr/bin/env bash
# The general Korean LM shipped with the demo models (issue 13 part 3): hypersp/pretrained/ko_jamo6.arpa.gz,
# an order-6 jamo Kneser-Ney model of the broad text pool (hypersp/prepare/synthetic/broad_text.py) without the GPL-3.0
# JHannanum dictionary, n-grams of order >= 3 seen once pruned. About 1 minute on one core.
#
#   pip install 'hypersp[broadtext]'; PATH="$PWD/.venv/bin:$PATH" bash examples/synthetic/lm.sh [OUT] [WORK_DIR]
#
# The pinned package versions (konlpy 0.6.0, wordfreq 3.1.1, kiwipiepy-model 0.24.0; constraints.txt) give the
# shipped bytes (see hypersp/pretrained/ko_jamo6.md). run.sh (make demo-models) runs this too.
set -euo pipefail
OUT=${1:-hypersp/pretrained/ko_jamo6.arpa.gz}
WORK=${2:-data/lm}
# Sources: every broad text source except "hannanum" (GPL-3.0); see hypersp/pretrained/ko_jamo6.md.
SOURCES=kolaw,kobill,wordfreq,kiwi
mkdir -p "$WORK"
python -m hypersp.prepare.synthetic.broad_text --out "$WORK/broad_pool_nogpl.txt" --sources "$SOURCES" > "$WORK/broad_pool_nogpl.json"
hypersp-prepare lm --text "$WORK/broad_pool_nogpl.txt" --out "$OUT" --order 6 --prune 2 --unit jamo \
    --text-normalizer korean
