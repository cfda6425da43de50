"""Exponential moving average of model weights.

After every optimizer step, ``ema = d * ema + (1 - d) * weights`` for floating-point parameters
and buffers (integer buffers such as BatchNorm's ``num_batches_tracked`` are copied). The decay
ramps up as ``d = min(decay, (1 + n) / (10 + n))`` over the first updates ``n`` so that early,
random weights do not dominate the average of a short run.

The trainer validates with the EMA copy and stores it as the checkpoint's ``model`` (the weights
eval/serve/export use); the raw training weights go to ``train_model`` for resuming.
"""
from __future__ import annotations

import copy
from typing import Any, Dict

import torch
from torch import nn


class ModelEMA:
    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"trainer.ema_decay={decay}: must be in (0, 1), e.g. 0.999; 0 turns EMA off")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        self.updates += 1
        current = model.state_dict()
        for name, ema_value in self.module.state_dict().items():
            value = current[name].detach()
            if ema_value.dtype.is_floating_point:
                ema_value.lerp_(value.to(ema_value.dtype), 1.0 - d)
            else:
                ema_value.copy_(value)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, weights: Dict[str, Any], updates: int) -> None:
        self.module.load_state_dict(weights)
        self.updates = int(updates)
