"""Learning-rate schedules as multipliers of the base lr, for ``torch.optim.lr_scheduler.LambdaLR``."""
from __future__ import annotations

import math
from typing import Callable

SCHEDULES = ("cosine", "noam", "poly", "constant")


def lr_lambda(schedule: str, warmup_steps: int, max_steps: int, min_ratio: float) -> Callable[[int], float]:
    """Linear warmup over ``warmup_steps``, then ``schedule`` down to ``min_ratio`` at ``max_steps``.

    ``noam``: inverse square-root decay after warmup (Vaswani et al.), normalized to 1 at the peak.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"optim.schedule={schedule!r}; choose one of {', '.join(SCHEDULES)}")
    warmup = max(0, warmup_steps)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        if schedule == "noam":
            return max(min_ratio, math.sqrt(max(warmup, 1) / max(step, 1)))
        progress = min(1.0, (step - warmup) / max(1, max_steps - warmup))
        if schedule == "cosine":
            return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return min_ratio + (1 - min_ratio) * (1 - progress) ** 2  # poly, power 2

    return factor
