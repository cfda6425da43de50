"""What recognition returns: ``Transcript`` -> ``Segment`` -> ``Word`` (plain data, no torch).

    t = asr.transcribe("call.wav")
    t.text                                  # all segments' text, joined by spaces (spoken form, what CER scores)
    t.display                               # the display form: spacing, written numbers, punctuation
    t.segments[0].start, .end, .text, .channel
    t.segments[0].words[0].word, .start, .end, .confidence
    t.to_dict(); t.to_srt(); t.to_vtt()

Times are seconds from the start of the input; ``channel`` is the input channel a segment was
recognized on (0 for mono or mixed-down input). ``confidence`` is in (0, 1]: the geometric mean
of the CTC posteriors of the word's tokens over the frames they are aligned to.
``nbest`` (when asked for) lists the segment's alternative texts with their scores, best first.

Two forms of the text: ``text`` is the spoken form the model writes (``오후 세 시에 뵙겠습니다``, what CER
scores, unchanged in the seed API); ``display`` is what people read (``오후 3시에 뵙겠습니다.``):
:func:`hypersp.text.display.display_form` of ``text`` (spacing correction when the ``spacing`` extra is
installed, inverse text normalization, sentence-final punctuation), computed on first use. Subtitles
(``to_srt``/``to_vtt``) show the display form unless ``display=False``; ``to_dict`` carries both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


def _display_form(text: str) -> str:
    from hypersp.text.display import display_form

    return display_form(text) if text else ""


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
    _display: Optional[Tuple[str, str]] = field(default=None, init=False, repr=False, compare=False)  # (text, display)

    @property
    def display(self) -> str:
        """The display form of ``text`` (computed once per text)."""
        if self._display is None or self._display[0] != self.text:
            self._display = (self.text, _display_form(self.text))
        return self._display[1]

    def to_dict(self, words: bool = True) -> Dict[str, Any]:
        out: Dict[str, Any] = {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text,
                               "display": self.display, "channel": self.channel}
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

    @property
    def display(self) -> str:
        """The display form: the segments' display forms joined by spaces (of ``text`` when there are none)."""
        if self.segments:
            return " ".join(s.display for s in self.segments if s.display)
        return _display_form(self.text)

    def to_dict(self, words: bool = True) -> Dict[str, Any]:
        """JSON-ready: ``{"text", "display", "segments": [{"start", "end", "text", "display", "channel",
        "words": [...]}], "duration", "sample_rate", "channels"}``."""
        return {"text": self.text, "display": self.display, "segments": [s.to_dict(words) for s in self.segments],
                "duration": round(self.duration, 3), "sample_rate": self.sample_rate, "channels": self.channels}

    def cues(self, cfg: Optional[Any] = None, display: bool = True) -> List[Dict[str, Any]]:
        """Subtitle cues of the display form (``display=False``: of the spoken form)."""
        from hypersp.inference.subtitles import make_cues

        return make_cues([{"start": s.start, "end": s.end, "text": s.display if display else s.text}
                          for s in self.segments], cfg)

    def to_srt(self, cfg: Optional[Any] = None, display: bool = True) -> str:
        from hypersp.inference.subtitles import to_srt

        return to_srt(self.cues(cfg, display))

    def to_vtt(self, cfg: Optional[Any] = None, display: bool = True) -> str:
        from hypersp.inference.subtitles import to_vtt

        return to_vtt(self.cues(cfg, display))
