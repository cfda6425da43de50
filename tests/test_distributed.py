"""2 gloo ranks on CPU == 1 process accumulating the same 2 micro-batches, step for step."""
import json
import os
import subprocess
import sys

import pytest
import torch

from hypersp.testing import TINY_JASPER, tiny_synthetic_corpus
from hypersp.checkpoint import load_checkpoint
from hypersp.train.distributed import EpochTaggedBatches, Shard, derive_seed

pytestmark = pytest.mark.slow  # a server process, subprocesses or training: not in `pytest -m "not slow"`


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tiny_synthetic_corpus(tmp_path_factory.mktemp("synthetic"), hours=0.02)


def _args(corpus, out, *extra):
    # SpecAugment and dither stay on: their randomness is seeded per (step, micro-batch) and per item.
    return ["--task", "synthetic", "--arch", "quartznet_small", *TINY_JASPER,
            f"task.train_manifest={corpus['train']}", f"task.valid_manifest={corpus['dev']}",
            f"trainer.out_dir={out}", "trainer.max_steps=4", "trainer.val_every=2", "trainer.log_every=1",
            "trainer.progress_bar=false", "trainer.num_threads=1", "task.num_workers=0", "task.batch_seconds=20", "task.num_buckets=3",
            "optim.warmup_steps=1", "optim.lr=0.003", *extra]


def _losses(out):
    lines = [json.loads(l) for l in (out / "train_log.jsonl").read_text().splitlines()]
    return [l for l in lines if "loss" in l], [l["valid"] for l in lines if "valid" in l]


def test_two_gloo_ranks_match_one_process_with_the_combined_batch(corpus, tmp_path):
    single, multi = tmp_path / "single", tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Rank r takes global batches r, r+2, r+4, ...; one process with accumulate_grad=2 takes the
    # same pairs (0,1), (2,3), ... and averages their gradients as DDP does.
    cmd = [sys.executable, "-m", "hypersp_cli.train", "--nproc-per-node", "2", *_args(corpus, multi)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, "-m", "hypersp_cli.train", *_args(corpus, single, "trainer.accumulate_grad=2")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    ddp_steps, ddp_valid = _losses(multi)
    one_steps, one_valid = _losses(single)
    # Only rank 0 writes: each step logged once; every step reduced over both ranks.
    assert [s["step"] for s in ddp_steps] == [1, 2, 3, 4] == [s["step"] for s in one_steps]
    assert any(s["epoch"] > 0 for s in ddp_steps), "the test should cross an epoch boundary"
    for a, b in zip(ddp_steps, one_steps):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["audio_seconds"] == pytest.approx(b["audio_seconds"])
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    # Updates are the same: every parameter after 4 steps (BatchNorm running stats are per rank
    # in DDP, so buffers are not compared).
    ddp, one = load_checkpoint(multi / "last.pt"), load_checkpoint(single / "last.pt")
    assert ddp["world_size"] == 2 and one["world_size"] == 1
    model = one["model"]
    params = [k for k in model if "running" not in k and "num_batches" not in k]
    assert params
    for k in params:
        torch.testing.assert_close(ddp["model"][k], model[k], rtol=1e-4, atol=1e-5, msg=k)
    # Validation was split over the ranks and pooled: every dev utterance scored once.
    n_dev = len(corpus["dev"].read_text().splitlines())
    assert ddp_valid and all(v["num_utterances"] == n_dev for v in ddp_valid)
    assert not list(multi.glob(".*.tmp"))


def test_shard_and_epoch_tags_are_disjoint_and_complete():
    class DS:
        durations = [1.0] * 7

        def __len__(self):
            return 7

        def __getitem__(self, i):
            return i

    shards = [Shard(DS(), r, 3) for r in range(3)]
    items = sorted(s[i] for s in shards for i in range(len(s)))
    assert items == list(range(7))

    tagged = EpochTaggedBatches([[0, 1], [2]])
    tagged.set_epoch(3)
    assert list(tagged) == [[(3, 0), (3, 1)], [(3, 2)]]
    assert derive_seed(1, 2, 3) == derive_seed(1, 2, 3) != derive_seed(1, 2, 4)


def test_teardown_waits_until_every_rank_has_left_the_barrier(monkeypatch):
    """cleanup()'s second wait: a rank returns only once all ranks are counted in the store (not gloo), and a
    store that already holds an earlier attempt's full count does not let a later attempt through early."""
    import threading
    import time

    import torch.distributed as dist

    from hypersp.train import distributed as D

    store = dist.HashStore()
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist.distributed_c10d, "_get_default_store", lambda: store)
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    store.add("hypersp/finished/0", 2)  # an earlier attempt that used this store (and key) and finished
    done = threading.Event()
    rank0 = threading.Thread(target=lambda: (D._all_left_the_barrier(timeout_s=30), done.set()))
    rank0.start()
    time.sleep(0.3)
    assert not done.is_set(), "returned before the other rank was counted"
    D._all_left_the_barrier(timeout_s=30)  # rank 1 arrives: both go on
    rank0.join(timeout=10)
    assert done.is_set()
    assert store.add("hypersp/finished/0", 0) == 4


def test_teardown_says_when_a_rank_never_confirms(monkeypatch, caplog):
    import logging

    import torch.distributed as dist

    from hypersp.train import distributed as D

    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(dist.distributed_c10d, "_get_default_store", lambda: dist.HashStore())
    with caplog.at_level(logging.WARNING, logger="hypersp.train.distributed"):
        D._all_left_the_barrier(timeout_s=0.2)  # the other rank never comes
    assert "not every rank confirmed" in caplog.text
