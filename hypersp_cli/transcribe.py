"""hypersp-transcribe: transcribe audio files, folders and manifests with the recognition engine.

    hypersp-transcribe call.wav lecture.mp3                          # txt on stdout: PATH<TAB>text
    hypersp-transcribe --checkpoint demo_ko_8k --channels calls/ --format json --output out/
    hypersp-transcribe --checkpoint CKPT data/test.jsonl --format jsonl --decoding ctc_beam --lm lm3.arpa
    hypersp-transcribe --checkpoint export/model.onnx lecture.wav --format srt --output subs/
    hypersp-transcribe long.wav vad.max_segment_s=15                 # key=value: checkpoint config overrides

CKPT is a shipped model name (default: demo_ko_16k), a checkpoint file or an exported .onnx. The text is
exactly what hypersp.load(CKPT, ...).transcribe(FILE) returns (the same engine as hypersp-eval and the
server). Inputs are audio files (wav, flac, ogg, mp3, raw PCM16 .pcm at 16 kHz), folders (searched
recursively, sorted) and NeMo JSON-lines manifests (.jsonl/.json; offset/duration honoured, utt_id kept).
Long recordings are cut into segments by the VAD (--no-segment: each input is recognized whole);
--channels recognizes each channel of a stereo file on its own (segments carry "channel").

Formats:
  txt    (default) "PATH<TAB>text" per input on stdout ("UTT_ID<TAB>text" for manifest lines);
         with --output DIR: DIR/NAME.txt per input
  json   the transcript (text, segments with start/end/channel/words, duration) plus "audio_filepath"
         (and "utt_id" for manifest lines): pretty JSON per input on stdout, or DIR/NAME.json
  jsonl  the same, one compact line per input: on stdout, or DIR/transcripts.jsonl
  srt, vtt  subtitle files DIR/NAME.srt / DIR/NAME.vtt (need --output)
txt, srt and vtt show the display form (written numbers, punctuation, corrected spacing:
hypersp.text.display); --spoken shows the spoken form the model writes (what CER scores) instead.
json and jsonl always carry both: "text" (spoken) and "display", for the transcript and each segment.
NAME is the file name without its extension; the path under a given folder is kept, and inputs that would
share a name get as many parent folders as tell them apart (a/utt.txt, b/utt.txt). Manifest lines are
named by utt_id.

A file that cannot be read is reported on stderr and the others are still transcribed; the exit code is
then 1. A missing input, an empty folder or a bad manifest stop before any work (exit code 2). A summary
(files, audio seconds, wall seconds, real-time factor) goes to stderr at the end.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

from hypersp_cli.common import (add_common_args, add_decoding_args, add_runtime_arg, decoding_settings,
                                load_requested_plugins, print_components, run)

PROG = "hypersp-transcribe"
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".pcm", ".raw")
MANIFEST_EXTENSIONS = (".jsonl", ".json")
FORMATS = ("txt", "json", "jsonl", "srt", "vtt")
DEFAULT_CHECKPOINT = "demo_ko_16k"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="*", metavar="FILE|DIR|MANIFEST|key=value",
                   help="audio files, folders and manifests to transcribe; key=value items are config overrides "
                        "for a checkpoint (e.g. vad.max_segment_s=15)")
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, metavar="CKPT",
                   help=f"shipped model name (demo_ko_16k, demo_ko_8k), checkpoint file or exported .onnx "
                        f"(default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--format", choices=FORMATS, default="txt", help="output format (default: txt)")
    p.add_argument("--output", metavar="DIR", help="write files here instead of stdout (required for srt/vtt)")
    p.add_argument("--channels", action="store_true",
                   help="recognize each channel of a multi-channel file separately (default: mix down)")
    p.add_argument("--no-segment", action="store_true", help="recognize each input whole (no VAD segmentation)")
    p.add_argument("--no-words", action="store_true", help="leave word times and confidences out of json/jsonl")
    p.add_argument("--spoken", action="store_true",
                   help="txt/srt/vtt: the spoken form (오후 세 시) instead of the display form (오후 3시.)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N (checkpoints; default: cpu)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="compute threads: onnxruntime intra-op threads for an .onnx, torch threads for a checkpoint")
    add_runtime_arg(p)
    add_decoding_args(p)
    add_common_args(p)
    return p


@dataclass
class Item:
    """One thing to transcribe: a whole file, or a span of one (a manifest line)."""

    path: Path             # the audio file
    label: str             # how it is named in txt/json output: the path as given, or the manifest's utt_id
    parts: Tuple[str, ...]  # path-like parts for the output name, most specific last (extension dropped)
    min_parts: int = 1     # parts always used (the path under a given folder)
    offset: float = 0.0    # seconds into the file
    duration: float = 0.0  # seconds; 0 = to the end
    utt_id: str = ""       # set for manifest lines
    seconds: float = 0.0   # expected audio length, for the progress bar


def _safe(part: str) -> str:
    part = re.sub(r"[\\/:*?\"<>|\x00-\x1f]", "_", part).strip()
    return "_" if part in ("", ".", "..") else part


def _file_seconds(path: Path) -> float:
    from hypersp.audio.io import AudioReadError, audio_info

    try:
        rate, frames, _ = audio_info(path)
    except (AudioReadError, OSError):
        return 0.0
    return frames / float(rate) if rate else 0.0


def collect(inputs: Sequence[str]) -> List[Item]:
    """Expand files, folders and manifests into items. A missing path, a folder without audio or a bad
    manifest raises (before any recognition starts); unreadable audio is only found when it is read."""
    from hypersp.data.manifest import ManifestError, read_manifest

    missing = [raw for raw in inputs if not Path(raw).exists()]
    if missing:
        raise FileNotFoundError(f"no such file or folder: {', '.join(missing)}")
    items: List[Item] = []
    for raw in inputs:
        path = Path(raw)
        is_list = path.is_dir() and (path / "wav.scp").is_file() or path.name.endswith((".list", ".jsonl.gz"))
        if path.is_dir() and not is_list:
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                raise FileNotFoundError(f"{raw}: no audio files ({' '.join(AUDIO_EXTENSIONS)}) in this folder")
            for p in found:
                rel = p.relative_to(path).with_suffix("").parts
                parts = path.resolve().parts + rel
                items.append(Item(p, str(p), parts, len(rel), seconds=_file_seconds(p)))
        elif is_list or path.suffix.lower() in MANIFEST_EXTENSIONS:  # also Kaldi dirs, WeNet/lhotse lists
            stem = path.resolve().with_suffix("").parts
            entries = read_manifest(path)
            if not entries:
                raise ManifestError(f"{raw}: the manifest has no lines")
            for e in entries:
                audio = Path(e.audio_filepath)
                offset, duration = e.offset, 0.0
                whole = _file_seconds(audio)
                if e.offset > 0 or (e.duration > 0 and whole - e.duration > 0.01):
                    duration = e.duration  # a span of the file; a whole-file line is read whole
                seconds = duration or max(whole - offset, 0.0)
                items.append(Item(audio, e.utt_id, stem + (e.utt_id,), 1, offset, duration, e.utt_id, seconds))
        else:
            items.append(Item(path, str(path), path.resolve().with_suffix("").parts, seconds=_file_seconds(path)))
    return items


def output_names(items: Sequence[Item]) -> List[str]:
    """A distinct relative output name (no extension) per item: its last ``min_parts`` parts, plus as many
    parent folders as it takes to tell apart items that would otherwise share a name; ``-2``, ``-3``... last."""
    depth = [it.min_parts for it in items]
    while True:
        names = ["/".join(_safe(p) for p in it.parts[-d:]) for it, d in zip(items, depth)]
        groups: Dict[str, List[int]] = defaultdict(list)
        for i, n in enumerate(names):
            groups[n.lower()].append(i)  # case-insensitive file systems
        grew = False
        for members in groups.values():
            if len({items[i].parts for i in members}) > 1:  # the same file twice: parents do not help
                for i in members:
                    if depth[i] < len(items[i].parts) - 1:  # never up to the file system root
                        depth[i] += 1
                        grew = True
        if not grew:
            break
    seen: Dict[str, int] = defaultdict(int)
    out = []
    for n in names:
        seen[n.lower()] += 1
        out.append(n if seen[n.lower()] == 1 else f"{n}-{seen[n.lower()]}")
    return out


class Writer:
    """Writes each transcript in the chosen format to stdout or under ``out_dir``."""

    def __init__(self, fmt: str, out_dir: Optional[Path], stdout: TextIO, display: bool = True):
        self.fmt, self.out_dir, self.stdout = fmt, out_dir, stdout
        self.display = display  # txt/srt/vtt: display form (True) or spoken form
        self.jsonl: Optional[TextIO] = None
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            if fmt == "jsonl":
                self.jsonl = open(out_dir / "transcripts.jsonl", "w", encoding="utf-8")

    def write(self, item: Item, name: str, transcript: Any, words: bool) -> None:
        record: Dict[str, Any] = {"audio_filepath": str(item.path)}
        if item.utt_id:
            record["utt_id"] = item.utt_id
            if item.offset or item.duration:  # a span of the file; its length is the transcript's "duration"
                record["offset"] = item.offset
        record.update(transcript.to_dict(words=words))
        if self.fmt == "jsonl":
            line = json.dumps(record, ensure_ascii=False) + "\n"
            (self.jsonl or self.stdout).write(line)
            (self.jsonl or self.stdout).flush()
            return
        if self.out_dir is None:
            if self.fmt == "txt":
                self.stdout.write(f"{item.label}\t{self._text(transcript)}\n")
            else:
                self.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
            self.stdout.flush()
            return
        body = {"txt": lambda: self._text(transcript) + "\n",
                "json": lambda: json.dumps(record, ensure_ascii=False, indent=2) + "\n",
                "srt": lambda: transcript.to_srt(display=self.display),
                "vtt": lambda: transcript.to_vtt(display=self.display)}[self.fmt]()
        target = self.out_dir / f"{name}.{self.fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")

    def _text(self, transcript: Any) -> str:
        return transcript.display if self.display else transcript.text

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()


class Progress:
    """A tqdm bar over total audio seconds on stderr, advanced by the engine's ``progress`` callback."""

    def __init__(self, total_s: float, enabled: bool):
        self.bar = None
        self.base = 0.0
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total_s, unit="s", desc="transcribe", file=sys.stderr,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio "
                                       "[{elapsed}<{remaining}{postfix}]")

    def _to(self, value: float) -> None:
        if self.bar is not None:
            value = min(value, self.bar.total or value)
            if value > self.bar.n:
                self.bar.update(value - self.bar.n)

    def callback(self, item_s: float):
        def cb(done_s: float, total_s: float) -> None:
            self._to(self.base + (item_s * done_s / total_s if total_s > 0 else 0.0))
        return cb

    def done(self, item_s: float, name: str) -> None:
        self.base += item_s
        self._to(self.base)
        if self.bar is not None:
            self.bar.set_postfix_str(name[-40:], refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            print_components(["decoder", "model"])
            return 0
        overrides = [x for x in args.inputs if "=" in x and not Path(x).exists()]
        inputs = [x for x in args.inputs if x not in overrides]
        if not inputs:
            parser.error("give at least one audio file, folder or manifest")
        if args.format in ("srt", "vtt") and not args.output:
            parser.error(f"--format {args.format} writes one subtitle file per input: give --output DIR")
        exported = str(args.checkpoint).endswith(".onnx") or Path(str(args.checkpoint) + ".json").is_file()
        if overrides and exported:
            parser.error(f"key=value overrides ({' '.join(overrides)}) apply to checkpoints, "
                         f"not to the exported model {args.checkpoint}")
        if args.threads is not None and args.threads < 1:
            parser.error("--threads must be at least 1")

        items = collect(inputs)  # missing inputs and empty folders stop here, before the model loads
        names = output_names(items)

        import hypersp
        from hypersp.audio.io import AudioReadError, load_audio, load_audio_channels

        if args.threads and not exported:
            import torch

            torch.set_num_threads(args.threads)
        t0 = time.perf_counter()
        asr = hypersp.load(args.checkpoint, device=args.device, threads=args.threads, overrides=overrides,
                           runtime=args.runtime, precision=args.precision,
                           **decoding_settings(args))
        load_s = time.perf_counter() - t0
        rate = asr.sample_rate
        words = not args.no_words
        writer = Writer(args.format, Path(args.output) if args.output else None, sys.stdout, display=not args.spoken)
        progress = Progress(sum(it.seconds for it in items), enabled=not args.no_progress)
        failed: List[str] = []
        audio_s = 0.0
        start = time.perf_counter()
        try:
            for item, name in zip(items, names):
                try:
                    if item.utt_id and not args.channels:
                        # manifest lines are read as hypersp-eval reads them (mono mix, then the model's rate)
                        audio = load_audio(item.path, rate, offset=item.offset, duration=item.duration)
                    else:  # as Recognizer.transcribe(path) reads a file: all channels at the model's rate
                        audio = load_audio_channels(item.path, rate, offset=item.offset, duration=item.duration)
                except (AudioReadError, OSError) as err:
                    failed.append(str(item.path))
                    progress.done(item.seconds, name)
                    msg = str(err) if str(item.path) in str(err) else f"{item.path}: {err}"
                    print(f"{PROG}: skipped {item.label}: {msg}", file=sys.stderr)
                    continue
                t = asr.transcribe(audio, sample_rate=rate, channels=args.channels, segment=not args.no_segment,
                                   words=words, progress=progress.callback(item.seconds))
                audio_s += t.duration
                writer.write(item, name, t, words)
                progress.done(item.seconds, name)
        finally:
            progress.close()
            writer.close()
        wall = time.perf_counter() - start
        done = len(items) - len(failed)
        print(f"{PROG}: {done} of {len(items)} inputs transcribed, {audio_s:.1f} s audio in {wall:.1f} s "
              f"(RTF {wall / audio_s if audio_s else 0.0:.4f}; model {args.checkpoint} loaded in {load_s:.1f} s, "
              f"decoding {asr.decoding.name})", file=sys.stderr)
        if failed:
            print(f"{PROG}: error: {len(failed)} of {len(items)} inputs could not be read (see above)", file=sys.stderr)
            return 1
        return 0

    return run(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
