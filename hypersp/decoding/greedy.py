"""Greedy (best-path) CTC decoding."""
from __future__ import annotations

from itertools import accumulate
from typing import List, Optional

import torch


def greedy_ctc_decode(log_probs: torch.Tensor, lengths: Optional[torch.Tensor] = None, blank_id: int = 0) -> List[List[int]]:
    """Best path: argmax per frame, collapse repeated symbols, drop blanks.

    log_probs: (B, T, V) scores (log-probs or logits: only the argmax matters).
    lengths:   (B,) valid frames per utterance; frames past it are ignored (None: all T frames).
    Returns one list of token ids per utterance. Repeats separated by a blank stay separate
    ("a _ a" -> [a, a]); an all-blank utterance gives []. Runs as a handful of tensor ops on
    the input's device, then one transfer to the CPU.
    """
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
