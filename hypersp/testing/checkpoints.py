"""Tiny checkpoints for tests: built in well under a second, no training, no download."""
from __future__ import annotations

from pathlib import Path


def make_tiny_checkpoint(path: str | Path, telephone: bool = False, seed: int = 0, overrides=(),
                         arch: str = "quartznet_small") -> Path:
    """An untrained TINY_JASPER checkpoint (``synthetic`` 16 kHz or ``synthetic_tel`` 8 kHz task) in
    well under a second. Its outputs are meaningless but deterministic: enough for protocol tests.
    ``overrides``: further ``key=value`` config overrides (e.g. the feature front end); ``arch``: another preset
    instead (TINY_JASPER's sizes then do not apply: give small sizes in ``overrides``)."""
    import torch

    from hypersp.checkpoint import build_model, build_tokenizer_and_task, checkpoint_header, save_checkpoint
    from hypersp.config import compose
    from hypersp.testing import TINY_JASPER

    torch.manual_seed(seed)
    tiny = TINY_JASPER if arch == "quartznet_small" else []
    cfg = compose(task="synthetic_tel" if telephone else "synthetic", arch=arch, overrides=[*tiny, *overrides])
    tokenizer, task = build_tokenizer_and_task(cfg)
    tokenizer.fit(["안녕하세요 반갑습니다"])
    model = build_model(cfg, task)
    state = checkpoint_header(cfg, tokenizer)
    state.update(model=model.state_dict(), step=0)
    save_checkpoint(state, path)
    return Path(path)
