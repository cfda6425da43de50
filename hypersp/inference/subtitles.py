"""Subtitles from recognized segments: SRT and WebVTT with sane cue lengths.

Rules (after the Netflix Korean timed-text guide; see serving-notes.md section 5):
- a cue lasts at most ``max_cue_s`` (7 s) and at least ``min_cue_s`` (0.8 s, extended into the
  following gap when there is room, never overlapping the next cue);
- a cue holds at most ``max_lines`` (2) lines of at most ``max_line_chars`` (16) characters, where
  Hangul counts 1 and Latin letters, digits, spaces and punctuation count 0.5;
- long segments are split between words, and the segment's time is shared out by character count;
- SRT: ``HH:MM:SS,mmm``, index from 1; WebVTT: ``WEBVTT`` header, ``HH:MM:SS.mmm``, ``&``, ``<``
  and ``>`` escaped, ``-->`` never appears in text.
Input segments: ``[{"start": s, "end": s, "text": str}, ...]`` in seconds (``Recognizer.transcribe``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence


@dataclass
class SubtitleConfig:
    max_cue_s: float = 7.0
    min_cue_s: float = 0.8
    max_line_chars: float = 16.0
    max_lines: int = 2


def display_width(text: str) -> float:
    """Hangul and other wide characters count 1; ASCII (Latin, digits, space, punctuation) 0.5."""
    return sum(0.5 if ord(c) < 128 else 1.0 for c in text)


def _wrap(words: List[str], width: float) -> List[str]:
    lines: List[str] = []
    for w in words:
        if lines and display_width(lines[-1] + " " + w) <= width:
            lines[-1] += " " + w
        else:
            lines.append(w)
    return lines


def make_cues(segments: Sequence[Dict], cfg: SubtitleConfig = None) -> List[Dict]:
    """Cut segments into cues ``{"start", "end", "text"}`` (text may hold one newline)."""
    cfg = cfg or SubtitleConfig()
    cues: List[Dict] = []
    for seg in segments:
        text = " ".join(str(seg.get("text", "")).replace("-->", "->").split())
        start, end = float(seg["start"]), float(seg["end"])
        if not text or end <= start:
            continue
        lines = _wrap(text.split(" "), cfg.max_line_chars)
        # Group lines into cues of max_lines, then split further if a cue would exceed max_cue_s.
        groups = [lines[i:i + cfg.max_lines] for i in range(0, len(lines), cfg.max_lines)]
        total_chars = sum(display_width(" ".join(g)) for g in groups) or 1.0
        per_char = (end - start) / total_chars
        needed = max(1, int(-(-(end - start) // cfg.max_cue_s)))
        if needed > len(groups):  # few words spoken slowly: one line per cue
            groups = [[line] for line in lines]
        t = start
        for g in groups:
            dur = display_width(" ".join(g)) * per_char
            cues.append({"start": t, "end": min(end, t + dur), "text": "\n".join(g)})
            t += dur
        cues[-1]["end"] = end
    # Clamp lengths: long cues are shortened (text stays), short ones extended into free time.
    for i, c in enumerate(cues):
        nxt = cues[i + 1]["start"] if i + 1 < len(cues) else float("inf")
        c["end"] = min(c["end"], c["start"] + cfg.max_cue_s)
        if c["end"] - c["start"] < cfg.min_cue_s:
            c["end"] = min(c["start"] + cfg.min_cue_s, nxt)
        c["start"], c["end"] = round(c["start"], 3), round(max(c["end"], c["start"] + 0.001), 3)
    return cues


def _timestamp(seconds: float, sep: str) -> str:
    ms = int(round(max(seconds, 0.0) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: Sequence[Dict]) -> str:
    blocks = []
    for i, c in enumerate(cues, 1):
        blocks.append(f"{i}\n{_timestamp(c['start'], ',')} --> {_timestamp(c['end'], ',')}\n{c['text']}\n")
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(cues: Sequence[Dict]) -> str:
    blocks = ["WEBVTT\n"]
    for c in cues:
        blocks.append(f"{_timestamp(c['start'], '.')} --> {_timestamp(c['end'], '.')}\n{_vtt_escape(c['text'])}\n")
    return "\n".join(blocks)
