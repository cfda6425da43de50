"""NeMo-style JSON-lines manifests (and, through ``hypersp.data.interop``, Kaldi / WeNet / lhotse lists).

One utterance per line::

    {"audio_filepath": "wavs/0001.wav", "duration": 3.52, "text": "안녕하세요", "offset": 0.0,
     "utt_id": "0001", "speaker": "f3", "speaker_type": "상담원", "corpus": "synthetic"}

``audio_filepath`` may be absolute or relative to the manifest's folder; ``duration`` and
``offset`` are seconds. Extra keys are kept in ``ManifestEntry.extra``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file, the line and the key."""


@dataclass
class ManifestEntry:
    audio_filepath: str   # absolute path after resolution
    duration: float       # seconds
    text: str
    offset: float = 0.0   # seconds into the file
    utt_id: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)


REQUIRED = ("audio_filepath", "duration", "text")


def iter_manifest(path: str | Path) -> Iterator[ManifestEntry]:
    """Yield entries line by line (memory stays flat). Blank lines are ignored. A Kaldi data dir, a WeNet
    ``data.list`` or a lhotse manifest is read through :mod:`hypersp.data.interop`."""
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"manifest {str(path)!r} does not exist")
    from hypersp.data.interop import detect_format, read_entries

    fmt = detect_format(path)
    if fmt != "nemo":
        yield from read_entries(path, fmt)
        return
    root = path.resolve().parent
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            where = f"{path}:{lineno}"
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise ManifestError(
                    f"{where}: not a JSON object ({err.msg} at column {err.colno}); each line must be one JSON object "
                    f'like {{"audio_filepath": "a.wav", "duration": 1.5, "text": "..."}}'
                ) from None
            if not isinstance(item, dict):
                raise ManifestError(f"{where}: expected a JSON object, got {type(item).__name__}")
            missing = [k for k in REQUIRED if k not in item]
            if missing:
                raise ManifestError(f"{where}: missing key(s) {', '.join(missing)} (required: {', '.join(REQUIRED)})")
            try:
                duration = float(item.pop("duration"))
                offset = float(item.pop("offset", 0.0) or 0.0)
            except (TypeError, ValueError):
                raise ManifestError(f"{where}: 'duration' and 'offset' must be numbers (seconds)") from None
            text = item.pop("text")
            if not isinstance(text, str):
                raise ManifestError(f"{where}: 'text' must be a string, got {type(text).__name__}")
            audio = Path(str(item.pop("audio_filepath")))
            if not audio.is_absolute():
                audio = root / audio
            utt_id = str(item.pop("utt_id", "") or audio.stem)
            yield ManifestEntry(str(audio), duration, text, offset, utt_id, item)


def read_manifest(path: str | Path) -> List[ManifestEntry]:
    return list(iter_manifest(path))
