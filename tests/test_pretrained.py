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

DEMO_MODELS = {"demo_ko_16k": 16000, "demo_ko_8k": 8000, "demo_ko_16k_stream": 16000, "demo_ko_8k_stream": 8000}
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


@pytest.mark.parametrize("name", ["demo_ko_16k_stream", "demo_ko_8k_stream"])
def test_the_streaming_demo_models_stream_cached_by_their_own_settings(name):
    """A streaming demo model carries its streaming settings: hypersp.load(...).stream() (and hypersp-serve) run it
    through the cached encoder with the final from the streamed frames, without peeks (causal: 40 ms lookahead)."""
    import hypersp
    from hypersp.inference.streaming import StreamingRecognizer

    state = load_checkpoint(name)
    assert state["config"]["model"]["conv_causal"] and state["config"]["model"]["att_context_right"] == 0
    assert state["config"]["task"]["features"]["normalize"] == "cumulative"
    asr = hypersp.load(name)
    cfg = asr.default_streaming_config()
    assert cfg.mode == "cached" and not cfg.final_full_context
    live = StreamingRecognizer(asr, cfg)
    assert live.encoder is not None and not live.peek and live.encoder.lookahead_s < 0.05


def test_serve_picks_the_8khz_model_for_the_telephone_apps():
    assert default_checkpoint(["online_tel"]) == "demo_ko_8k"
    assert default_checkpoint(["offline_tel"]) == "demo_ko_8k"
    assert default_checkpoint(["online_resp"]) == "demo_ko_16k"
    assert default_checkpoint(["subtitles", "online_tel"]) == "demo_ko_16k"


@pytest.fixture(scope="module")
def heldout_corpora(tmp_path_factory):
    from hypersp.prepare.synthetic.generator import SyntheticConfig, generate_corpus

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


# ---- the shipped Korean LM and the demo models' default decoding (issue 13 part 3) ---------------------
SHIPPED_LM = "ko_jamo6.arpa.gz"


def test_shipped_lm_is_small_and_loads():
    from hypersp.checkpoint import SHIPPED_DIR
    from hypersp.decoding.ngram import load_lm, text_to_units

    path = SHIPPED_DIR / SHIPPED_LM
    assert path.stat().st_size <= 20 * 2**20  # issue 13: at most 20 MB
    assert (SHIPPED_DIR / "ko_jamo6.md").is_file()  # its card: sources, licences, how it was built
    lm = load_lm(path)
    assert lm.unit == "jamo" and lm.order == 6
    good = lm.sentence_logprob(text_to_units("오늘 회의는 세 시에 시작합니다", "jamo"))
    bad = lm.sentence_logprob(text_to_units("다니합작시 에시 세 는의회 늘오", "jamo"))
    assert good > bad + 20


@pytest.mark.parametrize("name", DEMO_MODELS)
def test_demo_models_decode_with_the_shipped_lm_by_default(name):
    import hypersp
    from hypersp.checkpoint import SHIPPED_DIR, shipped_decoding

    defaults = shipped_decoding(name)
    assert defaults["name"] == "ctc_beam" and defaults["lm_path"] == str((SHIPPED_DIR / SHIPPED_LM).resolve())
    assert shipped_decoding(shipped_models()[name]) == defaults  # the shipped file by its path: the same model
    asr = hypersp.load(name)
    assert asr.decoding.name == "ctc_beam" and asr.decoding.lm_path == defaults["lm_path"]
    assert asr.decoder.search.lm is not None and asr.decoder.search.lm.unit == "jamo"
    # whatever the caller gives wins
    assert hypersp.load(name, decoding="greedy").decoding.name == "greedy"
    assert hypersp.load(name, overrides=["decoding.name=greedy"]).decoding.name == "greedy"
    no_lm = hypersp.load(name, lm="")
    assert no_lm.decoding.name == "ctc_beam" and no_lm.decoding.lm_path == "" and no_lm.decoder.search.lm is None
    assert hypersp.load(name, lm_weight=0.2).decoding.lm_weight == 0.2


def test_a_checkpoint_outside_the_package_keeps_its_own_decoding(tmp_path):
    import shutil

    import hypersp
    from hypersp.checkpoint import shipped_decoding

    copy = tmp_path / "demo_ko_16k.pt"  # a user's copy (or a fine-tuned demo model): no sidecar applies
    shutil.copy(shipped_models()["demo_ko_16k"], copy)
    assert shipped_decoding(copy) == {}
    assert hypersp.load(str(copy)).decoding.name == "greedy"


def test_eval_cli_default_is_the_shipped_lm_and_greedy_still_works(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    wav = tmp_path / "tone.wav"
    t = np.arange(16000) / 16000.0
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(wav), "duration": 1.0, "text": "가"}, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    for extra, decoder in (([], "ctc_beam"), (["--decoding", "greedy"], "greedy")):
        out = tmp_path / f"{decoder}.json"
        assert eval_cli.main(["--checkpoint", "demo_ko_16k", "--manifest", str(manifest), "--no-progress",
                              "--output-json", str(out), *extra]) == 0
        result = json.loads(out.read_text())
        assert result["decoding"] == decoder
        if decoder == "ctc_beam":
            assert result["decoding_config"]["lm_path"].endswith(SHIPPED_LM)
    capsys.readouterr()


def test_every_shipped_file_is_in_the_package_data():
    """A file beside the shipped models (model, card, decoding or streaming defaults, LM) that setup.py's
    package_data misses would be absent from an installed (non-editable) hypersp."""
    import fnmatch
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    patterns = re.findall(r'"(pretrained/[^"]+)"', (root / "setup.py").read_text())
    shipped = [p for p in (root / "hypersp" / "pretrained").iterdir() if p.is_file() and not p.name.startswith("__")]
    assert len(shipped) >= 10 and patterns
    missing = [p.name for p in shipped if not any(fnmatch.fnmatch(f"pretrained/{p.name}", pat) for pat in patterns)]
    assert not missing, missing
