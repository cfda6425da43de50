"""The Kaldi fbank front end (kaldi_fbank_features: centred frames, snip_edges=False) in torch and numpy,
and its parity with kaldi-native-fbank, the library sherpa-onnx computes features with."""
import dataclasses

import numpy as np
import pytest
import torch

from hypersp.audio.config import FeatureConfig, kaldi_fbank_features
from hypersp.audio.features import LogMelFeatures
from hypersp.audio.features_numpy import NumpyLogMelFeatures, reflect_indices


def speechlike(n: int, rate: int, seed: int) -> np.ndarray:
    """A swept, amplitude-modulated tone over a little noise: energy in many mel bins, never silent."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    w = 0.3 * np.sin(2 * np.pi * (150 + 300 * seed + 900 * t) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (w + 0.01 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("rate,n_mels", [(16000, 80), (8000, 64)])
def test_centred_frame_counts(rate, n_mels):
    cfg = kaldi_fbank_features(rate, n_mels)
    fe, fn = LogMelFeatures(cfg).eval(), NumpyLogMelFeatures(cfg)
    hop = rate // 100
    for n in (0, 1, hop // 2 - 1, hop // 2, hop, hop + hop // 2, fe.win_length, rate, rate + 37):
        expected = (n + hop // 2) // hop  # Kaldi's snip_edges=false: one frame per hop, rounded
        assert fe.num_frames(n) == fn.num_frames(n) == expected
        assert fe.num_frames(torch.tensor([n])).tolist() == fn.num_frames(np.array([n])).tolist() == [expected]
        if n:
            _, lens = fe(torch.from_numpy(speechlike(n, rate, 0))[None])
            _, nlens = fn(speechlike(n, rate, 0)[None])
            assert lens.tolist() == nlens.tolist() == [expected]


def test_reflection_is_kaldis_edge_rule():
    # Kaldi: s < 0 -> -s - 1, s >= S -> 2S - 1 - s, repeated until inside.
    got = reflect_indices(np.array([-3, -2, -1, 0, 4, 5, 6, 7, 12]), np.array([5, 1]))
    assert got[0].tolist() == [2, 1, 0, 0, 4, 4, 3, 2, 2]
    assert got[1].tolist() == [0] * 9


@pytest.mark.parametrize("normalize", ["per_utterance", "none"])
def test_padded_batch_equals_single_and_numpy_equals_torch(normalize):
    cfg = dataclasses.replace(kaldi_fbank_features(), normalize=normalize)
    fe, fn = LogMelFeatures(cfg).eval(), NumpyLogMelFeatures(cfg)
    waves = [speechlike(n, 16000, i) for i, n in enumerate([16000, 5003, 12345, 300, 70])]
    x = np.zeros((len(waves), 16000), np.float32)
    for i, w in enumerate(waves):
        x[i, : len(w)] = w
    x[1, 5003:] = 0.7  # rubbish in the padding must not reach the reflected edge frames
    lengths = np.array([len(w) for w in waves])
    with torch.no_grad():
        feats, flens = fe(torch.from_numpy(x), torch.from_numpy(lengths))
    nfeats, nlens = fn(x, lengths)
    assert flens.tolist() == nlens.tolist() == [100, 31, 77, 2, 0]
    np.testing.assert_allclose(nfeats, feats.numpy(), atol=2e-3)
    for i, w in enumerate(waves):
        n = int(flens[i])
        single, _ = fe(torch.from_numpy(w)[None])
        torch.testing.assert_close(feats[i, :n], single[0, :n], atol=1e-4, rtol=1e-4)
        assert torch.all(feats[i, n:] == 0)


@pytest.mark.parametrize("rate,n_mels", [(16000, 80), (8000, 64)])
def test_matches_kaldi_native_fbank(rate, n_mels):
    knf = pytest.importorskip("kaldi_native_fbank")
    opts = knf.FbankOptions()  # its defaults, as sherpa-onnx uses them for a plain CTC model, dither off
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = rate
    opts.frame_opts.snip_edges = False
    opts.mel_opts.num_bins = n_mels
    opts.mel_opts.low_freq = 20.0
    opts.mel_opts.high_freq = -400.0
    cfg = dataclasses.replace(kaldi_fbank_features(rate, n_mels), normalize="none")
    fe, fn = LogMelFeatures(cfg).eval(), NumpyLogMelFeatures(cfg)
    for seed, n in enumerate((rate * 3 + 11, rate // 4, 250)):
        wave = speechlike(n, rate, seed)
        ref = knf.OnlineFbank(opts)
        ref.accept_waveform(rate, wave.tolist())
        ref.input_finished()
        expected = np.array([ref.get_frame(i) for i in range(ref.num_frames_ready)])
        with torch.no_grad():
            got, _ = fe(torch.from_numpy(wave)[None])
        got_np, _ = fn(wave[None])
        assert got.shape[1] == got_np.shape[1] == len(expected)
        # Both sides use float32 FFTs: measured <= 2.5e-4 on 4.8 s of eSpeak speech, 6.4e-4 here, 1.6e-3 (1.1e-4
        # relative) in 8 kHz bins near log energy -14 where little energy is left.
        np.testing.assert_allclose(got[0].numpy(), expected, atol=1e-3, rtol=2e-4)
        np.testing.assert_allclose(got_np[0], expected, atol=1e-3, rtol=2e-4)


def test_default_front_end_unchanged():
    assert FeatureConfig().snip_edges is True
    fe = LogMelFeatures(FeatureConfig()).eval()
    assert fe.num_frames(16000) == 1 + (16000 - 400) // 160
