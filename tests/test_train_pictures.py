"""What a training run shows: TensorBoard validation loss, learning rate, sample transcripts and a
features + CTC posteriors image each validation; curves.png in the run folder at the end."""
import json

import numpy as np

from hypersp.testing import TINY_JASPER, tiny_synthetic_corpus
from hypersp.train.pictures import alignment_image, write_training_curves
from hypersp_cli import train as train_cli


def test_alignment_image_layout():
    feats = np.random.default_rng(0).standard_normal((100, 16)).astype(np.float32)
    lp = np.log(np.full((25, 5), 0.2, np.float32))
    img = alignment_image(feats, lp)
    assert img.shape == (1, 16 + 4 + 5, 100) and 0.0 <= img.min() and img.max() <= 1.0
    assert np.allclose(img[0, 20:], 0.2, atol=1e-6)  # posteriors stretched over the input frames


def test_curves_png_from_the_log(tmp_path):
    log = tmp_path / "train_log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in [
        {"step": 1, "loss": 5.0}, {"step": 2, "loss": 4.0}, {"step": 2, "valid": {"cer": 90.0}},
        {"step": 3, "loss": float("nan")}, {"step": 4, "loss": 3.0}, {"step": 4, "valid": {"cer": 70.0}}]))
    assert write_training_curves(log, tmp_path / "c.png") == {"loss_points": 3, "cer_points": 2}
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_training_run_writes_its_pictures(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    corpus = tiny_synthetic_corpus(tmp_path / "data", hours=0.01)
    out = tmp_path / "run"
    assert train_cli.main(["--task", "synthetic", "--arch", "quartznet_small", *TINY_JASPER,
                           f"task.train_manifest={corpus['train']}", f"task.valid_manifest={corpus['dev']}",
                           f"trainer.out_dir={out}", "trainer.log_every=1", "trainer.progress_bar=false",
                           "task.num_workers=0", "task.batch_seconds=20", "optim.warmup_steps=1",
                           "trainer.max_steps=4", "trainer.val_every=2"]) == 0
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    acc = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0, "tensors": 0}).Reload()
    tags = acc.Tags()
    assert {"valid/loss", "valid/cer", "train/lr", "train/loss"} <= set(tags["scalars"])
    assert "valid/features_and_ctc_posteriors" in tags["images"]
    assert any(t.startswith("valid/samples") for t in tags["tensors"])
    assert all(np.isfinite(e.value) for e in acc.Scalars("valid/loss"))
    valid = [json.loads(l)["valid"] for l in (out / "train_log.jsonl").read_text().splitlines() if '"valid"' in l]
    assert valid and "loss" in valid[-1]
