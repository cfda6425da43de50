"""Other toolkits' data lists, read as hypersp manifests: Kaldi data dirs, WeNet ``data.list``, lhotse.

Every place that takes a manifest (``task.*_manifest``, ``hypersp-eval --manifest``, ``hypersp-transcribe``,
``hypersp-prepare tokenizer``) goes through :func:`hypersp.data.manifest.iter_manifest`, which asks
:func:`detect_format` what it was given and, for anything but a NeMo-style JSON-lines manifest, reads it here.
``hypersp-prepare manifest --from SRC --out OUT.jsonl`` writes the same entries as a hypersp manifest.

- **Kaldi data dir** (a folder with ``wav.scp`` and ``text``; ``segments``, ``utt2spk``, ``utt2dur`` /
  ``reco2dur`` when present). ``wav.scp`` values must be file paths: pipes (``sox ... |``) and ``ark:`` entries
  are refused with the line named (convert them to files first, e.g. with Kaldi's ``wav-copy``). Relative paths
  are taken from the current folder (Kaldi's convention: the recipe folder), else from the data dir's parent.
  Without ``segments`` each recording is one utterance; durations come from ``utt2dur``/``segments`` or the file.
- **WeNet raw list** (``data.list``: one JSON object per line with ``key``, ``wav``, ``txt``; optional ``start``
  and ``end`` in seconds). Shard lists (lines naming ``.tar`` files) are refused: use the raw list.
- **lhotse** cut manifests (``cuts*.jsonl[.gz]``: ``MonoCut`` lines with ``recording`` and ``supervisions``) and
  supervision manifests (``supervisions*.jsonl[.gz]``, read with the ``recordings*`` file beside them). Plain
  JSON, so the ``lhotse`` package is not needed. Only file sources are supported; a cut's text is its
  supervisions' texts joined with spaces, its offset and duration the cut's.

Every reader yields :class:`~hypersp.data.manifest.ManifestEntry` with absolute audio paths; the source's
speaker goes to ``extra["speaker"]``. A malformed line raises ``ManifestError`` naming the file and line.
"""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from hypersp.data.manifest import ManifestEntry, ManifestError

FORMATS = ("nemo", "kaldi", "wenet", "lhotse")


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8-sig")


def _first_object(path: Path) -> Optional[Any]:
    """The first non-blank line of ``path`` parsed as JSON (``None`` if it is not JSON)."""
    with _open_text(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    return json.loads(line)
                except json.JSONDecodeError:
                    return line
    return None


def detect_format(path: str | Path) -> str:
    """``nemo`` | ``kaldi`` | ``wenet`` | ``lhotse`` for a manifest path (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        return "kaldi"
    if not path.is_file():
        raise ManifestError(f"manifest {str(path)!r} does not exist")
    first = _first_object(path)
    if isinstance(first, dict):
        if "audio_filepath" in first:
            return "nemo"
        if "wav" in first and ("txt" in first or "key" in first):
            return "wenet"
        if "supervisions" in first or "recording_id" in first or "sources" in first:
            return "lhotse"
    elif isinstance(first, str) and first.split()[0].endswith(".tar"):
        return "wenet"
    return "nemo"  # the NeMo reader names what is wrong with the line


def read_entries(path: str | Path, fmt: Optional[str] = None) -> Iterator[ManifestEntry]:
    """Entries of a Kaldi dir, WeNet list or lhotse manifest (``fmt`` detected when omitted)."""
    fmt = fmt or detect_format(path)
    readers: Dict[str, Callable[[Path], Iterator[ManifestEntry]]] = {
        "kaldi": read_kaldi_dir, "wenet": read_wenet_list, "lhotse": read_lhotse}
    if fmt not in readers:
        raise ManifestError(f"unknown manifest format {fmt!r}; known: {', '.join(FORMATS)}")
    return readers[fmt](Path(path))


# ---------------------------------------------------------------------------------------------- helpers
def _resolve(value: str, base: Path) -> Path:
    p = Path(value)
    if p.is_absolute():
        return p
    here = Path.cwd() / p
    return here if here.exists() else (base / p)


def _duration(audio: Path, where: str) -> float:
    from hypersp.audio.io import AudioReadError, audio_info

    try:
        rate, frames, _ = audio_info(audio)
    except AudioReadError as err:
        raise ManifestError(f"{where}: {err}") from None
    return frames / float(rate)


def _table(path: Path, required: bool = True) -> Dict[str, Tuple[str, int]]:
    """A Kaldi table file ``key value...`` -> {key: (rest of the line, line number)}."""
    if not path.is_file():
        if required:
            raise ManifestError(f"Kaldi data dir {str(path.parent)!r} has no {path.name}")
        return {}
    out: Dict[str, Tuple[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            key, _, rest = line.partition(" ")
            out[key] = (rest.strip(), lineno)
    return out


# ---------------------------------------------------------------------------------------------- Kaldi
def read_kaldi_dir(folder: Path) -> Iterator[ManifestEntry]:
    """Entries of a Kaldi data dir, in the order of ``text``."""
    if not (folder / "wav.scp").is_file() or not (folder / "text").is_file():
        missing = [n for n in ("wav.scp", "text") if not (folder / n).is_file()]
        raise ManifestError(f"{folder} is not a Kaldi data dir: no {' and no '.join(missing)}")
    wavs = _table(folder / "wav.scp")
    texts = _table(folder / "text")
    segments = _table(folder / "segments", required=False)
    spk = _table(folder / "utt2spk", required=False)
    utt2dur = _table(folder / "utt2dur", required=False)
    reco2dur = _table(folder / "reco2dur", required=False)
    base = folder.resolve().parent
    paths: Dict[str, Path] = {}

    def audio_of(rec: str, where: str) -> Path:
        if rec not in paths:
            if rec not in wavs:
                raise ManifestError(f"{where}: recording {rec!r} is not in wav.scp")
            value, lineno = wavs[rec]
            if value.endswith("|") or value.startswith("ark:") or ".ark:" in value:
                raise ManifestError(f"{folder / 'wav.scp'}:{lineno}: {rec!r} is a pipe or ark entry; hypersp reads "
                                    "files only (write the audio out first, e.g. Kaldi's wav-copy)")
            paths[rec] = _resolve(value, base)
        return paths[rec]

    for utt, (text, lineno) in texts.items():
        where = f"{folder / 'text'}:{lineno}"
        extra: Dict[str, Any] = {"corpus": "kaldi"}
        if utt in spk:
            extra["speaker"] = spk[utt][0]
        if segments:
            if utt not in segments:
                raise ManifestError(f"{where}: utterance {utt!r} is not in segments")
            seg, seg_line = segments[utt]
            try:
                rec, start, end = seg.split()[:3]
                offset, stop = float(start), float(end)
            except ValueError:
                raise ManifestError(f"{folder / 'segments'}:{seg_line}: expected 'utt rec start end'") from None
            audio = audio_of(rec, where)
            if stop < 0:  # Kaldi: -1 means to the end of the recording
                stop = float(reco2dur[rec][0]) if rec in reco2dur else _duration(audio, where)
            yield ManifestEntry(str(audio), round(stop - offset, 4), text, offset, utt, extra)
        else:
            audio = audio_of(utt, where)
            dur = float(utt2dur[utt][0]) if utt in utt2dur else _duration(audio, where)
            yield ManifestEntry(str(audio), round(dur, 4), text, 0.0, utt, extra)


# ---------------------------------------------------------------------------------------------- WeNet
def read_wenet_list(path: Path) -> Iterator[ManifestEntry]:
    """Entries of a WeNet raw ``data.list`` (JSON lines with key, wav, txt)."""
    base = path.resolve().parent
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            where = f"{path}:{lineno}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                if line.split()[0].endswith(".tar"):
                    raise ManifestError(f"{where}: a WeNet shard list (tar files); hypersp reads the raw data.list "
                                        'with one {"key", "wav", "txt"} object per line') from None
                raise ManifestError(f"{where}: not a JSON object; a WeNet raw list has "
                                    '{"key": ..., "wav": ..., "txt": ...} per line') from None
            missing = [k for k in ("wav", "txt") if k not in item]
            if missing:
                raise ManifestError(f"{where}: missing key(s) {', '.join(missing)} (WeNet raw list: key, wav, txt)")
            audio = _resolve(str(item["wav"]), base)
            start = float(item.get("start", 0.0) or 0.0)
            if "end" in item:
                dur = float(item["end"]) - start
            else:
                dur = _duration(audio, where) - start
            extra = {"corpus": "wenet", **({"speaker": item["spk"]} if "spk" in item else {})}
            yield ManifestEntry(str(audio), round(dur, 4), str(item["txt"]), start, str(item.get("key") or audio.stem),
                                extra)


# ---------------------------------------------------------------------------------------------- lhotse
def _recording_path(rec: Dict[str, Any], where: str, base: Path) -> Path:
    sources = rec.get("sources") or []
    files = [s for s in sources if s.get("type") == "file"]
    if not files:
        kinds = ", ".join(sorted({str(s.get("type")) for s in sources})) or "none"
        raise ManifestError(f"{where}: recording {rec.get('id')!r} has no file source ({kinds}); hypersp reads "
                            "lhotse recordings stored as files")
    return _resolve(str(files[0]["source"]), base)


def _lhotse_lines(path: Path) -> Iterator[Tuple[str, Dict[str, Any]]]:
    with _open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            where = f"{path}:{lineno}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                raise ManifestError(f"{where}: not a JSON object (lhotse manifests are JSON lines)") from None
            yield where, item


def read_lhotse(path: Path) -> Iterator[ManifestEntry]:
    """Entries of a lhotse cuts manifest, or of a supervisions manifest with its recordings beside it."""
    base = path.resolve().parent
    first = _first_object(path)
    if isinstance(first, dict) and "recording_id" in first and "supervisions" not in first:
        yield from _read_lhotse_supervisions(path, base)
        return
    for where, cut in _lhotse_lines(path):
        rec = cut.get("recording")
        if not isinstance(rec, dict):
            raise ManifestError(f"{where}: a lhotse cut without its recording (only MonoCut lines are supported)")
        sups = cut.get("supervisions") or []
        text = " ".join(str(s.get("text", "")).strip() for s in sups if s.get("text")).strip()
        extra: Dict[str, Any] = {"corpus": "lhotse"}
        speakers = [s["speaker"] for s in sups if s.get("speaker")]
        if speakers:
            extra["speaker"] = speakers[0]
        try:
            offset, dur = float(cut.get("start", 0.0)), float(cut["duration"])
        except (KeyError, TypeError, ValueError):
            raise ManifestError(f"{where}: a lhotse cut needs a numeric 'duration'") from None
        yield ManifestEntry(str(_recording_path(rec, where, base)), round(dur, 4), text, offset, str(cut.get("id", "")),
                            extra)


def _read_lhotse_supervisions(path: Path, base: Path) -> Iterator[ManifestEntry]:
    rec_path = path.with_name(path.name.replace("supervisions", "recordings"))
    if rec_path == path or not rec_path.is_file():
        raise ManifestError(f"{path}: a lhotse supervision manifest needs its recordings manifest beside it "
                            f"({rec_path.name}); or pass a cuts manifest")
    recordings: Dict[str, Tuple[Dict[str, Any], str]] = {}
    for where, rec in _lhotse_lines(rec_path):
        recordings[str(rec.get("id"))] = (rec, where)
    for where, sup in _lhotse_lines(path):
        rid = str(sup.get("recording_id"))
        if rid not in recordings:
            raise ManifestError(f"{where}: recording {rid!r} is not in {rec_path.name}")
        rec, rec_where = recordings[rid]
        try:
            offset, dur = float(sup.get("start", 0.0)), float(sup["duration"])
        except (KeyError, TypeError, ValueError):
            raise ManifestError(f"{where}: a lhotse supervision needs a numeric 'duration'") from None
        extra = {"corpus": "lhotse", **({"speaker": sup["speaker"]} if sup.get("speaker") else {})}
        yield ManifestEntry(str(_recording_path(rec, rec_where, base)), round(dur, 4), str(sup.get("text", "")),
                            offset, str(sup.get("id", "")), extra)


def write_manifest_jsonl(entries: List[ManifestEntry], out: str | Path) -> None:
    """Write entries as a hypersp (NeMo-style) manifest with absolute audio paths; atomic (temp + rename)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for e in entries:
            item = {"audio_filepath": e.audio_filepath, "duration": e.duration, "text": e.text, "utt_id": e.utt_id}
            if e.offset:
                item["offset"] = e.offset
            item.update(e.extra)
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
