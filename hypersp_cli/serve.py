"""hypersp-serve: load a checkpoint and serve the demo apps.

    hypersp-serve --checkpoint runs/quickstart/best.pt

The demo apps (subtitles, minutes, online_resp, online_tel, offline_tel) are registered in the
``app`` registry; until an app is registered this command loads the checkpoint, reports what it
loaded, and says that no app is available.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from hypersp_cli.common import add_common_args, load_requested_plugins, print_components, run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="checkpoint file or shipped model name")
    p.add_argument("--app", default="all", help="registered demo app name, or 'all'")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: the app's own port")
    add_common_args(p)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            print_components(["app", "model"])
            return 0
        if not args.checkpoint:
            parser.error("--checkpoint is required")
        from hypersp.registry import APPS
        from hypersp.train.build import build_from_checkpoint
        from hypersp.train.checkpoint import load_checkpoint, resolve_checkpoint

        state = load_checkpoint(args.checkpoint)
        comp = build_from_checkpoint(state)
        info = {
            "checkpoint": str(resolve_checkpoint(args.checkpoint)),
            "task": comp.cfg.task.name,
            "model": comp.cfg.model.name,
            "sample_rate": comp.task.sample_rate,
            "vocab_size": comp.task.vocab_size,
            "parameters": sum(p.numel() for p in comp.model.parameters()),
        }
        print(json.dumps(info, ensure_ascii=False, indent=2))
        if not APPS.names():
            print("hypersp-serve: checkpoint loaded; no demo app is registered yet, so there is nothing to serve.", file=sys.stderr)
            return 0
        APPS.get(args.app)  # unknown app names fail with the list of known apps
        print("hypersp-serve: the serving layer is not implemented yet.", file=sys.stderr)
        return 1

    return run("hypersp-serve", body)


if __name__ == "__main__":
    sys.exit(main())
