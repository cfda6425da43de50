"""Runtimes for checkpoints (hypersp.load(..., runtime=...)): the export is made once into the cache
(keyed by the checkpoint's content hash) and gives the same text as PyTorch in the same engine."""
import os

import numpy as np
import pytest

import hypersp
from hypersp.config import ConfigError
from hypersp.export.sidecar import ExportError
from hypersp.inference.backends import OnnxBackend, TorchBackend, TorchScriptBackend
from hypersp.inference.runtimes import export_cache_dir
from hypersp.testing import sine_wave
from hypersp.testing.checkpoints import make_tiny_checkpoint

pytest.importorskip("onnxruntime")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    monkeypatch.setenv("HYPERSP_EXPORT_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.pt")


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("HYPERSP_EXPORT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert export_cache_dir() == tmp_path / "hypersp" / "exports"


def test_export_once_keyed_by_content_hash_then_reused(tiny, cache):
    import torch

    from hypersp.checkpoint import INTEGRITY_KEY

    digest = torch.load(tiny, weights_only=True)[INTEGRITY_KEY]["sha256"]
    asr = hypersp.load(str(tiny), runtime="onnxruntime", threads=1)
    assert isinstance(asr.backend, OnnxBackend)
    (model_file,) = (cache / digest).glob("onnx-*/model.onnx")
    assert asr.backend.model_file == model_file
    stamp = model_file.stat().st_mtime_ns
    again = hypersp.load(str(tiny), runtime="onnxruntime", threads=1)
    assert again.backend.model_file == model_file and model_file.stat().st_mtime_ns == stamp  # not re-exported
    assert not [p for p in (cache / digest).iterdir() if p.name.startswith(".")]  # no temporary left behind

    model_file.write_bytes(model_file.read_bytes()[:-10])  # damaged: its SHA-256 no longer matches the sidecar
    repaired = hypersp.load(str(tiny), runtime="onnxruntime", threads=1)
    assert repaired.backend.model_file == model_file and model_file.stat().st_mtime_ns != stamp


def test_runtimes_give_the_torch_log_probs_and_text_on_the_tiny_model(tiny, cache):
    rng = np.random.default_rng(0)
    waves = [sine_wave(1.3, freq=300.0) + 0.05 * rng.standard_normal(20800).astype(np.float32),
             (0.1 * rng.standard_normal(12000)).astype(np.float32)]
    ref = hypersp.load(str(tiny))
    assert isinstance(ref.backend, TorchBackend)
    for runtime, cls in (("onnxruntime", OnnxBackend), ("torchscript", TorchScriptBackend)):
        asr = hypersp.load(str(tiny), runtime=runtime, threads=1)
        assert isinstance(asr.backend, cls) and asr.decoding == ref.decoding
        for a, b in zip(asr.log_probs(waves), ref.log_probs(waves)):
            np.testing.assert_allclose(a, b, atol=2e-3)
        assert [s.text for s in asr.recognize(waves)] == [s.text for s in ref.recognize(waves)]


def test_bad_runtime_requests_fail_clearly(tiny, cache, tmp_path):
    with pytest.raises(ConfigError, match="unknown runtime 'tensorrt'; choose one of torch, torchscript, onnxruntime"):
        hypersp.load(str(tiny), runtime="tensorrt")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        hypersp.load(str(tiny), runtime="onnxruntime", device="cuda")
    from hypersp.export.export import export_checkpoint

    export_checkpoint(str(tiny), "onnx", tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="is an export for onnxruntime"):
        hypersp.load(str(tmp_path / "m.onnx"), runtime="torchscript")
    assert isinstance(hypersp.load(str(tmp_path / "m.onnx"), runtime="onnxruntime").backend, OnnxBackend)


@pytest.mark.slow
def test_shipped_model_same_text_on_every_runtime(cache):
    """demo_ko_16k with its shipped decoding (ctc_beam + the Korean LM) on synthetic Korean speech."""
    from hypersp.audio.io import resample
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    waves = []
    for i, text in enumerate(["안녕하세요 고객센터입니다", "오늘 회의를 시작하겠습니다", "내일 오후 세 시에 만나요"]):
        x, rate = synth.synthesize(text, variant=("f2", "m1", "m3")[i])
        waves.append(resample(x.astype(np.float32) / 32768.0, rate, 16000))
    engines = {rt: hypersp.load("demo_ko_16k", runtime=rt, threads=1) for rt in ("torch", "onnxruntime", "torchscript")}
    texts = {rt: [s.text for s in asr.recognize(waves)] for rt, asr in engines.items()}
    assert all(texts["torch"]) and texts["onnxruntime"] == texts["torch"] == texts["torchscript"]
    assert len(os.listdir(cache)) == 1  # one checkpoint, one cache folder (both formats inside)
    # its two-pass live stream on onnxruntime: the torch streaming model's steps, the export's finals
    live = engines["onnxruntime"].stream(input_rate=16000)
    x = np.concatenate([np.zeros(8000, np.float32), waves[1], np.zeros(16000, np.float32)])
    events = [e for i in range(0, x.size, 1600) for e in live.accept(x[i:i + 1600])] + live.finish()
    assert " ".join(e["text"] for e in events if e["final"] and e["text"]) == texts["onnxruntime"][1]


@pytest.mark.slow
def test_transcribe_and_eval_commands_take_the_runtime(tiny, cache, tmp_path, capsys):
    import json

    import soundfile as sf

    from hypersp_cli import eval as eval_cli
    from hypersp_cli import transcribe

    wav = tmp_path / "a.wav"
    sf.write(wav, sine_wave(1.0, freq=250.0), 16000)
    out = {}
    for runtime in ("torch", "onnxruntime"):
        assert transcribe.main(["--no-progress", "--checkpoint", str(tiny), "--runtime", runtime, "--format", "jsonl",
                                "--no-words", str(wav)]) == 0
        out[runtime] = json.loads(capsys.readouterr().out.splitlines()[0])["text"]
    assert out["onnxruntime"] == out["torch"]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(wav), "duration": 1.0, "text": "안녕"}) + "\n")
    assert eval_cli.main(["--checkpoint", str(tiny), "--manifest", str(manifest), "--runtime", "torchscript",
                          "--no-progress", "--output-json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["num_utterances"] == 1 and result["runtime"] == "torchscript"


@pytest.mark.slow
def test_server_runs_the_chosen_runtime(tiny, cache, capsys):
    pytest.importorskip("sanic")
    from hypersp.serve.server import ServerContext
    from hypersp_cli import serve

    server = ServerContext.load(str(tiny), runtime="onnxruntime", threads=1)
    assert isinstance(server.recognizer.backend, OnnxBackend)
    assert server.recognizer.decoding == hypersp.load(str(tiny)).decoding
    assert serve.main(["--checkpoint", str(tiny), "--runtime", "torchscript", "--print-config"]) == 0
    assert "decoding:" in capsys.readouterr().out
