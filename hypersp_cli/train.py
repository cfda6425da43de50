"""hypersp-train: train a model.

    hypersp-train --task synthetic --arch quartznet_small \
        task.train_manifest=data/synthetic/train.jsonl task.valid_manifest=data/synthetic/dev.jsonl \
        trainer.out_dir=runs/quickstart trainer.max_minutes=12

Priority: defaults < --arch preset < -c FILE (in order) < key=value overrides.

Multi-GPU on one machine: ``hypersp-train --nproc-per-node 4 ...`` (or ``trainer.nproc_per_node=4``)
re-launches itself with ``torch.distributed.run``; multi-node: run
``torchrun --nnodes M --nproc_per_node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT -m hypersp_cli.train ...``
on every node (see docs/training.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from hypersp_cli.common import add_common_args, load_requested_plugins, print_components, run, setup_logging


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", help="registered task name (shorthand for task.name=...)")
    p.add_argument("--arch", help="model preset (e.g. quartznet15x5) or registered model name")
    p.add_argument("-c", "--config", action="append", default=[], metavar="FILE.yaml", help="YAML config (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the fully resolved config and exit")
    p.add_argument("--nproc-per-node", type=int, default=0, metavar="N",
                   help="train on N local GPUs (or N CPU processes): re-launch through torch.distributed.run "
                        "(same as trainer.nproc_per_node=N)")
    add_common_args(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. optim.lr=0.002")
    return p


def _strip_nproc(argv: List[str]) -> List[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc-per-node":
            skip = True
        elif not a.startswith("--nproc-per-node="):
            out.append(a)
    return out


def launch(nproc: int, argv: List[str]) -> int:
    """Run this command in ``nproc`` local processes with torch.distributed.run (torchrun)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun_main

    try:
        torchrun_main(["--standalone", f"--nproc-per-node={nproc}", "-m", "hypersp_cli.train", *_strip_nproc(argv)])
    except ChildFailedError as err:
        print(f"hypersp-train: error: a training process failed: {err}".split("\n")[0], file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_intermixed_args(argv)

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            print_components()
            return 0
        from hypersp.config import compose, require, to_yaml

        overrides = list(args.overrides) + [f"plugins=[{','.join(args.plugin)}]"] if args.plugin else list(args.overrides)
        cfg = compose(args.config, overrides, task=args.task, arch=args.arch)
        if args.print_config:
            print(to_yaml(cfg), end="")
            return 0
        require(cfg, ["task.train_manifest"], "hypersp-train")
        setup_logging()
        import os

        nproc = args.nproc_per_node or int(cfg.trainer.nproc_per_node)
        if nproc > 1 and "LOCAL_RANK" not in os.environ:
            return launch(nproc, argv)
        if "LOCAL_RANK" in os.environ:
            import faulthandler

            # A rank killed by a C++ abort (SIGABRT/SIGSEGV in a collective) prints where Python was.
            faulthandler.enable(all_threads=True)
        from hypersp.train.trainer import train

        summary = train(cfg)
        if int(os.environ.get("RANK", 0)) == 0:
            print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0

    return run("hypersp-train", body)


if __name__ == "__main__":
    sys.exit(main())
