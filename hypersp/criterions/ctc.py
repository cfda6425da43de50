"""Connectionist temporal classification loss (Graves et al. 2006) for models that emit log-probs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from hypersp.registry import register_criterion

REDUCTIONS = ("mean_by_target_length", "sum_per_utterance")


@dataclass
class CTCCriterionConfig:
    """CTC loss.

    reduction:
      ``mean_by_target_length``: each utterance's negative log-likelihood divided by its number of
          target tokens, then averaged over the batch (PyTorch's ``reduction="mean"``; ESPnet/NeMo style).
      ``sum_per_utterance``: each utterance's total negative log-likelihood, averaged over the batch.
    Either way the loss is a per-batch mean, so its scale does not grow with the batch size.
    zero_infinity: impossible alignments (output shorter than the target needs) contribute 0 loss
      and 0 gradient instead of inf; they are counted in the stats as ``impossible``.
    """

    name: str = "ctc"
    zero_infinity: bool = True
    reduction: str = "mean_by_target_length"


def ctc_min_frames(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """(B,) frames CTC needs for each target: its length plus one blank between each repeated pair."""
    U = targets.shape[1]
    if U < 2:
        return target_lengths.clone()
    valid = torch.arange(1, U, device=targets.device)[None, :] < target_lengths[:, None]
    repeats = ((targets[:, 1:] == targets[:, :-1]) & valid).sum(dim=1)
    return target_lengths + repeats


@register_criterion("ctc", config=CTCCriterionConfig)
class CTCCriterion(nn.Module):
    """forward(model, batch) -> (loss scalar float32 tensor, stats).

    The model is called as ``model(batch.features, batch.feature_lengths)`` and must return
    ``(log_probs (B, T', V), out_lengths (B,))``. The loss is always computed in float32 (also
    under autocast). stats (plain floats):
      loss         the loss value
      utterances   B
      frames       input feature frames in the batch (sum of feature_lengths)
      tokens       target tokens in the batch
      impossible   utterances whose output is too short for their target (T' < U + repeats)
      nonfinite    1.0 when the loss is NaN/inf: the trainer should skip this step
    """

    def __init__(self, cfg: CTCCriterionConfig, *, blank_id: int = 0, vocab_size: int = 0):
        super().__init__()
        if cfg.reduction not in REDUCTIONS:
            raise ValueError(f"criterion.reduction={cfg.reduction!r}; choose one of {', '.join(REDUCTIONS)}")
        self.reduction = cfg.reduction
        self.zero_infinity = bool(cfg.zero_infinity)
        self.blank_id = blank_id
        self.vocab_size = vocab_size

    def forward(self, model: nn.Module, batch) -> Tuple[torch.Tensor, Dict[str, float]]:
        log_probs, out_lengths = model(batch.features, batch.feature_lengths)
        loss, impossible = self.compute(log_probs, out_lengths, batch.targets, batch.target_lengths)
        finite = bool(torch.isfinite(loss))
        stats = {
            "loss": float(loss.detach()) if finite else float("nan"),
            "utterances": float(log_probs.shape[0]),
            "frames": float(batch.feature_lengths.sum()),
            "tokens": float(batch.target_lengths.sum()),
            "impossible": float(impossible),
            "nonfinite": 0.0 if finite else 1.0,
        }
        return loss, stats

    def compute(self, log_probs: torch.Tensor, out_lengths: torch.Tensor, targets: torch.Tensor,
                target_lengths: torch.Tensor) -> Tuple[torch.Tensor, int]:
        """log_probs (B, T', V), out_lengths (B,), targets (B, U) padded, target_lengths (B,) -> (loss, #impossible)."""
        if self.vocab_size and log_probs.shape[-1] != self.vocab_size:
            raise ValueError(f"model emits {log_probs.shape[-1]} classes but the tokenizer has vocab_size={self.vocab_size}")
        out_lengths = out_lengths.long()
        target_lengths = target_lengths.to(out_lengths.device).long()
        targets = targets.to(out_lengths.device).long()
        impossible = int((ctc_min_frames(targets, target_lengths) > out_lengths).sum())
        # float32 always: half-precision CTC overflows and cuDNN/CPU kernels want float32.
        with torch.autocast(device_type=log_probs.device.type, enabled=False):
            nll = F.ctc_loss(
                log_probs.float().transpose(0, 1),  # (T', B, V)
                targets, out_lengths, target_lengths,
                blank=self.blank_id, reduction="none", zero_infinity=self.zero_infinity,
            )
            if self.reduction == "mean_by_target_length":
                nll = nll / target_lengths.clamp(min=1).to(nll.dtype)
            return nll.mean(), impossible
