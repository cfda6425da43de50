"""hypersp-transcribe: transcribe audio files, folders and manifests with the recognition engine.

    hypersp-transcribe call.wav lecture.mp3                          # txt on stdout: PATH<TAB>text
    hypersp-transcribe --checkpoint demo_ko_8k --channels calls/ --format json --output out/
    hypersp-transcribe --checkpoint CKPT data/test.jsonl --format jsonl --decoding ctc_beam --lm lm3.arpa
    hypersp-transcribe --checkpoint export/model.onnx lecture.wav --format srt --output subs/

CKPT is a shipped model name (default demo_ko_16k), a checkpoint file or an exported .onnx. Inputs are
audio files, folders (searched recursively for audio) or NeMo JSON-lines manifests (offset/duration
honoured, utt_id kept). Long files are cut by the VAD (``--no-segment``: each file whole); ``--channels``
recognizes each channel of a stereo file separately. The decoding flags are hypersp-eval's, and
``key=value`` overrides apply to the checkpoint's config (e.g. vad.max_segment_s=15).

Formats: txt (default; ``PATH<TAB>text`` lines, or NAME.txt per input with --output), json (the whole
transcript with segments and words; NAME.json with --output), jsonl (one line per input;
transcripts.jsonl with --output), srt and vtt (subtitle files; need --output). A file that cannot be
read is reported on stderr and the others are still transcribed; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from hypersp_cli.common import add_common_args, add_decoding_args, decoding_settings, load_requested_plugins, run

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".pcm", ".opus", ".aiff", ".aif")
MANIFEST_EXTENSIONS = (".jsonl", ".json")
FORMATS = ("txt", "json", "jsonl", "srt", "vtt")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-transcribe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="FILE|DIR|MANIFEST|key=value",
                   help="audio files, folders, manifests; key=value items are config overrides")
    p.add_argument("--checkpoint", default="demo_ko_16k",
                   help="shipped model name, checkpoint file or exported .onnx (default: demo_ko_16k)")
    p.add_argument("--format", choices=FORMATS, default="txt")
    p.add_argument("--output", metavar="DIR", help="write one file per input (or transcripts.jsonl) here")
    p.add_argument("--channels", action="store_true", help="recognize each channel of multi-channel files separately")
    p.add_argument("--no-segment", action="store_true", help="recognize each input whole instead of VAD segments")
    p.add_argument("--no-words", action="store_true", help="leave word times out of json/jsonl")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (checkpoints)")
    p.add_argument("--threads", type=int, help="onnxruntime intra-op threads (exported models)")
    add_decoding_args(p)
    add_common_args(p)
    return p


class Item:
    """One thing to transcribe: a file (whole) or a manifest entry (a span of a file)."""

    def __init__(self, path: Path, name: str, offset: float = 0.0, duration: float = 0.0, utt_id: str = ""):
        self.path, self.name, self.offset, self.duration, self.utt_id = path, name, offset, duration, utt_id


def collect(inputs: List[str]) -> Tuple[List[Item], List[str]]:
    """Expand inputs into items; returns (items, errors). A missing path is an error."""
    from hypersp.data.manifest import read_manifest

    items: List[Item] = []
    errors: List[str] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            errors.append(f"{raw}: no such file or folder")
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                errors.append(f"{raw}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder")
            # keep the path under the folder so files of the same name in subfolders do not collide
            items += [Item(p, str(Path(path.name) / p.relative_to(path).with_suffix(""))) for p in found]
        elif path.suffix.lower() in MANIFEST_EXTENSIONS:
            for i, e in enumerate(read_manifest(path)):
                uid = e.utt_id or f"{path.stem}-{i:06d}"
                items.append(Item(Path(e.audio_filepath), uid, e.offset, e.duration if e.offset else 0.0, uid))
        else:
            items.append(Item(path, path.with_suffix("").name if len(inputs) == 1 else str(path.with_suffix(""))))
    return items, errors


def write_outputs(fmt: str, out_dir: Optional[Path], item: Item, record: dict, transcript, stream) -> None:
    """Write one transcript in ``fmt``: to stdout (``stream``) or under ``out_dir``."""
    if fmt == "jsonl":
        line = json.dumps(record, ensure_ascii=False)
        (stream if out_dir is None else out_dir.joinpath("transcripts.jsonl").open("a", encoding="utf-8")).write(line + "\n")
        return
    if out_dir is None:
        if fmt == "txt":
            stream.write(f"{record['audio_filepath']}\t{record['text']}\n")
        else:
            stream.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
        return
    target = out_dir / f"{item.name.lstrip('/').replace('..', '_')}.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {"txt": lambda: record["text"] + "\n", "json": lambda: json.dumps(record, ensure_ascii=False, indent=2) + "\n",
            "srt": transcript.to_srt, "vtt": transcript.to_vtt}[fmt]()
    target.write_text(body, encoding="utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            from hypersp_cli.common import print_components

            print_components(["decoder", "model"])
            return 0
        overrides = [x for x in args.inputs if "=" in x and not Path(x).exists()]
        inputs = [x for x in args.inputs if x not in overrides]
        if not inputs:
            parser.error("give at least one audio file, folder or manifest")
        if args.format in ("srt", "vtt") and not args.output:
            parser.error(f"--format {args.format} writes one subtitle file per input: give --output DIR")
        items, errors = collect(inputs)
        if errors:
            raise FileNotFoundError("; ".join(errors))
        out_dir = Path(args.output) if args.output else None
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            if args.format == "jsonl":
                out_dir.joinpath("transcripts.jsonl").write_text("", encoding="utf-8")

        import hypersp
        from hypersp.audio.io import AudioReadError, load_audio, load_audio_channels

        asr = hypersp.load(args.checkpoint, device=args.device, threads=args.threads, overrides=overrides,
                           **decoding_settings(args))
        rate = asr.sample_rate
        bar = None
        if not args.no_progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), unit="file", desc="transcribe", file=sys.stderr)
        failed, audio_s = [], 0.0
        start = time.perf_counter()
        for item in items:
            try:
                if args.channels:
                    audio = load_audio_channels(item.path, rate, offset=item.offset, duration=item.duration)
                else:
                    audio = load_audio(item.path, rate, offset=item.offset, duration=item.duration)
            except AudioReadError as err:
                failed.append(item)
                print(f"hypersp-transcribe: skipped {item.path}: {err}", file=sys.stderr)
                if bar is not None:
                    bar.update(1)
                continue
            t = asr.transcribe(audio, sample_rate=rate, channels=args.channels, segment=not args.no_segment,
                               words=not args.no_words)
            audio_s += t.duration
            record = {"audio_filepath": str(item.path), **({"utt_id": item.utt_id} if item.utt_id else {}),
                      **t.to_dict(words=not args.no_words)}
            write_outputs(args.format, out_dir, item, record, t, sys.stdout)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        wall = time.perf_counter() - start
        print(f"hypersp-transcribe: {len(items) - len(failed)} of {len(items)} inputs, {audio_s:.1f} s audio, "
              f"{wall:.1f} s wall, RTF {wall / max(audio_s, 1e-9):.4f}, decoding {asr.decoding.name}"
              + (f"; {len(failed)} could not be read" if failed else ""), file=sys.stderr)
        return 1 if failed else 0

    return run("hypersp-transcribe", body)


if __name__ == "__main__":
    sys.exit(main())
