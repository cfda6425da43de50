"""hypersp-train: train a model.

    hypersp-train --task synthetic --arch quartznet_small \
        task.train_manifest=data/synthetic/train.jsonl task.valid_manifest=data/synthetic/dev.jsonl \
        trainer.out_dir=runs/quickstart trainer.max_minutes=12

Priority: defaults < --arch preset < -c FILE (in order) < key=value overrides.
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
    add_common_args(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. optim.lr=0.002")
    return p


def main(argv: Optional[List[str]] = None) -> int:
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
        from hypersp.train.trainer import train

        summary = train(cfg)
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0

    return run("hypersp-train", body)


if __name__ == "__main__":
    sys.exit(main())
