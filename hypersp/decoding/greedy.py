"""Greedy (best-path) CTC decoding, and the registered ``greedy`` decoder with its repair rule.

**The greedy repair rule.** :class:`GreedyDecoder` first takes the plain best path (argmax per
frame, repeats collapsed, blanks dropped; a few numpy operations). If those ids form text the
vocabulary's grammar accepts (:mod:`hypersp.decoding.grammar`: every jamo inside a composed
syllable), that is the result, unchanged. Only otherwise is the utterance decoded again with
:func:`~hypersp.decoding.grammar.constrained_best_path`: the most probable frame path whose output
the grammar accepts (a bare choseong, a stray vowel or a compatibility jamo cannot win). The plain
best path is the global optimum, so whenever it is valid the two agree; the repair costs a Viterbi
pass only on the utterances that need it.
"""
from __future__ import annotations

from itertools import accumulate
from typing import List, Optional

import numpy as np

from hypersp.config.schema import DecodingConfig
from hypersp.decoding.base import Decoder, Hypothesis, IncrementalDecoding, as_log_probs
from hypersp.decoding.grammar import ConstrainedPath, collapse, constrained_best_path
from hypersp.registry import register_decoder


def greedy_ctc_decode(log_probs, lengths=None, blank_id: int = 0) -> List[List[int]]:
    """Best path: argmax per frame, collapse repeated symbols, drop blanks (no grammar; see
    :class:`GreedyDecoder` for the decoder that keeps Hangul valid).

    log_probs: (B, T, V) torch tensor of scores (log-probs or logits: only the argmax matters).
    lengths:   (B,) valid frames per utterance; frames past it are ignored (None: all T frames).
    Returns one list of token ids per utterance. Repeats separated by a blank stay separate
    ("a _ a" -> [a, a]); an all-blank utterance gives []. Runs as a handful of tensor ops on
    the input's device, then one transfer to the CPU.
    """
    import torch

    if log_probs.dim() != 3:
        raise ValueError(f"expected log_probs (B, T, V), got shape {tuple(log_probs.shape)}")
    B, T, _ = log_probs.shape
    best = log_probs.argmax(dim=-1)  # (B, T)
    keep = best != blank_id
    keep[:, 1:] &= best[:, 1:] != best[:, :-1]  # a symbol counts once per run of frames
    if lengths is not None:
        keep &= torch.arange(T, device=best.device)[None, :] < lengths.to(best.device)[:, None]
    counts = keep.sum(dim=1).tolist()
    flat = best[keep].tolist()  # row-major, so utterances stay in order
    ends = list(accumulate(counts))
    return [flat[end - n:end] for n, end in zip(counts, ends)]


def best_path(log_probs: np.ndarray, blank_id: int = 0):
    """Numpy best path of one utterance: (ids, log-prob of the path)."""
    lp = np.asarray(log_probs)
    if lp.shape[0] == 0:
        return [], 0.0
    labels, score = _frame_labels(lp)
    return _collapse_labels(labels, blank_id), score


def _frame_labels(lp: np.ndarray):
    """(T, V) -> (the best label of each frame (T,), the log-prob of that path)."""
    best = lp.argmax(axis=1)
    return best, float(lp[np.arange(lp.shape[0]), best].astype(np.float64).sum())


def _collapse_labels(labels: np.ndarray, blank_id: int) -> List[int]:
    """Frame labels -> token ids: repeats merged, blanks dropped (numpy; ``grammar.collapse`` for lists)."""
    keep = labels != blank_id
    keep[1:] &= labels[1:] != labels[:-1]
    return labels[keep].tolist()


@register_decoder("greedy", config=DecodingConfig)
class GreedyDecoder(Decoder):
    """Best path with the greedy repair rule (module docstring). One hypothesis; its ``score`` and
    ``acoustic_score`` are the chosen path's log-probability."""

    def decode(self, log_probs) -> List[Hypothesis]:
        lp = as_log_probs(log_probs)
        ids, score = best_path(lp, self.blank_id)
        if self.grammar is not None and not self.grammar.accepts(ids):
            ids, score = constrained_best_path(lp, self.grammar, self.blank_id)
        return [Hypothesis(ids=ids, score=score, acoustic_score=score)]

    def incremental(self) -> "IncrementalGreedy":
        """Best path and repair over a growing utterance (a live stream's partials): see :class:`IncrementalGreedy`."""
        return IncrementalGreedy(self)

    def repaired(self, log_probs) -> Optional[List[int]]:
        """The repaired ids if the plain best path needed repair, else ``None`` (for tests and diagnostics)."""
        lp = as_log_probs(log_probs)
        ids, _ = best_path(lp, self.blank_id)
        if self.grammar is None or self.grammar.accepts(ids):
            return None
        return constrained_best_path(lp, self.grammar, self.blank_id)[0]


class IncrementalGreedy(IncrementalDecoding):
    """:meth:`GreedyDecoder.decode` over committed frames (``advance``) plus a tail that may still change
    (``peek(tail)``): the best path's labels and score of the committed frames are kept, and the repair's
    Viterbi search (:class:`~hypersp.decoding.grammar.ConstrainedPath`) continues from them, so a partial costs
    work for the tail only, not for the whole utterance again."""

    def __init__(self, decoder: GreedyDecoder):
        self.decoder = decoder
        self.labels: List[np.ndarray] = []  # argmax of each committed frame
        self.score = 0.0  # log-prob of the committed frames' best path
        self.frames = 0
        g = decoder.grammar
        self.path = ConstrainedPath(g, len(decoder.tokenizer.tokens), decoder.blank_id) if g is not None else None

    def advance(self, log_probs) -> None:
        lp = as_log_probs(log_probs)
        if not lp.shape[0]:
            return
        labels, score = _frame_labels(lp)
        self.labels.append(labels)
        self.score += score
        self.frames += lp.shape[0]
        if self.path is not None:
            self.path.advance(lp)

    def peek(self, tail=None) -> List[Hypothesis]:
        labels, score = self.labels, self.score
        if tail is not None and np.shape(tail)[0]:
            tail = as_log_probs(tail)
            tail_labels, tail_score = _frame_labels(tail)
            labels, score = labels + [tail_labels], score + tail_score
        ids = _collapse_labels(np.concatenate(labels), self.decoder.blank_id) if labels else []
        g = self.decoder.grammar
        if g is not None and not g.accepts(ids):
            ids, score = self.path.best(tail)
        return [Hypothesis(ids=ids, score=score, acoustic_score=score)]

    def finish(self) -> List[Hypothesis]:
        return self.peek()


__all__ = ["GreedyDecoder", "IncrementalGreedy", "greedy_ctc_decode", "best_path", "collapse"]
