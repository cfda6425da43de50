"""Export to ONNX / TorchScript: parity with PyTorch for every CTC family, the sidecar, the CLI,
and the engine over an exported model giving the PyTorch model's text."""
import json

import numpy as np
import pytest
import torch

from hypersp.audio.io import resample
from hypersp.config import compose
from hypersp.export import export_checkpoint, load_sidecar, sidecar_path
from hypersp.export.export import ExportError, export_components
from hypersp.inference.backends import OnnxBackend, TorchBackend, open_exported
from hypersp.inference.recognizer import Recognizer
from hypersp.testing import TINY_JASPER
from hypersp.checkpoint import Components, build_model, build_tokenizer_and_task

# Small versions of each family, laid out as the presets (same code paths, fewer channels/layers).
FAMILIES = {
    "quartznet": ("quartznet_small", TINY_JASPER),
    "jasper_dr": ("jasper10x5dr", [
        "model.blocks=[{filters: 32, kernel: 11, stride: 2},"
        " {filters: 32, repeat: 2, kernel: 7, residual: true}, {filters: 48, repeat: 2, kernel: 7, residual: true},"
        " {filters: 64, kernel: 1}]"]),
    "rnn": ("rnn_small", ["model.hidden=32", "model.layers=2"]),
    "rnn_conv2d": ("rnn_small", ["model.hidden=24", "model.layers=1", "model.subsampling=conv2d",
                                 "model.subsampling_dim=48", "model.bidirectional=false"]),
    "conformer": ("conformer_tiny", ["model.d_model=32", "model.n_layers=2", "model.n_heads=2",
                                     "model.conv_kernel_size=7", "model.subsampling_conv_channels=8"]),
    "transformer": ("transformer_tiny", ["model.d_model=32", "model.encoder_layers=2", "model.decoder_layers=1",
                                         "model.n_heads=2", "model.ff_dim=64", "model.subsampling_conv_channels=8"]),
}
TEXTS = ["안녕하세요 반갑습니다", "오늘 회의를 시작하겠습니다", "고객님 무엇을 도와드릴까요"]


def build(family: str, telephone: bool = False) -> Components:
    arch, overrides = FAMILIES[family]
    torch.manual_seed(0)
    cfg = compose(task="synthetic_tel" if telephone else "synthetic", arch=arch,
                  overrides=list(overrides) + ["task.features.n_mels=40"])
    tokenizer, task = build_tokenizer_and_task(cfg)
    tokenizer.fit(TEXTS)
    model = build_model(cfg, task).eval()
    with torch.no_grad():  # random BN statistics, so the outputs are not all-blank by accident
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return Components(cfg, tokenizer, task, model)


def batches(input_dim):
    g = torch.Generator().manual_seed(1)
    yield torch.randn(1, 97, input_dim, generator=g), torch.tensor([97])
    yield torch.randn(3, 250, input_dim, generator=g), torch.tensor([180, 250, 33])


def tone_utterance(rate: int) -> np.ndarray:
    """1.6 s of gated tones with a frequency sweep: 'speech-like' energy the VAD keeps as one segment."""
    t = np.arange(int(1.6 * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (np.sin(2 * np.pi * 4 * t) > -0.3)
    return (x + 0.01 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.slow
def test_export_matches_pytorch(family, tmp_path):
    pytest.importorskip("onnxruntime")
    comp = build(family)
    F = comp.task.input_dim
    runs = {}
    for fmt, name in (("onnx", "m.onnx"), ("torchscript", "m.ts")):
        meta = export_components(comp, fmt, tmp_path / name)
        assert meta["subsampling_factor"] == comp.model.subsampling_factor and meta["input_dim"] == F
        runs[fmt] = open_exported(tmp_path / name, threads=1).run
    for feats, lengths in batches(F):
        with torch.no_grad():
            ref, ref_len = comp.model(feats, lengths)
        for fmt, run in runs.items():
            out, out_len = run(feats.numpy(), lengths.numpy())
            assert out.shape == tuple(ref.shape), (fmt, out.shape, ref.shape)
            assert out_len.tolist() == ref_len.tolist(), fmt
            for b, n in enumerate(ref_len.tolist()):  # valid frames only: padded ones are undefined
                diff = float(np.abs(out[b, :n] - ref[b, :n].numpy()).max())
                assert diff < 1e-3, (family, fmt, tuple(feats.shape), b, diff)


@pytest.mark.parametrize("family,telephone", [("quartznet", False), ("rnn", True)])
def test_onnx_recognizer_gives_the_pytorch_text(family, telephone, tmp_path):
    pytest.importorskip("onnxruntime")
    comp = build(family, telephone)
    export_components(comp, "onnx", tmp_path / "m.onnx", source="memory")
    rec = Recognizer(OnnxBackend(tmp_path / "m.onnx", threads=1))
    ref = Recognizer(TorchBackend(comp.model, comp.task))
    assert rec.sample_rate == ref.sample_rate == (8000 if telephone else 16000)
    assert rec.frame_shift_s == pytest.approx(ref.frame_shift_s)
    wave = tone_utterance(rec.sample_rate)
    expected = [s.text for s in ref.recognize([wave, wave[: rec.sample_rate // 2]])]
    assert expected[0]  # a random model still emits symbols: the comparison below is not trivially ""
    assert [s.text for s in rec.recognize([wave, wave[: rec.sample_rate // 2]])] == expected
    # the whole-recording path (resampling + VAD) agrees too, from another input rate
    wave44 = resample(wave, rec.sample_rate, 44100)
    assert rec.transcribe(wave44, sample_rate=44100).text == ref.transcribe(wave44, sample_rate=44100).text


def test_sidecar_rebuilds_tokenizer_and_features(tmp_path):
    comp = build("quartznet", telephone=True)
    export_components(comp, "torchscript", tmp_path / "m.ts")
    meta = load_sidecar(tmp_path / "m.ts")
    assert sidecar_path(tmp_path / "m.ts").name == "m.ts.json"
    assert meta["sample_rate"] == 8000 and meta["features"]["sample_rate"] == 8000
    assert meta["vocab_size"] == comp.tokenizer.vocab_size and meta["blank_id"] == 0
    rec = Recognizer(open_exported(tmp_path / "m.ts"))  # the TorchScript export runs through the same engine
    ids = comp.tokenizer.encode(TEXTS[1])
    assert rec.decode_text(ids) == comp.tokenizer.decode(ids).strip() and rec.decode_text(ids)
    with pytest.raises(ExportError, match="sidecar not found"):
        load_sidecar(tmp_path / "other.onnx")
    with pytest.raises(ExportError, match="unknown export format"):
        export_components(comp, "tflite", tmp_path / "m.tflite")


@pytest.mark.slow
def test_cli_exports_a_checkpoint(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from hypersp.testing import make_tiny_checkpoint
    from hypersp_cli.export import main

    ckpt = make_tiny_checkpoint(tmp_path / "tiny.pt")
    assert main(["--checkpoint", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "x.onnx"), "--verify"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["model"] == "jasper" and line["max_abs_diff"] < 1e-3
    assert (tmp_path / "x.onnx").is_file() and (tmp_path / "x.onnx.json").is_file()
    meta = export_checkpoint(ckpt, "torchscript", tmp_path / "x.ts")
    assert meta["source_checkpoint"] == str(ckpt) and meta["model_format"] == "torchscript"
    assert main(["--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "y.onnx")]) == 2
    assert "missing.pt" in capsys.readouterr().err
