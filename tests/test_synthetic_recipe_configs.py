"""examples/synthetic/conf: every config composes and builds its model (WeNet's "every shipped config builds")."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "examples" / "synthetic" / "conf"


@pytest.mark.parametrize("files", [["demo.yaml"], ["quickstart.yaml"], ["kaldi_fbank.yaml"], ["demo.yaml", "demo_stream.yaml"]])
def test_synthetic_recipe_config_builds(files):
    from hypersp.checkpoint import build_model, build_tokenizer_and_task
    from hypersp.config import compose

    cfg = compose([str(CONF / f) for f in files], ["task.train_manifest=x.jsonl"], task="synthetic", arch="conformer_tiny")
    tokenizer, task = build_tokenizer_and_task(cfg)
    tokenizer.fit(["가나다 라마"])
    model = build_model(cfg, task)
    assert sum(p.numel() for p in model.parameters()) > 100_000
    if "demo_stream.yaml" in files:  # what the cached stream computes: limited attention, cumulative statistics
        assert model.att_context == (64, 0, 0)
        assert cfg.task.features.normalize == "cumulative" and cfg.trainer.init_from == "demo_ko_16k"
        assert cfg.task.max_duration == 35  # demo.yaml's data settings still apply
        assert cfg.streaming.mode == "cached" and cfg.streaming.final_full_context is False  # saved with the model
