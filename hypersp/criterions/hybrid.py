"""Joint CTC / attention loss (Kim, Hori & Watanabe 2017, arXiv:1609.06773; Karita et al. 2019).

    loss = ctc_weight * CTC(encoder) + (1 - ctc_weight) * CE_label_smoothed(decoder)

For models with ``encode``, ``ctc_log_probs`` and ``decoder_forward`` (the ``transformer`` family).
The decoder is teacher-forced on ``[sos] + y`` and must predict ``y + [eos]``; sos and eos are the
model's extra id ``model.eos_id`` (= vocab_size). The CTC part reuses :class:`CTCCriterion`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from hypersp.criterions.ctc import REDUCTIONS, CTCCriterion, CTCCriterionConfig
from hypersp.registry import register_criterion

IGNORE = -100


@dataclass
class HybridCriterionConfig:
    """ctc_weight in [0, 1]; label_smoothing spreads that much probability mass uniformly over the
    decoder's classes (PyTorch ``cross_entropy(label_smoothing=...)``). The attention loss is the mean
    over target tokens (eos included); the CTC loss follows ``reduction`` (see ``ctc``)."""

    name: str = "ctc_attention"
    ctc_weight: float = 0.3
    label_smoothing: float = 0.1
    zero_infinity: bool = True
    reduction: str = "mean_by_target_length"


def decoder_targets(targets: torch.Tensor, target_lengths: torch.Tensor, sos_eos: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, U) padded targets -> (targets_in (B, U+1) = [sos] + y padded with eos,
    targets_out (B, U+1) = y + [eos] padded with IGNORE)."""
    B, U = targets.shape
    pos = torch.arange(U + 1, device=targets.device)[None, :]
    lengths = target_lengths.to(targets.device)[:, None]
    padded = torch.cat([targets, targets.new_full((B, 1), sos_eos)], dim=1)
    targets_out = torch.where(pos < lengths, padded, torch.full_like(padded, IGNORE))
    targets_out = torch.where(pos == lengths, torch.full_like(padded, sos_eos), targets_out)
    targets_in = torch.cat([targets.new_full((B, 1), sos_eos), targets], dim=1)
    targets_in = torch.where(pos <= lengths, targets_in, torch.full_like(targets_in, sos_eos))
    return targets_in, targets_out


@register_criterion("ctc_attention", config=HybridCriterionConfig)
class HybridCTCAttentionCriterion(nn.Module):
    """forward(model, batch) -> (loss, stats): stats has the CTC criterion's keys plus
    ``ctc_loss``, ``att_loss`` and ``att_accuracy`` (teacher-forced next-token accuracy)."""

    def __init__(self, cfg: HybridCriterionConfig, *, blank_id: int = 0, vocab_size: int = 0):
        super().__init__()
        if not 0.0 <= cfg.ctc_weight <= 1.0:
            raise ValueError(f"criterion.ctc_weight={cfg.ctc_weight} must be within [0, 1]")
        if not 0.0 <= cfg.label_smoothing < 1.0:
            raise ValueError(f"criterion.label_smoothing={cfg.label_smoothing} must be within [0, 1)")
        if cfg.reduction not in REDUCTIONS:
            raise ValueError(f"criterion.reduction={cfg.reduction!r}; choose one of {', '.join(REDUCTIONS)}")
        self.ctc_weight = float(cfg.ctc_weight)
        self.label_smoothing = float(cfg.label_smoothing)
        self.ctc = CTCCriterion(CTCCriterionConfig(zero_infinity=cfg.zero_infinity, reduction=cfg.reduction),
                                blank_id=blank_id, vocab_size=vocab_size)

    def forward(self, model: nn.Module, batch) -> Tuple[torch.Tensor, Dict[str, float]]:
        for attr in ("encode", "ctc_log_probs", "decoder_forward", "eos_id"):
            if not hasattr(model, attr):
                raise TypeError(f"criterion ctc_attention needs an encoder-decoder model (with .{attr}), "
                                f"got {type(model).__name__}; use criterion.name=ctc for CTC-only models")
        enc, enc_lengths = model.encode(batch.features, batch.feature_lengths)
        ctc_loss, impossible = self.ctc.compute(model.ctc_log_probs(enc), enc_lengths, batch.targets, batch.target_lengths)
        targets_in, targets_out = decoder_targets(batch.targets.long(), batch.target_lengths.long(), model.eos_id)
        log_probs = model.decoder_forward(enc, enc_lengths, targets_in)
        with torch.autocast(device_type=log_probs.device.type, enabled=False):
            att_loss = F.cross_entropy(log_probs.float().transpose(1, 2), targets_out, ignore_index=IGNORE,
                                       label_smoothing=self.label_smoothing)
        loss = self.ctc_weight * ctc_loss + (1.0 - self.ctc_weight) * att_loss
        valid = targets_out != IGNORE
        accuracy = float(((log_probs.argmax(-1) == targets_out) & valid).sum()) / max(1, int(valid.sum()))
        finite = bool(torch.isfinite(loss))
        stats = {
            "loss": float(loss.detach()) if finite else float("nan"),
            "ctc_loss": float(ctc_loss.detach()),
            "att_loss": float(att_loss.detach()),
            "att_accuracy": accuracy,
            "utterances": float(batch.features.shape[0]),
            "frames": float(batch.feature_lengths.sum()),
            "tokens": float(batch.target_lengths.sum()),
            "impossible": float(impossible),
            "nonfinite": 0.0 if finite else 1.0,
        }
        return loss, stats
