"""Engine backends: the ONNX backend (numpy features + onnxruntime) gives the PyTorch backend's log-probs,
and an ONNX deployment runs with torch unavailable."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf

from hypersp.audio.io import resample
from hypersp.export.sidecar import ExportError, build_tokenizer, load_sidecar
from hypersp.inference.backends import OnnxBackend, TorchBackend, TorchScriptBackend, open_exported

pytestmark = pytest.mark.slow  # a server process, subprocesses or training: not in `pytest -m "not slow"`

pytest.importorskip("onnxruntime")

MODELS = {16000: "demo_ko_16k", 8000: "demo_ko_8k"}
SENTENCES = ["안녕하세요 고객센터입니다", "오늘 회의를 시작하겠습니다"]

# Blocks torch for the rest of the process: `import torch` (and `from torch import x`) raises ImportError.
NO_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, _NoTorch())
    sys.modules["torch"] = None
""")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """ONNX exports (with sidecars) of both shipped demo models, keyed by sample rate."""
    from hypersp.export.export import export_checkpoint

    out = tmp_path_factory.mktemp("exports")
    files = {}
    for rate, name in MODELS.items():
        export_checkpoint(name, "onnx", out / f"{name}.onnx")
        files[rate] = out / f"{name}.onnx"
    return files


@pytest.fixture(scope="module")
def torch_backends():
    return {rate: TorchBackend.from_checkpoint(name) for rate, name in MODELS.items()}


def speech(rate: int):
    """Synthetic Korean utterances (eSpeak NG) at ``rate``, a short noise burst and an empty wave."""
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    rng = np.random.default_rng(0)
    waves = []
    for i, text in enumerate(SENTENCES):
        x, r = synth.synthesize(text, variant="m1" if i else "f2")
        x = resample(x.astype(np.float32) / 32768.0, r, rate)
        waves.append((0.8 * x / np.abs(x).max() + 0.003 * rng.standard_normal(x.size)).astype(np.float32))
    waves.append((0.05 * rng.standard_normal(rate // 5)).astype(np.float32))
    waves.append(np.zeros(0, np.float32))
    return waves


def greedy_text(backend, lp: np.ndarray) -> str:
    ids = lp.argmax(axis=-1)
    keep = [int(t) for j, t in enumerate(ids) if t != 0 and (j == 0 or t != ids[j - 1])]
    return backend.tokenizer.decode(keep).strip()


@pytest.mark.parametrize("rate", [16000, 8000])
def test_onnx_backend_matches_torch_backend(rate, exports, torch_backends):
    onnx, ref = OnnxBackend(exports[rate], threads=1), torch_backends[rate]
    assert onnx.sample_rate == ref.sample_rate == rate
    assert onnx.frame_shift_s == pytest.approx(ref.frame_shift_s) and onnx.subsampling_factor == ref.subsampling_factor
    assert onnx.vocab_size == ref.vocab_size and onnx.tokenizer.tokens == ref.tokenizer.tokens
    assert onnx.meta["model_format"] == "onnx"
    waves = speech(rate)
    got, want = onnx.log_probs(waves), ref.log_probs(waves)
    assert len(got) == len(want) == len(waves)
    for g, w in zip(got, want):
        assert isinstance(g, np.ndarray) and isinstance(w, np.ndarray)
        assert g.dtype == w.dtype == np.float32 and g.shape == w.shape
        if g.size:
            assert float(np.abs(g - w).max()) < 1e-3
            np.testing.assert_allclose(np.exp(g).sum(-1), 1.0, atol=1e-3)  # natural-log posteriors
    assert got[-1].shape == (0, onnx.vocab_size)
    texts = [greedy_text(onnx, lp) for lp in got[:2]]
    assert all(texts) and texts == [greedy_text(ref, lp) for lp in want[:2]]
    assert onnx.log_probs([]) == []
    # batching does not change a wave's result
    alone = onnx.log_probs([waves[1]])[0]
    assert alone.shape == got[1].shape and float(np.abs(alone - got[1]).max()) < 1e-4


def test_torch_backend_features_for_the_attention_decoder(torch_backends):
    import torch

    ref = torch_backends[16000]
    feats, lengths = ref.features([np.zeros(16000, np.float32), np.zeros(800, np.float32)])
    assert isinstance(feats, torch.Tensor) and feats.shape == (2, 98, 80) and lengths.tolist() == [98, 3]
    assert feats.device == ref.device


def test_onnx_path_runs_without_torch(exports, torch_backends, tmp_path):
    rate = 8000
    waves = speech(rate)[:2]
    np.save(tmp_path / "wave0.npy", waves[0])
    np.save(tmp_path / "wave1.npy", waves[1])
    code = NO_TORCH + textwrap.dedent(f"""
        import json
        import numpy as np
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("torch was not blocked")
        from hypersp.inference.backends import OnnxBackend, open_exported
        import hypersp.audio.io  # reading and resampling files: torch-free too
        backend = open_exported({str(exports[rate])!r}, threads=1)
        assert type(backend) is OnnxBackend
        waves = [np.load({str(tmp_path / "wave0.npy")!r}), np.load({str(tmp_path / "wave1.npy")!r})]
        lps = backend.log_probs(waves)
        np.save({str(tmp_path / "lp0.npy")!r}, lps[0])
        ids = [[int(t) for t in lp.argmax(-1)] for lp in lps]
        texts = []
        for seq in ids:
            keep = [t for j, t in enumerate(seq) if t and (j == 0 or t != seq[j - 1])]
            texts.append(backend.tokenizer.decode(keep).strip())
        loaded = sorted(m for m, mod in sys.modules.items() if mod is not None)
        print(json.dumps({{"texts": texts, "torch": [m for m in loaded if m.split(".")[0] == "torch"],
                          "omegaconf": "omegaconf" in loaded, "frame_shift_s": backend.frame_shift_s}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["torch"] == [] and out["omegaconf"] is False
    ref = torch_backends[rate]
    want = ref.log_probs(waves)
    assert out["texts"] == [greedy_text(ref, lp) for lp in want] and all(out["texts"])
    assert out["frame_shift_s"] == pytest.approx(ref.frame_shift_s)
    assert float(np.abs(np.load(tmp_path / "lp0.npy") - want[0]).max()) < 1e-3


TOKENIZER_CASES = {
    "char": ["tokenizer.name=char"],
    "english_char": ["tokenizer.name=english_char"],
    "sentencepiece": ["tokenizer.name=sentencepiece", "tokenizer.vocab_size=40"],
}


@pytest.mark.parametrize("name", list(TOKENIZER_CASES))
def test_sidecar_tokenizers_rebuild_without_torch(name, tmp_path):
    """Every built-in tokenizer family comes back from a sidecar with torch blocked, also from a sidecar
    written before the tokenizer's module was recorded."""
    from omegaconf import OmegaConf

    from hypersp.registry import TOKENIZERS

    cfg = OmegaConf.create({"tokenizer": {}})
    for item in TOKENIZER_CASES[name]:
        OmegaConf.update(cfg, item.split("=")[0], item.split("=")[1])
    schema = TOKENIZERS.config_class(name)
    tok_cfg = OmegaConf.merge(OmegaConf.structured(schema), cfg.tokenizer)
    tokenizer = TOKENIZERS.build(tok_cfg)
    texts = ["hello world again", "the quick brown fox"] if name == "english_char" else \
        ["안녕하세요 반갑습니다", "오늘 회의를 시작하겠습니다", "고객님 무엇을 도와드릴까요", "네 알겠습니다 감사합니다"] * 5
    tokenizer.fit(texts)
    config = OmegaConf.to_container(tok_cfg)
    sample = texts[0]
    ids = tokenizer.encode(sample)
    for with_module in (True, False):
        meta = {"format": "hypersp-export", "version": 1,
                "tokenizer": {"config": config, "state": tokenizer.state_dict()}}
        if with_module:
            meta["tokenizer"].update(module=type(tokenizer).__module__, **{"class": type(tokenizer).__qualname__})
        side = tmp_path / f"m{int(with_module)}.onnx.json"
        side.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        code = NO_TORCH + textwrap.dedent(f"""
            import json
            from hypersp.export.sidecar import build_tokenizer, load_sidecar
            tok = build_tokenizer(load_sidecar({str(side)!r}))
            print(json.dumps({{"tokens": tok.tokens, "ids": tok.encode({sample!r}), "text": tok.decode({ids!r}),
                              "cls": type(tok).__name__, "cfg": type(tok.cfg).__name__}}, ensure_ascii=False))
        """)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["tokens"] == tokenizer.tokens and out["ids"] == ids
        assert out["text"] == tokenizer.decode(ids) and out["cls"] == type(tokenizer).__name__
        assert out["cfg"] == schema.__name__
    # the same in-process, no torch involved either way
    assert build_tokenizer(load_sidecar(side)).tokens == tokenizer.tokens


def test_sidecar_errors(tmp_path):
    side = tmp_path / "m.onnx.json"
    side.write_text(json.dumps({"format": "hypersp-export", "version": 1, "tokenizer": {
        "config": {"name": "no_such_tokenizer"}, "state": {}, "module": "no_such_plugin.tok"}}), encoding="utf-8")
    with pytest.raises(ExportError, match="no_such_plugin.tok.*not installed"):
        build_tokenizer(load_sidecar(side))
    with pytest.raises(ExportError, match="model file not found"):
        OnnxBackend(tmp_path / "missing.onnx")
    (tmp_path / "other.onnx").write_bytes(b"")
    with pytest.raises(ExportError, match="sidecar not found"):
        OnnxBackend(tmp_path / "other.onnx")


def test_torchscript_export_through_open_exported(exports, torch_backends, tmp_path):
    from hypersp.export.export import export_checkpoint

    export_checkpoint(MODELS[8000], "torchscript", tmp_path / "m.ts")
    backend = open_exported(tmp_path / "m.ts")
    assert isinstance(backend, TorchScriptBackend) and backend.sample_rate == 8000
    with pytest.raises(ExportError, match="model_format='torchscript'"):
        OnnxBackend(tmp_path / "m.ts")
    waves = speech(8000)
    got, want = backend.log_probs(waves), torch_backends[8000].log_probs(waves)
    for g, w in zip(got, want):
        assert g.shape == w.shape and (not g.size or float(np.abs(g - w).max()) < 1e-3)


def test_hypersp_load_of_an_onnx_export_runs_without_torch(exports, tmp_path):
    """The user-facing path: hypersp.load(FILE.onnx).transcribe(...) with torch (and omegaconf) blocked gives
    the checkpoint's text, words included, through the same decoder registry (ctc_beam here)."""
    import hypersp

    rate = 16000
    wav = tmp_path / "a.wav"
    sf.write(wav, speech(rate)[0], rate, subtype="PCM_16")
    code = NO_TORCH + textwrap.dedent(f"""
        import json
        sys.modules["omegaconf"] = None
        import hypersp
        asr = hypersp.load({str(exports[rate])!r}, decoding="ctc_beam", beam_size=4, threads=1)
        t = asr.transcribe({str(wav)!r})
        print(json.dumps({{"text": t.text, "words": len(t.words),
                          "torch": [m for m in sys.modules if m.split(".")[0] == "torch" and sys.modules[m]]}}))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["torch"] == []
    # the same decoding on the checkpoint: an export carries no LM, while the shipped name brings its default LM
    ref = hypersp.load(MODELS[rate], decoding="ctc_beam", beam_size=4, lm="").transcribe(wav)
    assert out["text"] == ref.text and out["text"] and out["words"] == len(ref.words)
