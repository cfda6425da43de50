"""Top-level configuration schema shared by train / eval / serve (no torch imports)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List


@dataclass
class OptimConfig:
    """AdamW with a warmup + decay learning-rate schedule."""

    lr: float = 1e-3
    weight_decay: float = 1e-3
    betas: List[float] = field(default_factory=lambda: [0.9, 0.98])
    warmup_steps: int = 500
    schedule: str = "cosine"        # cosine | noam | poly | constant (after warmup)
    min_lr_ratio: float = 0.02      # floor of cosine/poly decay, as a fraction of lr
    grad_clip: float = 1.0          # max global grad norm; 0 disables


@dataclass
class TrainerConfig:
    out_dir: str = "runs/exp"
    max_steps: int = 20000
    max_minutes: float = 0.0        # wall-clock budget; 0 = unlimited. Stops cleanly and saves.
    val_every: int = 500            # steps between validations (and checkpoints)
    log_every: int = 50             # steps between plain-text log lines
    seed: int = 1
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    num_threads: int = 0            # torch intra-op threads on CPU; 0 = torch default
    resume: str = ""                # checkpoint path to resume from, or "auto" (OUT_DIR/last.pt if present)
    progress_bar: bool = True
    max_valid_utterances: int = 0   # 0 = whole validation manifest


@dataclass
class DecodingConfig:
    name: str = "greedy"


@dataclass
class Config:
    """The fully resolved configuration of a run. Groups ``task``, ``model``, ``tokenizer`` and
    ``criterion`` take the schema of the component their ``name`` selects."""

    task: Any = None
    model: Any = None
    tokenizer: Any = None
    criterion: Any = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    plugins: List[str] = field(default_factory=list)
