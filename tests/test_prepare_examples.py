"""examples/<corpus>: every conf composes with its task; run.sh works end to end from its arguments."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hypersp.testing.corpus_fixtures import make_aihub

pytestmark = pytest.mark.slow  # a server process, subprocesses or training: not in `pytest -m "not slow"`

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ("klecspeech", "kconfspeech", "krespspeech", "ktelspeech", "ksponspeech", "librispeech")


@pytest.mark.parametrize("corpus", CORPORA)
def test_recipe_files_and_config(corpus):
    from hypersp.config import compose

    d = ROOT / "examples" / corpus
    readme = (d / "README.md").read_text(encoding="utf-8")
    for needed in ("quartznet15x5", "tokenizer", "normaliz", "To be filled by real runs", f"hypersp-prepare {corpus}"):
        assert needed in readme, (corpus, needed)
    subprocess.run(["bash", "-n", str(d / "run.sh")], check=True)
    for conf in sorted((d / "conf").glob("*.yaml")):
        cfg = compose([str(conf)], ["task.train_manifest=x.jsonl"], task=corpus, arch="quartznet15x5")
        assert cfg.task.name == corpus and cfg.model.name == "jasper"
        assert cfg.task.sample_rate == (8000 if corpus == "ktelspeech" else 16000) == cfg.task.features.sample_rate


def test_run_sh_usage_without_arguments():
    r = subprocess.run(["bash", str(ROOT / "examples/ktelspeech/run.sh")], capture_output=True, text=True)
    assert r.returncode != 0 and "RAW_DIR" in r.stdout


def test_ktelspeech_run_sh_end_to_end_at_8khz(tmp_path):
    """prepare -> train (2 steps, small preset) -> eval on the raw ktel fixture, paths from the command line."""
    from hypersp.checkpoint import load_checkpoint

    fx = make_aihub(tmp_path / "raw", "ktelspeech")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "JOBS": "2", "ARCH": "quartznet_small"}
    r = subprocess.run(
        ["bash", str(ROOT / "examples/ktelspeech/run.sh"), str(fx.root), str(tmp_path / "data"), str(tmp_path / "run"),
         "trainer.max_steps=2", "trainer.val_every=2", "task.num_workers=0", "trainer.progress_bar=false",
         "task.batch_seconds=10"],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((tmp_path / "data/report.json").read_text(encoding="utf-8"))
    assert report["utterances"]["kept"] == len(fx.kept)
    task = load_checkpoint(str(tmp_path / "run/best.pt"))["config"]["task"]
    assert (task["sample_rate"], task["features"]["sample_rate"], task["features"]["n_mels"]) == (8000, 8000, 64)
    for split in ("test", "dev"):
        result = json.loads((tmp_path / f"run/eval_{split}.json").read_text(encoding="utf-8"))
        assert result["scoring_normalizer"] == "korean_cer" and result["num_utterances"] == 1
    assert "scoring normalizer 'korean_cer'" in r.stderr
    # A download without Validation: the recipe evaluates the splits that exist and says what it skipped.
    (tmp_path / "data/dev.jsonl").unlink()
    (tmp_path / "run/eval_test.json").unlink()
    r = subprocess.run(["bash", str(ROOT / "examples/ktelspeech/run.sh"), str(fx.root), str(tmp_path / "data"),
                        str(tmp_path / "run")], capture_output=True, text=True, env={**env, "STAGE": "3"},
                       cwd=str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "dev: no " in r.stderr and "skipped" in r.stderr
    assert (tmp_path / "run/eval_test.json").is_file()
