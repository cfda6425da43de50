"""Error rates with editdistance.

``cer``: character error rate with spaces removed (the usual Korean CER);
``cer_with_spaces``: spaces count as characters; ``wer``: over whitespace-split words. All rates are percentages over the reference length summed across utterances.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import editdistance


@dataclass
class ErrorRates:
    """Accumulates edit distances over a corpus; ``normalize`` is applied to ref and hyp first."""

    normalize: Optional[Callable[[str], str]] = None
    char_edits: int = 0
    chars: int = 0
    char_edits_spaced: int = 0
    chars_spaced: int = 0
    word_edits: int = 0
    words: int = 0
    utterances: int = 0

    def update(self, ref: str, hyp: str) -> None:
        if self.normalize is not None:
            ref, hyp = self.normalize(ref), self.normalize(hyp)
        ref_ns, hyp_ns = "".join(ref.split()), "".join(hyp.split())
        ref_sp, hyp_sp = " ".join(ref.split()), " ".join(hyp.split())
        self.char_edits += editdistance.eval(ref_ns, hyp_ns)
        self.chars += len(ref_ns)
        self.char_edits_spaced += editdistance.eval(ref_sp, hyp_sp)
        self.chars_spaced += len(ref_sp)
        self.word_edits += editdistance.eval(ref.split(), hyp.split())
        self.words += len(ref.split())
        self.utterances += 1

    @staticmethod
    def _pct(edits: int, total: int) -> float:
        return 100.0 * edits / max(total, 1)

    @property
    def cer(self) -> float:
        return self._pct(self.char_edits, self.chars)

    def result(self) -> Dict[str, float]:
        return {
            "cer": round(self.cer, 3),
            "cer_with_spaces": round(self._pct(self.char_edits_spaced, self.chars_spaced), 3),
            "wer": round(self._pct(self.word_edits, self.words), 3),
            "num_utterances": self.utterances,
        }
