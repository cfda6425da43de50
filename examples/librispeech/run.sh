#!/usr/bin/env bash
# librispeech recipe: prepare -> train -> eval (usage: bash examples/librispeech/run.sh RAW_DIR [DATA_DIR] [RUN_DIR] [key=value ...];
# details in examples/recipe.sh). Trains on every train-* subset found (960 h with all three).
CORPUS=librispeech VALID=dev-clean EVAL_SPLITS="dev-clean dev-other test-clean test-other"

after_prepare() {
    # every training subset found in one manifest; audio paths are absolute
    shopt -s nullglob
    local parts=("$DATA"/train-clean-*.jsonl "$DATA"/train-other-*.jsonl)
    [ ${#parts[@]} -gt 0 ] || { echo "no train-*.jsonl in $DATA: is train-clean-100 under $RAW?" >&2; exit 1; }
    cat "${parts[@]}" > "$DATA/train.jsonl"
}

source "$(dirname "${BASH_SOURCE[0]}")/../recipe.sh"
