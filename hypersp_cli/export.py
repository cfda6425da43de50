"""hypersp-export: export a checkpoint's CTC model to ONNX or TorchScript.

    hypersp-export --checkpoint demo_ko_16k --format onnx --out export/demo_ko_16k.onnx
    hypersp-export --checkpoint runs/quickstart/best.pt --format torchscript --out export/quickstart.ts
    hypersp-export --checkpoint runs/kaldi/best.pt --format sherpa-onnx --out export/sherpa   # a folder

Writes FILE and a JSON sidecar FILE.json (sample rate, feature config, subsampling factor,
tokenizer vocabulary) so the export runs without the checkpoint, e.g. with
``hypersp.load("export/demo_ko_16k.onnx")`` (onnxruntime and numpy features: no torch needed).
The graph maps features (B, T, F) float32 + lengths (B,) int64 to log_probs (B, T', V) +
out_lengths (B,) with dynamic B and T. For transformer checkpoints only the CTC head is exported.
--format sherpa-onnx writes a folder sherpa-onnx loads as it is (model.onnx with its metadata and
tokens.txt; load it with sherpa_onnx.OfflineRecognizer.from_zipformer_ctc) for a model trained with
the Kaldi fbank front end (-c examples/synthetic/conf/kaldi_fbank.yaml); see hypersp.export.sherpa.
Prints one JSON line describing the export.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from hypersp_cli.common import (add_common_args, check_output_dir, check_output_file, load_requested_plugins,
                                print_components, require_extra, run)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="checkpoint file or shipped model name")
    p.add_argument("--format", choices=("onnx", "torchscript", "sherpa-onnx"), default="onnx",
                   help="export format (default onnx)")
    p.add_argument("--out", help="output model file (the sidecar is written to OUT.json); "
                                 "for sherpa-onnx, the output folder")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    p.add_argument("--verify", action="store_true",
                   help="run the export on a random batch and report the max abs log-prob difference to PyTorch")
    add_common_args(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides applied to the checkpoint's config")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            print_components(["model"])
            return 0
        if not args.checkpoint or not args.out:
            parser.error("--checkpoint and --out are required")
        if args.format == "sherpa-onnx":
            return export_sherpa(args)
        check_output_file(args.out)
        if args.format == "onnx":
            require_extra("hypersp-export --format onnx", "export", ("onnx",))
        from hypersp.export.export import ExportError, export_components
        from hypersp.checkpoint import build_from_checkpoint
        from hypersp.checkpoint import load_checkpoint

        comp = build_from_checkpoint(load_checkpoint(args.checkpoint), overrides=args.overrides, device="cpu")
        try:
            meta = export_components(comp, args.format, args.out, source=args.checkpoint, opset=args.opset)
        except ExportError as err:
            print(f"hypersp-export: error: {err}", file=sys.stderr)
            return 2
        summary = {k: meta[k] for k in ("model_format", "sidecar", "sample_rate", "subsampling_factor",
                                         "input_dim", "vocab_size", "ctc_only")}
        summary["model"] = comp.cfg.model.name
        summary["out"] = args.out
        if args.verify:
            try:
                summary["max_abs_diff"] = verify(comp.model, args.format, args.out, comp.task.input_dim)
            except ImportError as err:  # onnxruntime missing: the export itself is done
                print(f"hypersp-export: --verify skipped: {err}", file=sys.stderr)
        print(json.dumps(summary, ensure_ascii=False))
        return 0

    return run("hypersp-export", body)


def export_sherpa(args) -> int:
    """``--format sherpa-onnx``: OUT is a folder that receives model.onnx and tokens.txt."""
    check_output_dir(args.out)
    require_extra("hypersp-export --format sherpa-onnx", "export", ("onnx",))
    from hypersp.checkpoint import build_from_checkpoint, load_checkpoint
    from hypersp.export.sherpa import ExportError, export_sherpa_onnx

    comp = build_from_checkpoint(load_checkpoint(args.checkpoint), overrides=args.overrides, device="cpu")
    try:
        summary = export_sherpa_onnx(comp, args.out, source=args.checkpoint, opset=args.opset)
    except ExportError as err:
        print(f"hypersp-export: error: {err}", file=sys.stderr)
        return 2
    if args.verify:
        print("hypersp-export: --verify is not available for sherpa-onnx (tests/test_sherpa_onnx.py compares it)",
              file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def verify(model, fmt: str, path: str, input_dim: int) -> float:
    """Max abs difference of valid log-probs, export vs PyTorch, on a 2-utterance batch of other lengths."""
    import torch

    from hypersp.export.export import example_inputs
    from hypersp.inference.backends import open_exported

    feats, lengths = example_inputs(input_dim, model.subsampling_factor, batch=3, frames=301)
    with torch.no_grad():
        ref, ref_len = model.eval()(feats, lengths)
    out, out_len = open_exported(path).run(feats.numpy(), lengths.numpy())
    diff = 0.0
    for b in range(feats.shape[0]):
        n = int(ref_len[b])
        diff = max(diff, float((torch.from_numpy(out[b, :n]) - ref[b, :n]).abs().max()))
    return diff


if __name__ == "__main__":
    raise SystemExit(main())
