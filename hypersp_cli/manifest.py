"""hypersp-prepare manifest: write another toolkit's data list as a hypersp manifest.

    hypersp-prepare manifest --from data/kaldi/test --out data/test.jsonl            # Kaldi data dir
    hypersp-prepare manifest --from data.list --out data/train.jsonl                 # WeNet raw list
    hypersp-prepare manifest --from cuts_test.jsonl.gz --out data/test.jsonl         # lhotse cuts

Every command that takes a manifest also reads these sources directly (``hypersp.data.interop``); converting
once makes the durations explicit and the file portable. Audio paths are written absolute. Prints a JSON
summary (format, utterances, hours).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from hypersp_cli.common import run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-prepare manifest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--from", dest="source", required=True, help="Kaldi data dir, WeNet data.list or lhotse manifest")
    p.add_argument("--format", choices=("kaldi", "wenet", "lhotse"), help="default: detected from the source")
    p.add_argument("--out", required=True, help="output .jsonl manifest")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> int:
        from hypersp.data.interop import detect_format, read_entries, write_manifest_jsonl
        from hypersp.data.manifest import ManifestError

        fmt = args.format or detect_format(args.source)
        if fmt == "nemo":
            raise ManifestError(f"{args.source} is already a hypersp (NeMo-style) manifest")
        out = Path(args.out)
        if out.is_dir():
            raise ManifestError(f"--out {args.out} is a folder; give a .jsonl file name")
        entries = list(read_entries(args.source, fmt))
        if not entries:
            raise ManifestError(f"{args.source}: no utterances")
        write_manifest_jsonl(entries, out)
        print(json.dumps({"from": args.source, "format": fmt, "out": str(out), "utterances": len(entries),
                          "hours": round(sum(e.duration for e in entries) / 3600, 4)}, ensure_ascii=False, indent=2))
        return 0

    return run("hypersp-prepare manifest", body)


if __name__ == "__main__":
    sys.exit(main())
