#!/usr/bin/env bash
# kconfspeech recipe: prepare -> train -> eval (usage: bash examples/kconfspeech/run.sh RAW_DIR [DATA_DIR] [RUN_DIR] [key=value ...];
# details in examples/recipe.sh). AIHub ships Training/Validation; test is carved by session.
CORPUS=kconfspeech VALID=dev EVAL_SPLITS="test dev"
source "$(dirname "${BASH_SOURCE[0]}")/../recipe.sh"
