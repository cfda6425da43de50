"""LibriSpeech (OpenSLR 12): the preparer (the task is :mod:`hypersp.tasks.corpora.librispeech`).

Raw layout::

    <root>/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac
    <root>/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt   # "<utt id> UPPER TEXT"

with the standard split names train-clean-100, train-clean-360, train-other-500, dev-clean,
dev-other, test-clean, test-other; one manifest per split found (``dev-clean.jsonl`` ...). The
split is the folder with a standard name above the file, else the folder three levels up.
Audio stays FLAC (duration from the header). ``text`` is lower-cased (``lowercase=true``,
NeMo's convention) with only ``a-z``, apostrophe and space; ``text_raw`` keeps the original.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

from hypersp.prepare.framework import (
    Item,
    Outcome,
    PrepareOptions,
    Preparer,
    audio_header,
    coerce_options,
    decode_text,
    in_bounds,
    is_os_junk,
    kept,
    pair_by_key,
    run_prepare,
    skipped,
)
from hypersp.text.normalize import english

STANDARD_SPLITS = (
    "train-clean-100", "train-clean-360", "train-other-500",
    "dev-clean", "dev-other", "test-clean", "test-other",
)


@dataclass
class LibriPrepareConfig(PrepareOptions):
    """``hypersp-prepare librispeech`` options."""

    lowercase: bool = True        # False keeps LibriSpeech's upper case in ``text``




def _split_and_chapter(path: str) -> tuple:
    parts = path.split(os.sep)
    folders = parts[:-1]
    split = next((p for p in reversed(folders) if p in STANDARD_SPLITS), "")
    if not split:
        split = folders[-3] if len(folders) >= 3 else ""
    return split, "/".join(folders[-2:])


class LibriPreparer(Preparer):
    corpus = "librispeech"

    def discover(self) -> Iterator[Item]:
        for path in self.walk():
            name = os.path.basename(path)
            if is_os_junk(path):
                yield Item(category="os_junk", path=path)
            elif name.lower().endswith(".flac") or name.lower().endswith(".wav"):
                split, chapter = _split_and_chapter(path)
                yield Item(category="audio", group=f"{split}|{chapter}", key=os.path.splitext(name)[0],
                           kind="audio", path=path, split=split)
            elif name.endswith(".trans.txt"):
                split, chapter = _split_and_chapter(path)
                yield Item(category="transcript_list", group=f"{split}|{chapter}", kind="trans", path=path, split=split)
            elif name.upper().endswith(".TXT"):
                yield Item(category="docs", path=path)      # README.TXT, SPEAKERS.TXT, CHAPTERS.TXT ...
            else:
                yield Item(category="other", path=path)

    def process_group(self, group: str, items: List[Item]) -> Iterator[Outcome]:
        split = group.split("|", 1)[0]
        audio = [i for i in items if i.kind == "audio"]
        labels: List[Item] = []
        for t in sorted((i for i in items if i.kind == "trans"), key=lambda i: i.path):
            try:
                with open(t.path, "rb") as f:
                    content, _ = decode_text(f.read())
            except (OSError, UnicodeDecodeError) as err:
                yield skipped("unreadable_label", {"path": t.path, "error": str(err)[:200]})
                continue
            for lineno, line in enumerate(content.splitlines(), 1):
                line = line.strip()
                if not line:
                    continue
                utt, _, text = line.partition(" ")
                labels.append(Item(key=utt, kind="label", path=f"{t.path}:{lineno}", text=text.strip()))
        for key, a, l, dups in pair_by_key(audio, labels):
            for d in dups:
                yield skipped("duplicate", {"path": d.path})
            if a is None:
                yield skipped("orphan_label", {"path": l.path, "text_raw": l.text})
            elif l is None:
                yield skipped("orphan_audio", {"path": a.path})
            else:
                yield self._utterance(split, key, a, l)

    def _utterance(self, split: str, key: str, a: Item, l: Item) -> Outcome:
        o = self.options
        raw = l.text
        text = english(raw) if o.lowercase else english(raw).upper()
        ex = {"path": a.path, "text_raw": raw}
        if not text:
            return skipped("empty_text", ex)
        try:
            duration, rate, _ = audio_header(a.path)
        except Exception as err:
            return skipped("unreadable_audio", {**ex, "error": str(err)[:200]})
        if not in_bounds(duration, o):
            return skipped("duration_out_of_bounds", {**ex, "duration": round(duration, 4)})
        speaker = key.split("-", 1)[0]
        record = {
            "audio_filepath": a.path,
            "duration": round(duration, 4),
            "text": text,
            "text_raw": raw,
            "utt_id": key,
            "speaker": speaker,
            "chapter": key.split("-")[1] if key.count("-") >= 2 else "",
            "corpus": self.corpus,
            "split": split,
            "sample_rate": rate,
        }
        return kept(split, record, [f"sample_rate_{rate}"])


def prepare_librispeech(root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
    """Prepare LibriSpeech under ``root`` into ``out_dir`` with ``jobs`` processes; returns the report."""
    return run_prepare(LibriPreparer(root, coerce_options(LibriPrepareConfig, options)), out_dir, jobs)
