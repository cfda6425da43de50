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
    """How model output becomes text (hypersp-eval, inference).

    name: ``greedy`` (best path) | ``ctc_beam`` (CTC prefix beam search, optional n-gram LM and
    hotwords; any model) | ``attention`` (attention beam search with CTC prefix scores; models
    with a decoder, e.g. ``transformer``). Fields a decoder does not use are ignored.
    """

    name: str = "greedy"
    beam_size: int = 16
    nbest: int = 1                   # hypotheses kept per utterance (with scores)
    lm_path: str = ""                # ARPA n-gram LM for ctc_beam shallow fusion ("" = none)
    lm_weight: float = 0.5           # multiplies the LM's natural-log probability
    word_bonus: float = 0.0          # added per word (balances the LM's preference for short outputs)
    hotwords: List[str] = field(default_factory=list)  # words/phrases to boost (ctc_beam)
    hotword_weight: float = 2.0      # bonus per matched token of a hotword, kept only if completed
    prune_topk: int = 10             # ctc_beam: candidate tokens per frame at most
    token_min_logprob: float = -5.0  # ctc_beam: candidate tokens need at least this log-prob
    blank_threshold: float = 0.999   # ctc_beam: frames with P(blank) above it are not searched (1 = off)
    ctc_weight: float = 0.3          # attention: weight of the CTC prefix score
    length_bonus: float = 0.0        # attention: added per output token


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
