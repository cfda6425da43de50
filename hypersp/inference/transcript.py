"""What recognition returns: ``Transcript`` -> ``Segment`` -> ``Word`` (plain data, no torch).

    t = asr.transcribe("call.wav")
    t.text                                  # all segments' text, joined by spaces (spoken form, what CER scores)
    t.segments[0].start, .end, .text, .channel
    t.segments[0].words[0].word, .start, .end, .confidence
    t.to_dict(); t.to_srt(); t.to_vtt()

Times are seconds from the start of the input; ``channel`` is the input channel a segment was
recognized on (0 for mono or mixed-down input). ``confidence`` is in (0, 1]: the geometric mean
of the CTC posteriors of the word's tokens over the frames they are aligned to.
``nbest`` (when asked for) lists the segment's alternative texts with their scores, best first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class Word:
    word: str
    start: float       # seconds
    end: float         # seconds
    confidence: float  # (0, 1]

    def to_dict(self) -> Dict[str, Any]:
        return {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3),
                "confidence": round(self.confidence, 4)}


@dataclass
class Segment:
    start: float
    end: float
    text: str
    words: List[Word] = field(default_factory=list)
    channel: int = 0
    score: float = 0.0                              # the decoder's ranking score of ``text``
    nbest: List[Dict[str, Any]] = field(default_factory=list)  # [{"text", "score", ...}], best first; empty unless asked

    def to_dict(self, words: bool = True) -> Dict[str, Any]:
        out: Dict[str, Any] = {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text,
                               "channel": self.channel}
        if words:
            out["words"] = [w.to_dict() for w in self.words]
        if self.nbest:
            out["nbest"] = self.nbest
        return out


@dataclass
class Transcript:
    text: str
    segments: List[Segment]
    duration: float     # seconds of input audio
    sample_rate: int    # Hz the model ran at
    channels: int = 1   # input channels recognized separately (1 when mixed down)

    @property
    def words(self) -> List[Word]:
        return [w for s in self.segments for w in s.words]

    def to_dict(self, words: bool = True) -> Dict[str, Any]:
        """JSON-ready: ``{"text", "segments": [{"start", "end", "text", "channel", "words": [...]}],
        "duration", "sample_rate", "channels"}``."""
        return {"text": self.text, "segments": [s.to_dict(words) for s in self.segments],
                "duration": round(self.duration, 3), "sample_rate": self.sample_rate, "channels": self.channels}

    def cues(self, cfg: Optional[Any] = None) -> List[Dict[str, Any]]:
        from hypersp.inference.subtitles import make_cues

        return make_cues([s.to_dict(words=False) for s in self.segments], cfg)

    def to_srt(self, cfg: Optional[Any] = None) -> str:
        from hypersp.inference.subtitles import to_srt

        return to_srt(self.cues(cfg))

    def to_vtt(self, cfg: Optional[Any] = None) -> str:
        from hypersp.inference.subtitles import to_vtt

        return to_vtt(self.cues(cfg))
