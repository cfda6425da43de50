"""ktelspeech at 8 kHz: the prepared manifest feeds 8 kHz audio into a 64-mel front end (run.sh end to end:
test_prepare_examples)."""
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
    from hypersp.checkpoint import build_tokenizer_and_task

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
