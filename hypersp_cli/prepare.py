"""hypersp-prepare: turn a raw corpus download into NeMo-style manifests.

    hypersp-prepare synthetic --out data/synthetic hours=1.5 seed=0
    hypersp-prepare ksponspeech --root /data/KsponSpeech --out data/kspon --jobs 8 transcript_side=spelling

Writes OUT/<split>.jsonl and OUT/report.json (what was kept and skipped, and why).
key=value pairs set the task's preparation options (listed by --options).

More preparation steps share this command:

    hypersp-prepare tokenizer --manifest data/train.jsonl --out data/spm type=unigram vocab_size=500
    hypersp-prepare lm --manifest data/train.jsonl --out data/lm3.arpa --order 3
    hypersp-prepare manifest --from data/kaldi/test --out data/test.jsonl   # Kaldi dir, WeNet data.list, lhotse
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import List, Optional

from hypersp_cli.common import add_common_args, check_output_dir, load_requested_plugins, print_components, run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-prepare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", nargs="?", help="registered task name (see --list)")
    p.add_argument("--root", help="folder of the raw download (not needed for synthetic)")
    p.add_argument("--out", help="output folder for manifests and report.json")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes")
    p.add_argument("--options", action="store_true", help="print the corpus's preparation options and exit")
    add_common_args(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="preparation options")
    return p


SUBCOMMANDS = {"tokenizer": "hypersp_cli.tokenizer", "lm": "hypersp_cli.lm", "manifest": "hypersp_cli.manifest"}


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            print_components(["task"])
            return 0
        if not args.corpus:
            parser.error("name the corpus to prepare (see --list)")
        from omegaconf import OmegaConf

        from hypersp.config.composition import ConfigError, _explain
        from hypersp.registry import TASKS

        task_cls = TASKS.get(args.corpus)
        defaults = task_cls.prepare_options()
        if defaults is None:
            raise ConfigError(f"task {args.corpus!r} has no preparer")
        options = OmegaConf.structured(defaults)
        OmegaConf.set_struct(options, True)
        if args.options:
            print(OmegaConf.to_yaml(options), end="")
            return 0
        if not args.out:
            parser.error("--out is required")
        for item in args.overrides:
            if "=" not in item:
                raise ConfigError(f"option {item!r} is not key=value; options: {', '.join(f.name for f in fields(defaults))}")
            try:
                options = OmegaConf.merge(options, OmegaConf.from_dotlist([item]))
            except Exception as err:
                raise _explain(err, options, f"option {item!r}") from None
        options = OmegaConf.to_object(options)
        root = Path(args.root) if args.root else None
        if root is not None and not root.is_dir():
            raise FileNotFoundError(f"--root {args.root!r} is not a folder")
        check_output_dir(args.out)
        report = task_cls.prepare(root, Path(args.out), args.jobs, options)
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        kept = (report.get("utterances") or {}).get("kept") if isinstance(report, dict) else None
        if kept == 0:  # nothing usable: say so instead of exiting 0 with empty manifests
            files = (report.get("files_on_disk") or {}).get("total")
            seen = f"{files} file(s) found there" if files is not None else "nothing usable found there"
            raise ConfigError(f"no utterances prepared from --root {args.root}: {seen}; is it the raw "
                              f"{args.corpus} download (layout: examples/{args.corpus}/README.md)? "
                              f"details: {Path(args.out) / 'report.json'}")
        return 0

    return run("hypersp-prepare", body)


if __name__ == "__main__":
    sys.exit(main())
