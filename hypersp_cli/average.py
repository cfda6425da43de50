"""hypersp-average: average the weights of the N best checkpoints of a run into one checkpoint.

    hypersp-average runs/exp -n 5 -o runs/exp/avg5.pt          # 5 best ckpt_step*.pt by validation CER
    hypersp-average a.pt b.pt c.pt -o avg.pt                    # explicit checkpoints

The run must have kept step checkpoints (``trainer.keep_best_n=5`` or ``trainer.keep_last_n=5``).
The result is a model-only checkpoint (no optimizer state) that hypersp-eval/serve/export read;
``--half`` stores its weights as float16 (how the shipped demo models are written).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from hypersp_cli.common import run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-average", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="RUN_DIR|CKPT.pt",
                   help="a run folder (its ckpt_step*.pt are ranked by validation CER) or checkpoint files")
    p.add_argument("-n", "--num", type=int, default=5, help="how many best checkpoints of a run folder to average (default 5)")
    p.add_argument("-o", "--output", required=True, help="where to write the averaged checkpoint")
    p.add_argument("--half", action="store_true",
                   help="store floating-point weights as float16 (half the file size, for shipping; they are cast "
                        "back to float32 when the model is built)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        from hypersp.train.average import average_checkpoints, half_precision_weights, run_checkpoints
        from hypersp.checkpoint import CheckpointError, save_checkpoint

        if args.num < 1:
            raise CheckpointError(f"-n/--num must be >= 1, got {args.num}")
        if len(args.inputs) == 1 and Path(args.inputs[0]).is_dir():
            ranked = run_checkpoints(args.inputs[0])
            paths = [p for _, _, p in ranked[: args.num]]
        else:
            paths = [Path(p) for p in args.inputs]
        state = average_checkpoints(paths)
        if args.half:
            state = half_precision_weights(state)
        save_checkpoint(state, args.output)
        print(json.dumps({"output": args.output, "averaged_from": state["averaged_from"]}, ensure_ascii=False, indent=2))
        return 0

    return run("hypersp-average", body)


if __name__ == "__main__":
    sys.exit(main())
