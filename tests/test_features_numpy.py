"""The numpy front end (ONNX deployments without torch) gives LogMelFeatures' features and lengths."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from hypersp.audio.config import FeatureConfig
from hypersp.audio.features import LogMelFeatures
from hypersp.audio.features_numpy import NumpyLogMelFeatures

# Largest |numpy - torch| measured below (normalized features): 9e-4 with the default (Slaney) front end,
# 1.6e-3 with kaldi_compatible, in low mel bins a little above the log floor where torch's float32 rfft is the
# noisier side (with both FFTs in float64 it is 2.5e-4). Unnormalized log-mel: <= 1.2e-4. torch's float32 FFT
# takes a different code path on another CPU: 2.7e-3 (8k_kaldi) on a second AMD EPYC VM, hence the margin. On
# features of unit variance that is far below anything a model can tell apart.
TOL = 5e-3

# Every option LogMelFeatures supports, at both rates.
CONFIGS = {
    "16k": FeatureConfig(),
    "16k_kaldi": FeatureConfig(kaldi_compatible=True),
    "16k_raw": FeatureConfig(normalize="none"),
    "16k_cumulative": FeatureConfig(normalize="cumulative"),
    "16k_kaldi_raw_nopre": FeatureConfig(kaldi_compatible=True, normalize="none", preemphasis=0.0),
    "16k_nopre": FeatureConfig(preemphasis=0.0),
    "16k_fft1024_band": FeatureConfig(n_fft=1024, n_mels=64, f_min=60.0, f_max=7600.0, log_floor=1e-8),
    "16k_kaldi_negfmax_win": FeatureConfig(kaldi_compatible=True, f_min=20.0, f_max=-400.0, win_ms=32.0, hop_ms=12.5,
                                           n_mels=40),
    "8k": FeatureConfig(sample_rate=8000, n_mels=64, f_max=4000.0),
    "8k_kaldi": FeatureConfig(sample_rate=8000, n_mels=40, kaldi_compatible=True),
    "8k_raw_floor": FeatureConfig(sample_rate=8000, n_mels=64, normalize="none", log_floor=1e-4),
}


def speechlike_batch(rate: int, seed: int = 0):
    """Noise and swept, amplitude-modulated tones (with a -60 dB noise floor) of several lengths, one padded
    batch; rubbish in the padding of one row. Lengths cover 1 sample, under one window and several seconds."""
    rng = np.random.default_rng(seed)
    lengths = [rate, rate // 3 + 17, rate * 25 // 1000 - 1, 1, 2 * rate + 5, rate // 2]
    waves = []
    for i, n in enumerate(lengths):
        t = np.arange(n) / rate
        if i % 2:
            w = 0.3 * np.sin(2 * np.pi * (220 + 130 * i + 400 * t) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            w = w + 1e-3 * rng.standard_normal(n)
        else:
            w = (0.02 + 0.1 * i) * rng.standard_normal(n)
        waves.append(w.astype(np.float32))
    x = np.zeros((len(waves), max(lengths)), np.float32)
    for i, w in enumerate(waves):
        x[i, : len(w)] = w
    x[2, lengths[2]:] = 0.7
    return x, np.array(lengths, dtype=np.int64)


def both(cfg, x, lengths):
    with torch.no_grad():
        ft, lt = LogMelFeatures(cfg).eval()(torch.from_numpy(x), torch.from_numpy(lengths))
    fn, ln = NumpyLogMelFeatures(cfg)(x, lengths)
    return ft.numpy(), lt.numpy(), fn, ln


@pytest.mark.parametrize("name", list(CONFIGS))
def test_numpy_features_match_torch(name):
    cfg = CONFIGS[name]
    x, lengths = speechlike_batch(cfg.sample_rate)
    ft, lt, fn, ln = both(cfg, x, lengths)
    assert fn.dtype == np.float32 and ln.dtype == np.int64
    assert fn.shape == ft.shape and ln.tolist() == lt.tolist()
    ext = NumpyLogMelFeatures(cfg)
    assert ln.tolist() == [ext.num_frames(int(n)) for n in lengths] == ext.num_frames(lengths).tolist()
    diff = float(np.abs(fn - ft).max())
    assert diff < TOL, (name, diff)
    for b, n in enumerate(ln.tolist()):
        assert np.all(fn[b, n:] == 0)
    if cfg.normalize in ("per_utterance", "cumulative"):  # a real check, not two all-zero arrays
        assert np.abs(fn[0, : ln[0]]).mean() > 0.5


@pytest.mark.parametrize("rate", [16000, 8000])
def test_attributes_and_edge_lengths(rate):
    cfg = FeatureConfig(sample_rate=rate, n_mels=64 if rate == 8000 else 80)
    ext, ref = NumpyLogMelFeatures(cfg), LogMelFeatures(cfg)
    assert (ext.hop_length, ext.win_length, ext.n_fft, ext.num_features) == \
        (ref.hop_length, ref.win_length, ref.n_fft, ref.num_features)
    np.testing.assert_allclose(ext.mel_fb, ref.mel_fb.numpy())
    np.testing.assert_allclose(ext.window, ref.window.numpy(), atol=1e-7)
    for n in (0, 1, ref.win_length - 1, ref.win_length, ref.win_length + ref.hop_length, rate + 37):
        assert ext.num_frames(n) == ref.num_frames(n)
    # a batch shorter than a window, lengths defaulting to the full row
    feats, lens = ext(np.zeros((2, 10), np.float32))
    assert feats.shape == (2, 1, cfg.n_mels) and lens.tolist() == [1, 1]
    feats, lens = ext(np.zeros((1, 100), np.float32), np.array([0]))
    assert lens.tolist() == [0] and np.all(feats == 0)
    with pytest.raises(ValueError, match=r"\(B, S\)"):
        ext(np.zeros(100, np.float32))


@pytest.mark.parametrize("kaldi", [False, True])
def test_pure_tones_and_digital_silence(kaldi):
    """Bins that are constant over an utterance (digital silence, bins at the log floor) normalize to exactly 0
    in both; unnormalized log-mel of noiseless tones agrees wherever the power is well above the floor."""
    rate = 16000
    t = np.arange(rate) / rate
    x = np.stack([np.zeros(rate), 0.5 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 3000 * t)])
    x = x.astype(np.float32)
    lengths = np.array([rate, rate, rate // 2])
    ft, lt, fn, ln = both(FeatureConfig(kaldi_compatible=kaldi), x, lengths)
    assert ln.tolist() == lt.tolist()
    assert np.all(fn[0] == 0) and np.all(ft[0] == 0)
    raw_t, _, raw_n, _ = both(FeatureConfig(kaldi_compatible=kaldi, normalize="none"), x, lengths)
    loud = raw_t > np.log(1e-6) + np.log(1e3)
    assert loud[1:].any()
    assert float(np.abs(raw_n - raw_t)[loud].max()) < 1e-3


def test_features_numpy_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from hypersp.audio.features_numpy import NumpyLogMelFeatures\n"
            "from hypersp.audio.config import FeatureConfig\n"
            "import numpy as np\n"
            "f, n = NumpyLogMelFeatures(FeatureConfig(sample_rate=8000, n_mels=64))(np.zeros((1, 8000), np.float32), "
            "np.array([8000]))\n"
            "assert f.shape == (1, 98, 64) and n.tolist() == [98]\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
