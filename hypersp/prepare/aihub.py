"""Preparing the AIHub sets built by TmaxSoft in 2020: klecspeech, kconfspeech, krespspeech, ktelspeech.

Raw layout (any of the published variants, at any depth under ``--root``)::

    <root>/.../1.Training/라벨링데이터/KtelSpeech_train_D60_label_0/J91/S00007727/{S00007727.json,0001.txt}
    <root>/.../1.Training/원천데이터/KtelSpeech_train_D60_wav_0/J91/S00007727/0001.wav
    <root>/KlecSpeech/Training/D12/G02/S001024/{000143.wav,000143.txt,S001024.json}   # both in one folder
    <root>/[라벨]KtelSpeech_valid_D60_label_0/D60/J91/S00000001/0001.txt              # with a D level

**Pairing.** Audio and transcript are paired by *(source, domain, session, utterance stem)*:

- source: ``train`` from a folder named ``*Training*`` or ``*_train_*``, ``valid`` from
  ``*Validation*`` / ``*_valid_*`` (the deepest such folder wins); unknown -> ``train``
  (counted in ``notes.unknown_source``);
- domain: a folder named ``Dnn`` (also ``D60 2``, a macOS duplicate) or a zip folder
  ``*_Dnn_*``; the deepest wins;
- session: the folder holding the file; utterance stem: the file name without extension.

The session JSON's ``audioPath`` is *not* trusted for locating audio (it does not match the
shipped layout); its ``dialogs`` give each utterance's speaker by file-name stem, and
``speakers[]`` give the speaker's role (``type``: 상담원/고객), kept in the manifest. A folder
holding exactly one audio and one transcript whose stems differ is paired anyway
(``notes.paired_by_folder``; KrespSpeech's one-utterance folders).

**Splits.** AIHub ships Training and Validation only. ``dev.jsonl`` is Validation.
``test.jsonl`` is carved out of Training **by session, never by utterance**: a session goes
to test when ``sha1("<corpus>/<domain>/<session>")`` read as a fraction in [0, 1) is below
``test_fraction`` (default 1 %). The rule depends on nothing but the session's name, so it
is the same on every machine, for every partial download, and every run. Everything else of
Training is ``train.jsonl``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from hypersp.prepare.framework import (
    EtriPrepareOptions,
    etri_target,
    Item,
    Outcome,
    Preparer,
    audio_header,
    coerce_options,
    decode_text,
    in_bounds,
    is_os_junk,
    kept,
    pair_by_key,
    read_transcript,
    run_prepare,
    skipped,
    stable_fraction,
)

AUDIO_EXTENSIONS = (".wav", ".flac")
SPLITS = ("train", "dev", "test")


@dataclass
class AIHubPrepareConfig(EtriPrepareOptions):
    """``hypersp-prepare {klec,kconf,kresp,ktel}speech`` options (``key=value`` on the command line)."""

    test_fraction: float = 0.01         # share of Training *sessions* carved out as test


_SOURCE_TRAIN = re.compile(r"training|(^|[_\W])train([_\W]|$)", re.IGNORECASE)
_SOURCE_VALID = re.compile(r"validation|(^|[_\W])valid([_\W]|$)", re.IGNORECASE)
_DOMAIN_DIR = re.compile(r"^D(\d\d)(?:\s+\d+)?$")
_DOMAIN_ZIP = re.compile(r"_D(\d\d)_")


def parse_location(rel_dir_parts: Tuple[str, ...]) -> Tuple[str, str, str]:
    """Folder parts of a file (outermost first) -> (source, domain, session). See module docstring."""
    source = domain = ""
    for part in rel_dir_parts:
        if _SOURCE_VALID.search(part):
            source = "valid"
        elif _SOURCE_TRAIN.search(part):
            source = "train"
        m = _DOMAIN_DIR.match(part) or _DOMAIN_ZIP.search(part)
        if m:
            domain = "D" + m.group(1)
    session = rel_dir_parts[-1] if rel_dir_parts else ""
    return source, domain, session


def is_test_session(corpus: str, domain: str, session: str, fraction: float) -> bool:
    """The documented, deterministic session-level test carve-out."""
    return stable_fraction(f"{corpus}/{domain}/{session}") < float(fraction)


def split_of(corpus: str, source: str, domain: str, session: str, fraction: float) -> str:
    if source == "valid":
        return "dev"  # one split name across recipes: train / dev / test
    return "test" if is_test_session(corpus, domain, session, fraction) else "train"


class AIHubPreparer(Preparer):
    """Discovery and pairing shared by the four TmaxSoft corpora."""

    def __init__(self, corpus: str, root: Path, options: Any, native_sample_rate: int):
        super().__init__(root, options)
        self.corpus = corpus
        self.native_sample_rate = native_sample_rate

    def discover(self) -> Iterator[Item]:
        for folder, names in self.walk_dirs():
            # absolute folder parts: --root may itself be ".../1.Training/라벨링데이터"
            source, domain, session = parse_location(tuple(p for p in folder.split(os.sep) if p))
            group = f"{source}|{domain}|{session}"
            for name in names:
                path = os.path.join(folder, name)
                if is_os_junk(path):
                    yield Item(category="os_junk", path=path)
                    continue
                stem, ext = os.path.splitext(name)
                ext = ext.lower()
                if ext in AUDIO_EXTENSIONS:
                    yield Item(category="audio", group=group, key=stem, kind="audio", path=path)
                elif ext == ".txt":
                    yield Item(category="transcript", group=group, key=stem, kind="label", path=path)
                elif ext == ".json":
                    yield Item(category="session_json", group=group, key=stem, kind="meta", path=path)
                elif ext in (".md", ".pdf", ".xlsx", ".csv", ".hwp", ".docx"):
                    yield Item(category="docs", path=path)
                else:
                    yield Item(category="other", path=path)

    # ---- one session ----------------------------------------------------------------------
    def _speakers(self, metas: List[Item], notes: List[str]) -> Tuple[Dict[str, str], Dict[str, Dict[str, Any]]]:
        """From session JSON: utterance stem -> speaker id, and speaker id -> speaker record."""
        by_stem: Dict[str, str] = {}
        speakers: Dict[str, Dict[str, Any]] = {}
        for meta in sorted(metas, key=lambda m: m.path):
            try:
                with open(meta.path, "rb") as f:
                    data = json.loads(decode_text(f.read())[0])
                ds = data.get("dataSet", data) if isinstance(data, dict) else {}
                info = ds.get("typeInfo") or {}
                for sp in info.get("speakers") or []:
                    if isinstance(sp, dict) and sp.get("id") is not None:
                        speakers[str(sp["id"])] = sp
                for d in ds.get("dialogs") or []:
                    if not isinstance(d, dict) or d.get("speaker") is None:
                        continue
                    for key in ("audioPath", "textPath"):
                        p = d.get(key)
                        if p:
                            # only the file-name stem is used: audioPath's folders do not match the disk
                            by_stem[os.path.splitext(os.path.basename(str(p).replace("\\", "/")))[0]] = str(d["speaker"])
            except (OSError, ValueError, UnicodeDecodeError, AttributeError, TypeError):
                notes.append("unreadable_session_json")
        return by_stem, speakers

    def process_group(self, group: str, items: List[Item]) -> Iterator[Outcome]:
        source, domain, session = group.split("|", 2)
        o = self.options
        audio = [i for i in items if i.kind == "audio"]
        labels = [i for i in items if i.kind == "label"]
        metas = [i for i in items if i.kind == "meta"]
        group_notes: List[str] = []
        by_stem, speakers = self._speakers(metas, group_notes)
        if not metas and (audio or labels):
            group_notes.append("session_without_json")
        if not source:
            group_notes.append("unknown_source")
        split = split_of(self.corpus, source, domain, session, o.test_fraction)

        pairs = list(pair_by_key(audio, labels))
        orphans_a = [p for p in pairs if p[1] is not None and p[2] is None]
        orphans_l = [p for p in pairs if p[1] is None and p[2] is not None]
        if len(audio) == 1 and len(labels) == 1 and len(orphans_a) == 1 and len(orphans_l) == 1:
            # one-utterance folder whose file names differ: pair by folder
            pairs = [(orphans_a[0][0], orphans_a[0][1], orphans_l[0][2], [])]
            group_notes.append("paired_by_folder")

        first = True
        for key, a, l, dups in pairs:
            notes = group_notes if first else []
            first = False
            for d in dups:
                yield skipped("duplicate", {"path": d.path}, notes)
                notes = []
            if a is None:
                yield skipped("orphan_label", {"path": l.path}, notes)
                continue
            if l is None:
                yield skipped("orphan_audio", {"path": a.path}, notes)
                continue
            yield self._utterance(split, domain, session, key, a, l, by_stem, speakers, notes)

    def _utterance(self, split, domain, session, key, a: Item, l: Item, by_stem, speakers, notes) -> Outcome:
        o = self.options
        notes = list(notes)
        try:
            raw, enc = read_transcript(l.path)
        except (OSError, UnicodeDecodeError) as err:
            return skipped("unreadable_label", {"path": l.path, "error": str(err)[:200]}, notes)
        notes.append(f"encoding_{enc}")
        ex = {"path": a.path, "text_raw": raw}
        text = etri_target(raw, o, ex, notes)
        if isinstance(text, Outcome):
            return text
        try:
            duration, rate, channels = audio_header(a.path)
        except Exception as err:  # libsndfile raises its own error types
            return skipped("unreadable_audio", {**ex, "error": str(err)[:200]}, notes)
        notes.append(f"sample_rate_{rate}")
        if rate != self.native_sample_rate:
            notes.append("sample_rate_differs_from_native")
        if channels != 1:
            notes.append("multichannel_audio")
        if not in_bounds(duration, o):
            return skipped("duration_out_of_bounds", {**ex, "duration": round(duration, 4)}, notes)
        speaker_id = by_stem.get(a.key) or by_stem.get(l.key) or ""
        if not speaker_id and len(speakers) == 1:
            speaker_id = next(iter(speakers))
        sp = speakers.get(speaker_id, {})
        if speaker_id and not sp:
            notes.append("speaker_not_in_json")
        record = {
            "audio_filepath": a.path,
            "duration": round(duration, 4),
            "text": text,
            "text_raw": raw,
            "utt_id": "_".join(p for p in (domain, session, key) if p),
            "speaker": speaker_id,
            "speaker_type": str(sp.get("type") or ""),
            "session": session,
            "domain": domain,
            "corpus": self.corpus,
            "split": split,
            "sample_rate": rate,
        }
        if sp.get("gender"):
            record["gender"] = str(sp["gender"])
        return kept(split, record, notes)


def prepare_aihub(corpus: str, native_sample_rate: int, root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
    options = coerce_options(AIHubPrepareConfig, options)
    if options.transcript_side not in ("spelling", "pronunciation"):
        raise ValueError(f"transcript_side={options.transcript_side!r}; choose spelling or pronunciation")
    if not 0.0 <= float(options.test_fraction) < 1.0:
        raise ValueError(f"test_fraction={options.test_fraction}; must be in [0, 1)")
    return run_prepare(AIHubPreparer(corpus, root, options, native_sample_rate), out_dir, jobs)
