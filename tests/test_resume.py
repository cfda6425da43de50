"""Kill training with SIGKILL mid-run, resume, and get the losses of an uninterrupted run."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from hypersp.testing import TINY_JASPER, tiny_synthetic_corpus
from hypersp.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # a server process, subprocesses or training: not in `pytest -m "not slow"`


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_synthetic_corpus(tmp_path_factory.mktemp("synthetic"), hours=0.02)


def _cmd(corpus, out, max_steps, *extra):
    # One DataLoader worker, dither and SpecAugment on: the randomness that must be reproducible.
    # A constant schedule after warmup so the killed run's max_steps does not change the lr.
    return [sys.executable, "-m", "hypersp_cli.train", "--task", "synthetic", "--arch", "quartznet_small", *TINY_JASPER,
            f"task.train_manifest={corpus['train']}", f"task.valid_manifest={corpus['dev']}",
            f"trainer.out_dir={out}", f"trainer.max_steps={max_steps}", "trainer.val_every=3", "trainer.log_every=1",
            "trainer.progress_bar=false", "trainer.num_threads=1", "task.num_workers=1", "task.batch_seconds=20", "task.num_buckets=3",
            "optim.warmup_steps=2", "optim.schedule=constant", "trainer.keep_last_n=2", *extra]


def _steps(out, strict=True):
    by_step = {}
    for line in (out / "train_log.jsonl").read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:  # being written right now
            if strict:
                raise
            continue
        if "loss" in rec:
            by_step[rec["step"]] = rec["loss"]
    return by_step


def test_sigkill_then_resume_matches_an_uninterrupted_run(corpus, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    total = 10
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    proc = subprocess.run(_cmd(corpus, straight, total), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # A run that would go on for long; kill -9 it once it is past its first checkpoints.
    victim = subprocess.Popen(_cmd(corpus, killed, 10_000), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = killed / "train_log.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and victim.poll() is None:
        if log.is_file() and max(_steps(killed, strict=False) or [0]) >= 7:
            break
        time.sleep(0.05)
    assert victim.poll() is None, victim.stderr.read().decode()[-3000:]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    victim.stderr.close()
    state = load_checkpoint(killed / "last.pt")  # never half-written
    assert state["step"] in (6, 9) and state["step"] % 3 == 0

    proc = subprocess.run(_cmd(corpus, killed, total, "trainer.resume=auto"), env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected, got = _steps(straight), _steps(killed)
    assert sorted(got) == sorted(expected) == list(range(1, total + 1))
    for step in expected:  # bit-identical on CPU: same batches, same dither, same SpecAugment masks
        assert got[step] == expected[step], f"step {step}: {got[step]} != {expected[step]}"
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(killed / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["metrics"]["cer"] == b["metrics"]["cer"]
    # keep_last_n=2: step checkpoints of the last two validations only.
    assert sorted(p.name for p in killed.glob("ckpt_step*.pt")) == ["ckpt_step10.pt", "ckpt_step9.pt"]
