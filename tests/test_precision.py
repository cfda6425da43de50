"""Inference precision (hypersp.load(..., precision=...), --precision of eval/transcribe/serve): the PyTorch
model's forward pass runs under autocast to bf16 while features and log-probs stay float32; requests that
cannot run fail before any work with a message that says what to use instead."""
import json
import logging

import numpy as np
import pytest
import torch

import hypersp
from hypersp.config import ConfigError
from hypersp.inference import runtimes
from hypersp.testing import sine_wave
from hypersp.testing.checkpoints import make_tiny_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.pt")


def _waves():
    rng = np.random.default_rng(0)
    return [sine_wave(1.3, freq=300.0) + 0.05 * rng.standard_normal(20800).astype(np.float32),
            (0.1 * rng.standard_normal(12000)).astype(np.float32)]


def _layer_output_dtypes(model, kind):
    """Record the output dtype of every ``kind`` layer of ``model`` (forward hooks); returns the list."""
    seen = []
    for module in model.modules():
        if isinstance(module, kind):
            module.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    return seen


def test_bf16_runs_the_model_in_bf16_and_returns_float32_log_probs_close_to_fp32(tiny):
    waves = _waves()
    ref = hypersp.load(str(tiny))
    asr = hypersp.load(str(tiny), precision="bf16")
    assert (ref.backend.precision, asr.backend.precision) == ("fp32", "bf16")
    seen = _layer_output_dtypes(asr.backend.model, torch.nn.Conv1d)
    got, want = asr.log_probs(waves), ref.log_probs(waves)
    assert seen and set(seen) == {torch.bfloat16}  # the convolutions ran in bf16
    for a, b in zip(got, want):
        assert a.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(np.exp(a).sum(-1), 1.0, atol=1e-3)  # still distributions
        assert np.abs(a - b).max() < 0.25  # bf16 keeps ~3 significant digits through the layers
    fp32_seen = _layer_output_dtypes(ref.backend.model, torch.nn.Conv1d)
    ref.log_probs(waves)
    assert set(fp32_seen) == {torch.float32}


def test_attention_decoding_runs_under_the_precision(tmp_path):
    tiny_tf = make_tiny_checkpoint(tmp_path / "tf.pt", arch="transformer_tiny")
    asr = hypersp.load(str(tiny_tf), precision="bf16", decoding="attention", beam_size=2)
    seen = _layer_output_dtypes(asr.backend.model, torch.nn.Linear)
    segments = asr.recognize(_waves())
    assert len(segments) == 2 and torch.bfloat16 in seen


def test_precision_requests_that_cannot_run_fail_before_any_work(tiny, tmp_path):
    with pytest.raises(ConfigError, match="unknown precision 'int8'; choose one of fp32, bf16, fp16"):
        hypersp.load(str(tiny), precision="int8")
    with pytest.raises(ConfigError, match="'fp16' needs CUDA; on the CPU use 'bf16' or 'fp32'"):
        hypersp.load(str(tiny), precision="fp16")
    with pytest.raises(ConfigError, match="runtime 'onnxruntime' runs float32"):
        hypersp.load(str(tiny), precision="bf16", runtime="onnxruntime")
    from hypersp.export.export import export_checkpoint
    from hypersp.export.sidecar import ExportError

    export_checkpoint(str(tiny), "torchscript", tmp_path / "m.ts")
    with pytest.raises(ExportError, match="is an export: it runs float32"):
        hypersp.load(str(tmp_path / "m.ts"), precision="bf16")


@pytest.mark.parametrize("flags, native, warned", [("flags : fpu avx512f amx_bf16 amx_tile", True, False),
                                                   ("flags : fpu avx2 fma", False, True)])
def test_bf16_on_a_cpu_without_bf16_instructions_warns(tiny, monkeypatch, tmp_path, caplog, flags, native, warned):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor : 0\n{flags}\n")
    real_path = runtimes.Path
    monkeypatch.setattr(runtimes, "Path", lambda p: real_path(cpuinfo) if p == "/proc/cpuinfo" else real_path(p))
    assert runtimes.cpu_has_native_bf16() is native
    with caplog.at_level(logging.WARNING, logger="hypersp.inference.backends"):
        hypersp.load(str(tiny), precision="bf16")
    assert ("no bf16 matrix instructions" in caplog.text) is warned


def test_eval_and_serve_take_the_precision(tiny, tmp_path):
    pytest.importorskip("soundfile")
    import soundfile as sf

    from hypersp_cli import eval as eval_cli

    wav = tmp_path / "a.wav"
    sf.write(wav, sine_wave(1.0, freq=250.0), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(wav), "duration": 1.0, "text": "안녕"}) + "\n")
    assert eval_cli.main(["--checkpoint", str(tiny), "--manifest", str(manifest), "--precision", "bf16",
                          "--no-progress", "--output-json", str(tmp_path / "r.json")]) == 0
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["num_utterances"] == 1 and result["precision"] == "bf16"

    pytest.importorskip("sanic")
    from hypersp.serve.server import ServerContext

    server = ServerContext.load(str(tiny), precision="bf16")
    assert server.recognizer.backend.precision == "bf16"
