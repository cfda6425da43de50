"""End-to-end: synthetic corpus -> hypersp-train -> checkpoint -> hypersp-eval / hypersp-serve."""
import json
import shutil

import pytest
import torch

from hypersp.testing import TINY_JASPER, tiny_synthetic_corpus, write_manifest_lines
from hypersp.checkpoint import load_checkpoint
from hypersp_cli import eval as eval_cli
from hypersp_cli import serve as serve_cli
from hypersp_cli import train as train_cli


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    paths = tiny_synthetic_corpus(root, hours=0.02)
    # A training manifest with two bad utterances: missing audio and an empty transcript.
    lines = [json.loads(l) for l in paths["train"].read_text(encoding="utf-8").splitlines()]
    lines.append({"audio_filepath": "wavs/does-not-exist.wav", "duration": 1.0, "text": "없는 파일", "utt_id": "missing"})
    lines.append({**lines[0], "text": "   ", "utt_id": "empty-text"})
    paths["train_bad"] = write_manifest_lines(root / "train_bad.jsonl", lines)
    return paths


def _train(corpus, out_dir, *extra):
    args = ["--task", "synthetic", "--arch", "quartznet_small", *TINY_JASPER,
            f"task.train_manifest={corpus['train_bad']}", f"task.valid_manifest={corpus['dev']}",
            f"trainer.out_dir={out_dir}", "trainer.val_every=4", "trainer.log_every=2", "trainer.progress_bar=false",
            "task.num_workers=0", "task.batch_seconds=20", "optim.warmup_steps=2", *extra]
    return train_cli.main(args)


@pytest.mark.slow
def test_train_eval_serve_roundtrip(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(corpus, out, "trainer.max_steps=12") == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 12 and summary["epochs"] >= 1
    # The two bad utterances were skipped and counted, training went on.
    assert summary["skipped"]["unreadable audio"] >= 1
    assert summary["skipped"]["empty transcript after normalization"] >= 1
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert any((out / "tensorboard").iterdir())

    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 12
    assert state["config"]["task"]["name"] == "synthetic"
    assert state["provenance"]["model"]["distribution"] == "hypersp"
    assert state["tokenizer"]["tokens"][0] == "<blank>"

    capsys.readouterr()
    result_path = tmp_path / "result.json"
    assert eval_cli.main(["--checkpoint", str(out / "best.pt"), "--manifest", str(corpus["test"]),
                          "--output-json", str(result_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(result_path.read_text())
    assert printed == written
    for key in ("cer", "cer_with_spaces", "wer", "num_utterances", "audio_seconds", "rtf", "scoring_normalizer"):
        assert key in written
    n_test = len(corpus["test"].read_text().splitlines())
    assert written["num_utterances"] == n_test
    assert 0 <= written["cer"] <= 100 + 1e-9 or written["cer"] > 100  # insertions can exceed 100
    assert written["audio_seconds"] > 0 and written["rtf"] > 0

    # serve loads the checkpoint alone and says what it loaded.
    capsys.readouterr()
    assert serve_cli.main(["--checkpoint", str(out / "best.pt")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "synthetic" and info["sample_rate"] == 16000


@pytest.mark.slow
def test_eval_rebuilds_from_checkpoint_alone_and_resamples(corpus, tmp_path):
    out = tmp_path / "run"
    assert _train(corpus, out, "trainer.max_steps=2") == 0
    moved = tmp_path / "elsewhere.pt"
    shutil.copy(out / "best.pt", moved)
    shutil.rmtree(out)  # no config.yaml, no run folder: the checkpoint alone must do
    # The same test set at 44.1 kHz and 8 kHz must be resampled to the model's 16 kHz.
    import soundfile as sf
    import soxr

    lines = [json.loads(l) for l in corpus["test"].read_text(encoding="utf-8").splitlines()]
    for rate in (44100, 8000):
        items = []
        for i, item in enumerate(lines):
            wav, sr = sf.read(corpus["test"].parent / item["audio_filepath"], dtype="float32")
            path = tmp_path / f"{rate}_{i}.flac"
            sf.write(path, soxr.resample(wav, sr, rate), rate)
            items.append({**item, "audio_filepath": str(path)})
        manifest = write_manifest_lines(tmp_path / f"test_{rate}.jsonl", items)
        result = tmp_path / f"r{rate}.json"
        assert eval_cli.main(["--checkpoint", str(moved), "--manifest", str(manifest), "--output-json", str(result)]) == 0
        assert json.loads(result.read_text())["num_utterances"] == len(lines)


@pytest.mark.slow
def test_resume_continues_from_last_checkpoint(corpus, tmp_path):
    out = tmp_path / "run"
    assert _train(corpus, out, "trainer.max_steps=4") == 0
    first = load_checkpoint(out / "last.pt")
    first_summary = json.loads((out / "train_summary.json").read_text())
    assert _train(corpus, out, "trainer.max_steps=8", "trainer.resume=auto") == 0
    resumed = load_checkpoint(out / "last.pt")
    # Wall time and throughput cover the whole run, not just the resumed session.
    summary = json.loads((out / "train_summary.json").read_text())
    assert first["train_seconds"] > 0 and resumed["train_seconds"] > first["train_seconds"]
    assert summary["train_seconds"] == pytest.approx(first["train_seconds"] + summary["session_seconds"], abs=0.2)
    assert summary["train_seconds"] > first_summary["train_seconds"] - 0.5
    assert resumed["step"] == 8
    assert first["step"] == 4
    # The optimizer kept its state (Adam step counts continue from 4, not from 0) ...
    steps = [s["step"] for s in resumed["optimizer"]["state"].values()]
    assert steps and all(float(s) == 8 for s in steps)
    # ... and the learning-rate schedule too.
    assert resumed["scheduler"]["last_epoch"] == 8
    assert any(not torch.equal(first["model"][k], resumed["model"][k]) for k in first["model"])


@pytest.mark.slow
def test_init_from_starts_a_fine_tuning_run_from_another_models_weights(corpus, tmp_path):
    source = tmp_path / "source"
    assert _train(corpus, source, "trainer.max_steps=4") == 0
    src = load_checkpoint(source / "last.pt")
    # A fine-tuning run with another config (no feature normalization, another activation) and lr 0: its weights
    # are the source's, its vocabulary is the source's, and its step count and optimizer start afresh.
    out = tmp_path / "finetune"
    assert _train(corpus, out, "trainer.max_steps=2", "optim.lr=0", "trainer.val_every=2", "task.features.normalize=none",
                  "model.activation=silu", f"trainer.init_from={source / 'last.pt'}") == 0
    tuned = load_checkpoint(out / "last.pt")
    assert tuned["step"] == 2 and tuned["scheduler"]["last_epoch"] == 2
    assert tuned["tokenizer"] == src["tokenizer"]
    assert tuned["config"]["task"]["features"]["normalize"] == "none"
    assert set(tuned["model"]) == set(src["model"])
    # lr 0 leaves the parameters as loaded (BatchNorm's running statistics still move with the batches)
    params = [k for k in src["model"] if "running_" not in k and "num_batches" not in k]
    assert len(params) > 10 and all(torch.equal(tuned["model"][k], src["model"][k]) for k in params)
    steps = [float(s["step"]) for s in tuned["optimizer"]["state"].values()]
    assert steps and all(s == 2 for s in steps)


@pytest.mark.slow
def test_init_from_refuses_another_vocabulary_or_shape(corpus, tmp_path, capsys):
    source = tmp_path / "source"
    assert _train(corpus, source, "trainer.max_steps=2", "trainer.val_every=2") == 0
    capsys.readouterr()
    assert _train(corpus, tmp_path / "a", "trainer.max_steps=1", "tokenizer.name=char",
                  f"trainer.init_from={source / 'last.pt'}") == 2
    err = capsys.readouterr().err
    assert "was trained with tokenizer.name=jamo" in err and len(err.strip().splitlines()) == 1
    assert _train(corpus, tmp_path / "b", "trainer.max_steps=1",
                  TINY_JASPER[0].replace("filters: 32, kernel: 11", "filters: 48, kernel: 11", 1),
                  f"trainer.init_from={source / 'last.pt'}") == 2
    err = capsys.readouterr().err
    assert "another shape" in err and "(32, 80, 1) in the checkpoint, (48, 80, 1) in the model" in err


@pytest.mark.parametrize("argv, needle", [
    (["--checkpoint", "/no/such.pt", "--manifest", "x.jsonl"], "neither a file nor a shipped model"),
])
def test_eval_errors_are_one_line(argv, needle, capsys):
    assert eval_cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_eval_rejects_a_non_json_manifest_line(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(corpus, out, "trainer.max_steps=1") == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(corpus["test"].read_text(encoding="utf-8") + "this is not json\n", encoding="utf-8")
    capsys.readouterr()
    assert eval_cli.main(["--checkpoint", str(out / "best.pt"), "--manifest", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "not a JSON object" in err


def test_eval_accepts_the_name_of_a_shipped_model(corpus, tmp_path, monkeypatch, capsys):
    import hypersp.checkpoint as ckpt

    out = tmp_path / "run"
    assert _train(corpus, out, "trainer.max_steps=1") == 0
    shipped = tmp_path / "pretrained"
    shipped.mkdir()
    shutil.copy(out / "best.pt", shipped / "demo_tiny.pt")
    monkeypatch.setattr(ckpt, "SHIPPED_DIR", shipped)
    assert "demo_tiny" in ckpt.shipped_models()
    capsys.readouterr()
    assert eval_cli.main(["--checkpoint", "demo_tiny", "--manifest", str(corpus["test"])]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoint"] == str(shipped / "demo_tiny.pt")
    assert eval_cli.main(["--checkpoint", "demo_nope", "--manifest", str(corpus["test"])]) == 2
    assert "shipped: demo_tiny" in capsys.readouterr().err
