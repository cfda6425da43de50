"""KsponSpeech (AIHub 한국어 음성, ETRI): the preparer (the task is :mod:`hypersp.tasks.corpora.ksponspeech`).

Raw layout (as unzipped from the official archives)::

    <root>/KsponSpeech_01/KsponSpeech_0001/KsponSpeech_000001.{pcm,txt}   # .txt is CP949
    ...
    <root>/KsponSpeech_eval/eval_clean/KsponSpeech_E00001.pcm
    <root>/KsponSpeech_eval/eval_other/KsponSpeech_E03001.pcm
    <root>/scripts/{train,dev,eval_clean,eval_other}.trn                 # "<path> :: <text>", UTF-8

- **Splits**: the official ``.trn`` lists (train 620,000 / dev 2,545 / eval_clean 3,000 /
  eval_other 3,000 lines), one manifest each, named after the ``.trn`` file. ``.trn`` files are
  found anywhere under the root. Their paths are *not* joined onto the root (eval lines carry a
  ``KsponSpeech_eval/`` prefix that breaks naive joins); an utterance is matched to its
  ``.pcm`` by file stem, which is unique in the corpus.
  Without any ``.trn`` (``text_source=auto`` falls back, or ``text_source=txt``) the per-utterance
  ``.txt`` files are used with the official folder ranges: KsponSpeech_0001–0620 train,
  0621–0623 dev, ``eval_clean``/``eval_other`` folders as named.
- **Audio**: headerless little-endian PCM16 mono 16 kHz; duration ``(bytes // 2) / 16000``.
  Odd byte counts (every eval file) are fine: the trailing byte is dropped when reading
  (``notes.odd_length_pcm`` counts them).
- **Text**: UTF-8 (BOM stripped) with CP949 fallback, per file; ETRI rules of
  :mod:`hypersp.text.kspon` with ``transcript_side=spelling`` (default, as ESPnet, SpeechBrain
  and icefall) or ``pronunciation`` (KoSpeech/OpenSpeech); digits read as Hangul unless
  ``keep_digits=true`` (then set ``task.text_normalizer=korean_keep_digits``, closest to ESPnet).
- No speaker labels exist in the release; ``speaker`` is left empty.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

from hypersp.prepare.framework import (
    EtriPrepareOptions,
    etri_target,
    Item,
    Outcome,
    Preparer,
    audio_header,
    coerce_options,
    in_bounds,
    is_os_junk,
    kept,
    pair_by_key,
    pcm_duration,
    read_transcript,
    run_prepare,
    skipped,
    sniff_encoding,
)

SAMPLE_RATE = 16000
OFFICIAL_SPLITS = ("train", "dev", "eval_clean", "eval_other")


@dataclass
class KsponPrepareConfig(EtriPrepareOptions):
    """``hypersp-prepare ksponspeech`` options (``key=value`` on the command line)."""

    text_source: str = "auto"           # auto (trn when present) | trn | txt




_TRN_LINE = re.compile(r"^\s*(\S+?)\s*::\s?(.*)$")
_FOLDER = re.compile(r"^KsponSpeech_(\d{4})$")


def split_from_path(path: str) -> str:
    """Official split of a .pcm/.txt from its folders (used when no .trn is available)."""
    parts = path.split(os.sep)
    for name in ("eval_clean", "eval_other"):
        if name in parts:
            return name
    for part in reversed(parts):
        m = _FOLDER.match(part)
        if m:
            return "train" if int(m.group(1)) <= 620 else "dev"
    return ""


class KsponPreparer(Preparer):
    corpus = "ksponspeech"

    def discover(self) -> Iterator[Item]:
        for path in self.walk():
            if is_os_junk(path):
                yield Item(category="os_junk", path=path)
                continue
            stem, ext = os.path.splitext(os.path.basename(path))
            ext = ext.lower()
            if ext in (".pcm", ".wav"):
                yield Item(category="audio", group=stem, key=stem, kind="audio", path=path, split=split_from_path(path))
            elif ext == ".txt":
                yield Item(category="transcript", group=stem, key=stem, kind="txt", path=path, split=split_from_path(path))
            elif ext == ".trn":
                yield Item(category="transcript_list", path=path)
                yield from self._trn_lines(path, stem)
            elif ext in (".md", ".pdf", ".xlsx", ".hwp", ".docx") or stem.upper().startswith("README"):
                yield Item(category="docs", path=path)
            else:
                yield Item(category="other", path=path)

    def _trn_lines(self, path: str, split: str) -> Iterator[Item]:
        encoding = sniff_encoding(path)
        self.state.setdefault("trn_encodings", {})[os.path.basename(path)] = "utf-8" if encoding == "utf-8-sig" else encoding
        self.state["trn_lines"] = self.state.get("trn_lines", 0)
        with open(path, encoding=encoding, newline=None) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                self.state["trn_lines"] += 1
                m = _TRN_LINE.match(line)
                if not m:
                    yield Item(skip="unreadable_label", path=f"{path}:{lineno}", text=line[:200])
                    continue
                stem = os.path.splitext(os.path.basename(m.group(1).replace("\\", "/")))[0]
                yield Item(group=stem, key=stem, kind="trn", path=f"{path}:{lineno}", split=split,
                           text=m.group(2).strip(), extra={"trn_path": m.group(1)})

    def after_discovery(self, summary: Dict[str, Any]) -> Dict[str, Any]:
        source = self.options.text_source
        n_trn = int(self.state.get("trn_lines", 0))
        if source == "auto":
            source = "trn" if n_trn else "txt"
        if source == "trn" and not n_trn:
            raise FileNotFoundError(
                f"text_source=trn but no .trn lines were found under {self.root}; unzip KsponSpeech_scripts.zip "
                f"(scripts/train.trn ...) under the root, or pass text_source=txt to use the per-utterance .txt files"
            )
        return {**self.state, "text_source": source}

    def process_group(self, group: str, items: List[Item]) -> Iterator[Outcome]:
        source = self.state["text_source"]
        audio = [i for i in items if i.kind == "audio"]
        label_kind = "trn" if source == "trn" else "txt"
        labels = [i for i in items if i.kind == label_kind]
        notes = ["per_utterance_txt_unused"] * sum(1 for i in items if i.kind == "txt") if source == "trn" else []
        for key, a, l, dups in pair_by_key(audio, labels):
            for d in dups:
                yield skipped("duplicate", {"path": d.path}, notes)
                notes = []
            if a is None:
                yield skipped("orphan_label", {"path": l.path, "text_raw": l.text}, notes)
            elif l is None:
                yield skipped("orphan_audio", {"path": a.path}, notes)
            else:
                yield self._utterance(key, a, l, notes)
            notes = []

    def _utterance(self, key: str, a: Item, l: Item, notes: List[str]) -> Outcome:
        o = self.options
        notes = list(notes)
        if l.kind == "trn":
            raw, split = l.text, l.split
        else:
            try:
                raw, enc = read_transcript(l.path)
            except (OSError, UnicodeDecodeError) as err:
                return skipped("unreadable_label", {"path": l.path, "error": str(err)[:200]}, notes)
            notes.append(f"encoding_{enc}")
            split = a.split or l.split or "train"
        ex = {"path": a.path, "text_raw": raw}
        text = etri_target(raw, o, ex, notes)
        if isinstance(text, Outcome):
            return text
        try:
            if a.path.lower().endswith(".wav"):
                duration, rate, _ = audio_header(a.path)
            else:
                duration, odd = pcm_duration(a.path, SAMPLE_RATE)
                rate = SAMPLE_RATE
                if odd:
                    notes.append("odd_length_pcm")
        except Exception as err:
            return skipped("unreadable_audio", {**ex, "error": str(err)[:200]}, notes)
        if not in_bounds(duration, o):
            return skipped("duration_out_of_bounds", {**ex, "duration": round(duration, 4)}, notes)
        record = {
            "audio_filepath": a.path,
            "duration": round(duration, 4),
            "text": text,
            "text_raw": raw,
            "utt_id": key,
            "speaker": "",
            "corpus": self.corpus,
            "split": split,
            "sample_rate": rate,
        }
        return kept(split, record, notes)


def prepare_ksponspeech(root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
    """Prepare KsponSpeech under ``root`` into ``out_dir`` with ``jobs`` processes; returns the report."""
    options = coerce_options(KsponPrepareConfig, options)
    if options.text_source not in ("auto", "trn", "txt"):
        raise ValueError(f"text_source={options.text_source!r}; choose auto, trn or txt")
    if options.transcript_side not in ("spelling", "pronunciation"):
        raise ValueError(f"transcript_side={options.transcript_side!r}; choose spelling or pronunciation")
    return run_prepare(KsponPreparer(root, options), out_dir, jobs)
