"""ktelspeech end to end at 8 kHz: prepare the raw fixture, train two steps, evaluate."""
import json

import pytest

from hypersp.registry import TASKS
from hypersp.testing.corpus_fixtures import make_aihub


@pytest.fixture(scope="module")
def ktel(tmp_path_factory):
    base = tmp_path_factory.mktemp("ktel")
    fx = make_aihub(base / "raw", "ktelspeech")
    TASKS.get("ktelspeech").prepare(fx.root, base / "data", 1, {"progress": False, "shards": 4})
    return base


def test_dataset_reads_8khz_audio_into_64_mel_features(ktel):
    from hypersp.config import compose
    from hypersp.train.build import build_tokenizer_and_task

    cfg = compose([], [f"task.train_manifest={ktel / 'data/train.jsonl'}", "task.num_workers=0"],
                  task="ktelspeech", arch="quartznet_small")
    tokenizer, task = build_tokenizer_and_task(cfg)
    task.fit_tokenizer()
    assert task.sample_rate == 8000 and task.input_dim == 64
    ds = task.dataset(str(ktel / "data/train.jsonl"), train=False)
    entry = ds.entries[0]
    example = ds[0]
    features = example.features
    assert features.shape[-1] == 64
    # 10 ms hop at 8 kHz: about 100 frames per second of the 8 kHz file (not 2x: no upsampling)
    assert abs(features.shape[0] - entry.duration * 100) <= 3


def test_train_and_eval_at_8khz(ktel, capsys):
    from hypersp.train.checkpoint import load_checkpoint
    from hypersp_cli.eval import main as eval_main
    from hypersp_cli.train import main as train_main

    run = ktel / "run"
    rc = train_main(["--task", "ktelspeech", "--arch", "quartznet_small",
                     f"task.train_manifest={ktel / 'data/train.jsonl'}", f"task.valid_manifest={ktel / 'data/valid.jsonl'}",
                     f"trainer.out_dir={run}", "trainer.max_steps=2", "trainer.val_every=2", "task.num_workers=0",
                     "trainer.progress_bar=false"])
    assert rc == 0
    state = load_checkpoint(str(run / "best.pt"))
    task_cfg = state["config"]["task"]
    assert task_cfg["sample_rate"] == 8000 and task_cfg["features"]["sample_rate"] == 8000
    assert task_cfg["features"]["n_mels"] == 64 and task_cfg["features"]["f_max"] == 4000.0
    capsys.readouterr()
    rc = eval_main(["--checkpoint", str(run / "best.pt"), "--manifest", str(ktel / "data/test.jsonl"),
                    "--scoring-normalizer", "korean_cer"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scoring_normalizer"] == "korean_cer" and result["num_utterances"] == 1
