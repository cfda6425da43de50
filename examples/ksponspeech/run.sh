#!/usr/bin/env bash
# ksponspeech recipe: prepare -> train -> eval (usage: bash examples/ksponspeech/run.sh RAW_DIR [DATA_DIR] [RUN_DIR] [key=value ...];
# details in examples/recipe.sh). Official .trn splits: train / dev / eval_clean / eval_other.
CORPUS=ksponspeech VALID=dev EVAL_SPLITS="eval_clean eval_other"
source "$(dirname "${BASH_SOURCE[0]}")/../recipe.sh"
