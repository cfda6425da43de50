"""EMA, bf16 autocast on CPU, early stopping, step checkpoints and hypersp-average."""
import json

import pytest
import torch
from torch import nn

from hypersp.testing import TINY_JASPER, tiny_synthetic_corpus
from hypersp.checkpoint import load_checkpoint
from hypersp.train.ema import ModelEMA
from hypersp_cli import average as average_cli
from hypersp_cli import eval as eval_cli
from hypersp_cli import train as train_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_synthetic_corpus(tmp_path_factory.mktemp("synthetic"), hours=0.02)


def _train(corpus, out, *extra):
    return train_cli.main(["--task", "synthetic", "--arch", "quartznet_small", *TINY_JASPER,
                           f"task.train_manifest={corpus['train']}", f"task.valid_manifest={corpus['dev']}",
                           f"trainer.out_dir={out}", "trainer.log_every=1", "trainer.progress_bar=false",
                           "task.num_workers=0", "task.batch_seconds=20", "optim.warmup_steps=1", *extra])


def test_ema_update_rule():
    model = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = ModelEMA(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # first update: decay min(0.5, 1/10) = 0.1 -> 0.1*0 + 0.9*1
    assert torch.allclose(ema.module.weight, torch.full((1, 2), 0.9))
    for _ in range(20):
        ema.update(model)
    assert ema.current_decay() == 0.5
    with torch.no_grad():
        model.weight.fill_(3.0)
    before = ema.module.weight.clone()
    ema.update(model)
    assert torch.allclose(ema.module.weight, 0.5 * before + 0.5 * 3.0)
    with pytest.raises(ValueError, match="ema_decay"):
        ModelEMA(model, 1.0)


@pytest.mark.slow
def test_bf16_ema_step_checkpoints_and_average(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(corpus, out, "trainer.max_steps=4", "trainer.val_every=1", "trainer.precision=bf16",
                  "trainer.ema_decay=0.9", "trainer.keep_last_n=1", "trainer.keep_best_n=2") == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["precision"] == "bf16" and summary["steps"] == 4
    last = load_checkpoint(out / "last.pt")
    # "model" holds the EMA weights (what eval/serve use); "train_model" the raw ones for resuming.
    assert last["ema_updates"] == 4
    assert any(not torch.equal(last["model"][k], last["train_model"][k]) for k in last["model"])
    kept = sorted(out.glob("ckpt_step*.pt"))
    assert 2 <= len(kept) <= 3 and (out / "ckpt_step4.pt") in kept  # last 1 + best 2 (may overlap)

    capsys.readouterr()
    avg = tmp_path / "avg.pt"
    assert average_cli.main([str(out), "-n", "2", "-o", str(avg)]) == 0
    report = json.loads(capsys.readouterr().out)
    sources = [load_checkpoint(s["path"]) for s in report["averaged_from"]]
    assert len(sources) == 2
    cers = [s["metrics"]["cer"] for s in sources]
    assert cers == sorted(cers)  # best first
    averaged = load_checkpoint(avg)
    assert "optimizer" not in averaged and "train_model" not in averaged
    k = next(k for k, v in averaged["model"].items() if v.dtype.is_floating_point and v.dim() > 1)
    torch.testing.assert_close(averaged["model"][k], (sources[0]["model"][k] + sources[1]["model"][k]) / 2)
    # The averaged checkpoint is a working model for hypersp-eval.
    assert eval_cli.main(["--checkpoint", str(avg), "--manifest", str(corpus["test"]),
                          "--output-json", str(tmp_path / "r.json")]) == 0

    # --half (how the demo models ship): float16 weights, about half the file, same hypotheses.
    half = tmp_path / "avg_half.pt"
    assert average_cli.main([str(out), "-n", "2", "-o", str(half), "--half"]) == 0
    halved = load_checkpoint(half)
    assert halved["weights_dtype"] == "float16" and halved["model"][k].dtype == torch.float16
    assert half.stat().st_size < 0.65 * avg.stat().st_size
    torch.testing.assert_close(halved["model"][k].float(), averaged["model"][k], atol=2e-3, rtol=1e-3)
    from hypersp.checkpoint import build_from_checkpoint

    built = [build_from_checkpoint(c, device="cpu") for c in (averaged, halved)]
    models = [b.model.eval() for b in built]
    assert all(p.dtype == torch.float32 for p in models[1].parameters())  # computes in float32
    feats = torch.randn(2, 120, built[0].task.input_dim)
    with torch.no_grad():
        (lp_full, n_full), (lp_half, n_half) = (m(feats, torch.tensor([120, 90])) for m in models)
    assert torch.equal(n_full, n_half) and (lp_full - lp_half).abs().max() < 0.05

    # Resume restores the EMA too: 2 more steps continue the update count.
    assert _train(corpus, out, "trainer.max_steps=6", "trainer.val_every=3", "trainer.precision=bf16",
                  "trainer.ema_decay=0.9", "trainer.resume=auto") == 0
    assert load_checkpoint(out / "last.pt")["ema_updates"] == 6


@pytest.mark.slow
def test_early_stopping_and_precision_errors(corpus, tmp_path, monkeypatch):
    from hypersp.train.trainer import Trainer

    # A validation CER that never improves after the first validation -> stop after patience 2.
    monkeypatch.setattr(Trainer, "validate", lambda self: {"cer": 50.0, "cer_with_spaces": 50.0, "wer": 80.0,
                                                           "num_utterances": 3})
    out = tmp_path / "run"
    assert _train(corpus, out, "trainer.max_steps=50", "trainer.val_every=1",
                  "trainer.early_stopping_patience=2") == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["stop_reason"] == "early_stopping" and summary["steps"] == 3
    # a one-line error, exit 2 (the command's error path; tests/test_cli_errors.py checks the message)
    assert _train(corpus, tmp_path / "fp16", "trainer.max_steps=1", "trainer.precision=fp16", "trainer.device=cpu") == 2


def test_accumulation_of_two_halves_equals_the_whole_batch():
    """The loss scaling the trainer uses: mean of micro-batch means == full-batch mean gradient."""
    torch.manual_seed(0)
    model, x, y = nn.Linear(4, 1), torch.randn(8, 4), torch.randn(8, 1)
    nn.functional.mse_loss(model(x), y).backward()
    full = model.weight.grad.clone()
    model.zero_grad()
    for part in (slice(0, 4), slice(4, 8)):
        (nn.functional.mse_loss(model(x[part]), y[part]) / 2).backward()
    torch.testing.assert_close(model.weight.grad, full)
