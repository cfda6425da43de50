import numpy as np
import pytest
import torch

from hypersp.audio.config import FeatureConfig
from hypersp.audio.features import LogMelFeatures, compute_features, kaldi_mel_filterbank, slaney_mel_filterbank


def waves(lengths, rate=16000, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i, n in enumerate(lengths):
        t = torch.arange(n) / rate
        out.append(0.3 * torch.sin(2 * torch.pi * (200 + 150 * i) * t) + 0.05 * torch.randn(n, generator=g))
    return out


def pad(batch):
    lengths = torch.tensor([len(w) for w in batch])
    x = torch.zeros(len(batch), int(lengths.max()))
    for i, w in enumerate(batch):
        x[i, : len(w)] = w
    return x, lengths


@pytest.mark.parametrize("kaldi", [False, True])
@pytest.mark.parametrize("rate,n_mels", [(16000, 80), (8000, 64)])
def test_shapes_and_num_frames(kaldi, rate, n_mels):
    cfg = FeatureConfig(sample_rate=rate, n_mels=n_mels, kaldi_compatible=kaldi)
    fe = LogMelFeatures(cfg).eval()
    win, hop = rate * 25 // 1000, rate // 100
    assert (fe.win_length, fe.hop_length) == (win, hop)
    assert fe.n_fft == (512 if rate == 16000 else 256)
    for n in (1, win - 1, win, win + hop - 1, win + hop, rate, rate + 37):
        feats, lens = fe(torch.randn(1, n) * 0.1, torch.tensor([n]))
        expected = 1 + max(n - win, 0) // hop
        assert feats.shape == (1, expected, n_mels)
        assert lens.tolist() == [expected] == [fe.num_frames(n)]
        assert fe.num_frames(torch.tensor([n])).tolist() == [expected]
    assert fe.num_frames(0) == 0 and fe.num_frames(torch.tensor([0])).tolist() == [0]


@pytest.mark.parametrize("kaldi", [False, True])
def test_batch_padding_equals_single_utterance(kaldi):
    cfg = FeatureConfig(kaldi_compatible=kaldi)
    fe = LogMelFeatures(cfg).eval()
    batch = waves([16000, 5000, 12345, 300])
    x, lengths = pad(batch)
    x[1, 5000:] = 0.7  # garbage in the padding must not leak into valid frames
    feats, flens = fe(x, lengths)
    for i, w in enumerate(batch):
        single, slen = fe(w[None], torch.tensor([len(w)]))
        assert flens[i] == slen[0]
        torch.testing.assert_close(feats[i, : flens[i]], single[0], atol=1e-4, rtol=1e-4)
        assert torch.all(feats[i, flens[i]:] == 0)
    torch.testing.assert_close(compute_features(batch[2].numpy(), cfg), feats[2, : flens[2]], atol=1e-4, rtol=1e-4)


def test_normalization_statistics_on_valid_frames():
    fe = LogMelFeatures(FeatureConfig()).eval()
    x, lengths = pad(waves([16000, 8000]))
    feats, flens = fe(x, lengths)
    for i in range(2):
        valid = feats[i, : flens[i]]
        assert valid.mean(dim=0).abs().max() < 1e-4
        assert (valid.std(dim=0, unbiased=False) - 1).abs().max() < 1e-3
    raw = LogMelFeatures(FeatureConfig(normalize="none")).eval()
    rfeats, _ = raw(x, lengths)
    assert rfeats[0].mean().abs() > 1.0  # log-mel without normalization is far from 0
    assert torch.all(rfeats[1, flens[1]:] == 0)


def test_8khz_tone_lands_in_right_band():
    cfg = FeatureConfig(sample_rate=8000, n_mels=64, f_max=4000)
    rate = 8000
    t = torch.arange(rate) / rate
    feats = compute_features(0.5 * torch.sin(2 * torch.pi * 1000 * t), FeatureConfig(sample_rate=8000, n_mels=64, normalize="none"))
    assert feats.shape == (98, 64)
    fb = slaney_mel_filterbank(8000, 256, 64, 0.0, 4000.0)
    bin_1k = 1000 * 256 // 8000
    assert int(feats.mean(0).argmax()) == int(np.argmax(fb[bin_1k]))
    assert LogMelFeatures(cfg).mel_fb.shape == (129, 64)


def test_dither_only_in_training():
    fe = LogMelFeatures(FeatureConfig(dither=1e-3))
    x = torch.zeros(1, 4000)
    x[0, 1000:2000] = 0.1
    n = torch.tensor([4000])
    fe.eval()
    a, _ = fe(x, n)
    b, _ = fe(x, n)
    assert torch.equal(a, b)
    fe.train()
    c, _ = fe(x, n)
    assert not torch.allclose(a, c)


def test_filterbanks_are_sane():
    for fb in (slaney_mel_filterbank(16000, 512, 80, 0, 8000), kaldi_mel_filterbank(16000, 512, 80, 20, 8000)):
        assert fb.shape == (257, 80)
        assert np.all(fb >= 0) and np.all(fb.sum(axis=0) > 0)
        centres = fb.argmax(axis=0)
        assert np.all(np.diff(centres) >= 0)
    kaldi = kaldi_mel_filterbank(16000, 512, 80, 20, 8000)
    assert np.all(kaldi[-1] == 0) and kaldi.max() <= 1.0  # Nyquist bin unused, peak weight <= 1


def test_config_errors():
    with pytest.raises(ValueError, match="n_fft"):
        LogMelFeatures(FeatureConfig(n_fft=256))
    with pytest.raises(ValueError, match="f_max"):
        LogMelFeatures(FeatureConfig(sample_rate=8000, f_max=6000))
    with pytest.raises(ValueError, match="normalize"):
        LogMelFeatures(FeatureConfig(normalize="global"))
    with pytest.warns(UserWarning, match="empty"):
        LogMelFeatures(FeatureConfig(sample_rate=8000, n_mels=128, kaldi_compatible=True))
