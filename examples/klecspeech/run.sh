#!/usr/bin/env bash
# klecspeech recipe: prepare -> train -> eval (usage: bash examples/klecspeech/run.sh RAW_DIR [DATA_DIR] [RUN_DIR] [key=value ...];
# details in examples/recipe.sh). AIHub ships Training/Validation; test is carved by session.
CORPUS=klecspeech VALID=dev EVAL_SPLITS="test dev"
source "$(dirname "${BASH_SOURCE[0]}")/../recipe.sh"
