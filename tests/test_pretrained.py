"""The shipped demo models (hypersp/pretrained/): found by name, small, served by default, accurate.

They are made by ``examples/synthetic/run.sh``; their model cards are beside them. The accuracy
check speaks a fresh set of sentences with the held-out voices and speaking-rate band (a seed the
recipe never used) and decodes it with each model.
"""
import json

import pytest

from hypersp.checkpoint import load_checkpoint, shipped_models
from hypersp_cli import eval as eval_cli
from hypersp_cli.serve import default_checkpoint

DEMO_MODELS = {"demo_ko_16k": 16000, "demo_ko_8k": 8000}
HELDOUT = ["m8", "f5", "steph2", "klatt4", "iven3", "Andrea", "benjamin", "aunty"]


@pytest.mark.parametrize("name,rate", DEMO_MODELS.items())
def test_demo_model_is_shipped_small_and_complete(name, rate):
    path = shipped_models()[name]
    assert path.stat().st_size < 5 * 2**20  # "a few MB": small enough to commit
    assert (path.parent / f"{name}.md").is_file()  # its model card
    state = load_checkpoint(name)
    assert state["config"]["task"]["sample_rate"] == rate
    assert state["config"]["tokenizer"]["name"] == "jamo"
    assert "optimizer" not in state and state["weights_dtype"] == "float16"


def test_serve_picks_the_8khz_model_for_the_telephone_apps():
    assert default_checkpoint(["online_tel"]) == "demo_ko_8k"
    assert default_checkpoint(["offline_tel"]) == "demo_ko_8k"
    assert default_checkpoint(["online_resp"]) == "demo_ko_16k"
    assert default_checkpoint(["subtitles", "online_tel"]) == "demo_ko_16k"


@pytest.fixture(scope="module")
def heldout_corpora(tmp_path_factory):
    from hypersp.data.synthetic import SyntheticConfig, generate_corpus

    out = {}
    for name, telephone in (("demo_ko_16k", False), ("demo_ko_8k", True)):
        root = tmp_path_factory.mktemp(name)
        cfg = SyntheticConfig(hours=0.012, seed=9041, telephone=telephone, dev_fraction=0.1, test_fraction=0.6,
                              variants=["m1"], heldout_variants=HELDOUT, heldout_test_fraction=1.0,
                              min_rate=110, max_rate=250, heldout_rate_band=[165, 185],
                              min_pitch=10, max_pitch=90, noise_snr_db_min=15, noise_snr_db_max=50)
        generate_corpus(root, cfg, progress=False)
        out[name] = root / "test.jsonl"
    return out


@pytest.mark.parametrize("name,max_cer", [("demo_ko_16k", 8.0), ("demo_ko_8k", 12.0)])
@pytest.mark.slow
def test_demo_model_recognizes_unseen_voices_and_sentences(name, max_cer, heldout_corpora, tmp_path, capsys):
    # A loose bound on a small set (about 20 utterances); the model card has the full measurement.
    result = tmp_path / "result.json"
    assert eval_cli.main(["--checkpoint", name, "--manifest", str(heldout_corpora[name]),
                          "--output-json", str(result)]) == 0
    scores = json.loads(result.read_text())
    assert scores["num_utterances"] >= 15
    assert scores["cer"] < max_cer, scores
