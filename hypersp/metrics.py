"""Error rates with editdistance.

``cer``: character error rate with spaces removed (the usual Korean CER);
``cer_with_spaces``: spaces count as characters; ``wer``: over whitespace-split words. All rates are percentages over the reference length summed across utterances.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

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


def edit_ops(ref: str, hyp: str) -> Dict[str, int]:
    """Substitutions, deletions and insertions of one minimum-edit alignment of ``hyp`` to ``ref``
    (sequences of characters; their sum is the edit distance). Ties prefer substitution, then deletion."""
    n, m = len(ref), len(hyp)
    # cost[i][j]: distance between ref[:i] and hyp[:j]; back-trace from (n, m)
    cost = [list(range(m + 1))] + [[i] + [0] * m for i in range(1, n + 1)]
    for i in range(1, n + 1):
        row, prev = cost[i], cost[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + (ref[i - 1] != hyp[j - 1]), prev[j] + 1, row[j - 1] + 1)
    ops = {"substitutions": 0, "deletions": 0, "insertions": 0}
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops["substitutions"] += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            ops["deletions"] += 1
            i -= 1
        else:
            ops["insertions"] += 1
            j -= 1
    return ops


LENGTH_BINS = ((0.0, 2.0), (2.0, 5.0), (5.0, 10.0), (10.0, 20.0), (20.0, float("inf")))  # seconds


class ErrorBreakdown:
    """Where the errors are: character substitutions / deletions / insertions (spaces removed), CER by
    speaker, by domain and by audio length, and the worst utterances. ``update`` takes texts already
    normalized the way :class:`ErrorRates` scores them."""

    def __init__(self, worst: int = 10):
        self.worst_n = int(worst)
        self.ops = {"substitutions": 0, "deletions": 0, "insertions": 0}
        self.groups: Dict[str, Dict[str, List[int]]] = {"by_speaker": {}, "by_domain": {}, "by_length": {}}
        self.utts: List[tuple] = []

    @staticmethod
    def length_bin(seconds: float) -> str:
        for lo, hi in LENGTH_BINS:
            if lo <= seconds < hi:
                return f"{lo:g}-{hi:g} s" if hi != float("inf") else f">= {lo:g} s"
        return "unknown"

    def update(self, ref: str, hyp: str, utt_id: str = "", speaker: str = "", domain: str = "",
               seconds: float = 0.0) -> None:
        r, h = "".join(ref.split()), "".join(hyp.split())
        ops = edit_ops(r, h)
        edits = sum(ops.values())
        for k, v in ops.items():
            self.ops[k] += v
        for group, key in (("by_speaker", speaker), ("by_domain", domain), ("by_length", self.length_bin(seconds))):
            if key:
                acc = self.groups[group].setdefault(key, [0, 0, 0])  # edits, chars, utterances
                acc[0] += edits
                acc[1] += len(r)
                acc[2] += 1
        self.utts.append((edits / max(len(r), 1), edits, utt_id, ref, hyp))

    def result(self) -> Dict[str, Any]:
        def table(d):
            return {k: {"cer": round(100.0 * e / max(c, 1), 3), "utterances": n} for k, (e, c, n) in sorted(d.items())}

        worst = sorted(self.utts, key=lambda u: (-u[0], -u[1]))[: self.worst_n]
        return {"char_ops": dict(self.ops), **{g: table(d) for g, d in self.groups.items() if d},
                "worst": [{"utt_id": u, "cer": round(100.0 * rate, 1), "ref": ref, "hyp": hyp}
                          for rate, _, u, ref, hyp in worst if rate > 0]}


def format_breakdown(b: Dict[str, Any]) -> str:
    """A readable text table of :meth:`ErrorBreakdown.result`."""
    lines = ["character errors: " + ", ".join(f"{k} {v}" for k, v in b["char_ops"].items())]
    for group in ("by_speaker", "by_domain", "by_length"):
        if group in b:
            lines.append(f"CER {group.replace('_', ' ')}:")
            width = max(len(k) for k in b[group])
            lines += [f"  {k:<{width}}  {v['cer']:6.2f} %  ({v['utterances']} utt)" for k, v in b[group].items()]
    if b["worst"]:
        lines.append("worst utterances:")
        for w in b["worst"]:
            lines.append(f"  {w['utt_id']}  {w['cer']:.1f} %\n    ref: {w['ref']}\n    hyp: {w['hyp']}")
    return "\n".join(lines)
