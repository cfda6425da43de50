"""hypersp-export --format sherpa-onnx: a folder sherpa-onnx loads as it is, giving hypersp's greedy output.

The end-to-end comparison runs when the sherpa-onnx pip package is installed (extra ``sherpa``) and is
skipped otherwise; the export itself needs the ``export`` extra (onnx, onnxruntime)."""
import json

import numpy as np
import pytest

from hypersp.text.hangul import normalize_spaces
from hypersp.export.sherpa import SHERPA_SPACE, ExportError, sherpa_feature_mismatches, tokens_txt
from hypersp.testing import make_tiny_checkpoint

KALDI_FBANK = ["task.features.kaldi_compatible=true", "task.features.snip_edges=false", "task.features.f_min=20",
               "task.features.f_max=-400", "task.features.log_floor=1.1920928955078125e-07"]


def speechlike(seconds: float, rate: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    w = 0.3 * np.sin(2 * np.pi * (150 + 200 * seed + 600 * t) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (w + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def greedy_symbols(log_probs: np.ndarray, tokens) -> list:
    """hypersp's greedy CTC path as sherpa-onnx names its tokens (space as a leading space)."""
    ids = log_probs.argmax(-1)
    keep = [int(i) for j, i in enumerate(ids) if i != 0 and (j == 0 or ids[j - 1] != i)]
    return [" " if tokens[i] == " " else tokens[i] for i in keep]


@pytest.fixture(scope="module", params=["16k", "8k", "16k_char"])
def exported(request, tmp_path_factory):
    pytest.importorskip("onnx")
    from hypersp.checkpoint import build_from_checkpoint, load_checkpoint
    from hypersp.export.sherpa import export_sherpa_onnx

    tmp = tmp_path_factory.mktemp("sherpa")
    telephone = request.param == "8k"
    overrides = KALDI_FBANK + (["task.features.n_mels=64"] if telephone else [])
    overrides += ["tokenizer.name=char"] if request.param.endswith("char") else []
    ckpt = make_tiny_checkpoint(tmp / "tiny.pt", telephone=telephone, seed=3, overrides=overrides)
    comp = build_from_checkpoint(load_checkpoint(ckpt), device="cpu")
    summary = export_sherpa_onnx(comp, tmp / "sherpa", source=str(ckpt))
    return ckpt, summary


def test_tokens_txt():
    text = tokens_txt(["<blank>", " ", "가", "ᄀ"])
    assert text == f"<blank> 0\n{SHERPA_SPACE} 1\n가 2\nᄀ 3\n"
    with pytest.raises(ExportError, match="whitespace"):
        tokens_txt(["<blank>", "a b"])
    with pytest.raises(ExportError, match="already"):
        tokens_txt(["<blank>", " ", SHERPA_SPACE])


def test_other_front_end_is_refused_in_one_line(tmp_path, capsys):
    from hypersp.audio.config import FeatureConfig, kaldi_fbank_features

    assert sherpa_feature_mismatches(kaldi_fbank_features()) == []
    assert sherpa_feature_mismatches(kaldi_fbank_features(8000, 64)) == []
    problems = " ".join(sherpa_feature_mismatches(FeatureConfig()))
    for key in ("kaldi_compatible", "snip_edges", "f_min", "f_max", "log_floor"):
        assert f"task.features.{key}=" in problems
    from hypersp_cli.export import main

    ckpt = make_tiny_checkpoint(tmp_path / "default.pt")
    code = main(["--checkpoint", str(ckpt), "--format", "sherpa-onnx", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("hypersp-export: error: ")
    assert "task.features.kaldi_compatible=False" in err
    assert not (tmp_path / "out" / "model.onnx").exists()


def test_export_folder_metadata_and_graph(exported):
    """model.onnx has sherpa-onnx's metadata and maps raw Kaldi fbank to hypersp's log-probs."""
    import onnx
    import onnxruntime as ort

    import hypersp
    from hypersp.audio.config import FeatureConfig
    from hypersp.audio.features_numpy import NumpyLogMelFeatures

    ckpt, summary = exported
    meta = {p.key: p.value for p in onnx.load(summary["model"]).metadata_props}
    assert meta["model_type"] == "zipformer2_ctc" and meta["normalize_type"] == ""
    assert int(meta["vocab_size"]) == summary["vocab_size"] and int(meta["subsampling_factor"]) == 4
    lines = open(summary["tokens"], encoding="utf-8").read().splitlines()
    assert len(lines) == summary["vocab_size"] and lines[0] == "<blank> 0" and lines[1] == f"{SHERPA_SPACE} 1"
    jamo = summary["vocab_size"] > 60  # the char tokenizer fitted on one sentence has a dozen tokens
    assert ("note" in summary) == jamo and (not jamo or "jamo" in summary["note"])

    engine = hypersp.load(str(ckpt), decoding="greedy")
    raw = NumpyLogMelFeatures(FeatureConfig(**{**dict(engine.task.cfg.features), "normalize": "none"}))
    session = ort.InferenceSession(summary["model"], providers=["CPUExecutionProvider"])
    rate = summary["sample_rate"]
    waves = [speechlike(s, rate, i) for i, s in enumerate((2.0, 0.7))]
    x = np.zeros((2, len(waves[0])), np.float32)  # one padded batch
    for b, wave in enumerate(waves):
        x[b, : len(wave)] = wave
    feats, lengths = raw(x, np.array([len(w) for w in waves]))
    out, out_lengths = session.run(None, {"features": feats, "lengths": lengths})
    for b, ref in enumerate(engine.log_probs(waves)):
        assert int(out_lengths[b]) == len(ref)
        np.testing.assert_allclose(out[b, : len(ref)], ref, atol=1e-4)


def test_sherpa_onnx_gives_hypersp_greedy_output(exported):
    sherpa_onnx = pytest.importorskip("sherpa_onnx")
    import hypersp

    ckpt, summary = exported
    rate = summary["sample_rate"]
    recognizer = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(
        model=summary["model"], tokens=summary["tokens"], num_threads=1, sample_rate=rate,
        feature_dim=summary["feature_dim"])
    engine = hypersp.load(str(ckpt), decoding="greedy")
    compared = 0
    for seed, seconds in enumerate((1.3, 2.2, 0.4)):
        wave = speechlike(seconds, rate, seed)
        stream = recognizer.create_stream()
        stream.accept_waveform(rate, wave)
        recognizer.decode_stream(stream)
        expected = greedy_symbols(engine.log_probs([wave])[0], engine.tokenizer.tokens)
        # An untrained model emits a token on most frames: every frame's argmax has to agree.
        assert stream.result.tokens == expected, (seed, stream.result.tokens, expected)
        compared += len(expected)
        if "note" not in summary:  # char vocabulary: the text itself is hypersp's greedy transcript
            ours = engine.recognize([wave], words=False)[0].text
            assert normalize_spaces(stream.result.text) == ours
    assert compared > 20
    assert json.loads(json.dumps(summary))["load"].startswith("sherpa_onnx.OfflineRecognizer.from_zipformer_ctc")
