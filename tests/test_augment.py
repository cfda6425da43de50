import numpy as np
import pytest
import torch

from hypersp.audio.augment import (
    SpecAugment,
    add_noise,
    band_limit,
    mu_law_decode,
    mu_law_encode,
    speed_perturb,
    telephone_channel,
)
from hypersp.audio.config import SpecAugmentConfig


def sine(freq, rate, seconds=1.0, amp=0.3):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def band_energy(x, rate, lo, hi):
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    return spec[(f >= lo) & (f < hi)].sum()


def test_specaugment_masks_only_valid_frames():
    aug = SpecAugment(SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=3, time_width=0.2, time_width_max=40)).train()
    feats = torch.ones(3, 200, 40)
    lengths = torch.tensor([200, 120, 50])
    feats[1, 120:] = 0
    feats[2, 50:] = 0
    torch.manual_seed(0)
    out = aug(feats, lengths)
    assert out.shape == feats.shape
    for b, n in enumerate(lengths.tolist()):
        # nothing changes outside the valid frames
        assert torch.equal(out[b, n:], feats[b, n:])
        masked = out[b, :n] == 0
        assert masked.any()
        # time masks are whole frames, at most 3 * 0.2 * n frames in total
        fully = masked.all(dim=1)
        assert fully.sum() <= 3 * int(0.2 * n)  # only time masks can cover every bin of a frame
        # frequency masks are whole bins across valid frames
        bins = masked.all(dim=0)
        assert bins.sum() <= 20
    # deterministic under torch.manual_seed
    torch.manual_seed(0)
    again = aug(feats, lengths)
    assert torch.equal(out, again)


def test_specaugment_identity_in_eval_and_when_disabled():
    feats = torch.randn(2, 50, 20)
    lengths = torch.tensor([50, 30])
    assert torch.equal(SpecAugment(SpecAugmentConfig()).eval()(feats, lengths), feats)
    assert torch.equal(SpecAugment(SpecAugmentConfig(enabled=False)).train()(feats, lengths), feats)


def test_specaugment_mask_count_statistics():
    aug = SpecAugment(SpecAugmentConfig(freq_masks=1, freq_width=8, time_masks=0)).train()
    torch.manual_seed(1)
    widths = []
    for _ in range(200):
        out = aug(torch.ones(1, 10, 80), torch.tensor([10]))
        widths.append(int((out[0] == 0).all(dim=0).sum()))
    assert min(widths) == 0 and max(widths) == 8
    assert 3.0 < np.mean(widths) < 5.0  # uniform on 0..8


def test_speed_perturb_length_and_pitch():
    rate = 16000
    x = sine(500, rate)
    y = speed_perturb(x, rate, 1.1)
    assert abs(len(y) - round(len(x) / 1.1)) <= 2
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert abs(np.argmax(spec) * rate / len(y) - 550) < 5
    assert speed_perturb(x, rate, 1.0) is not None and len(speed_perturb(x, rate, 0.9)) == pytest.approx(len(x) / 0.9, abs=2)
    with pytest.raises(ValueError):
        speed_perturb(x, rate, 0)


def test_add_noise_snr():
    rng = np.random.default_rng(0)
    x = sine(440, 16000)
    noise = rng.standard_normal(5000).astype(np.float32)  # shorter: tiled
    for snr in (0.0, 10.0, 20.0):
        y = add_noise(x, noise, snr, rng=rng)
        assert y.shape == x.shape and y.dtype == np.float32
        n = y - x
        measured = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(n.astype(np.float64) ** 2))
        assert measured == pytest.approx(snr, abs=0.2)
    np.testing.assert_array_equal(add_noise(x, np.zeros(10, np.float32), 10), x)


def test_mu_law_round_trip_error_small():
    x = np.linspace(-1, 1, 1001).astype(np.float32)
    codes = mu_law_encode(x)
    assert codes.dtype == np.uint8
    y = mu_law_decode(codes)
    assert np.max(np.abs(y - x)) < 0.025  # half a step at full scale (8-bit companding)
    small = np.linspace(-0.01, 0.01, 101)
    assert np.max(np.abs(mu_law_decode(mu_law_encode(small)) - small)) < 5e-4  # fine steps near zero


@pytest.mark.parametrize("rate", [16000, 44100, 8000])
def test_telephone_channel_rate_and_band(rate):
    seconds = 1.0
    low, mid, high = sine(100, rate, amp=0.2), sine(1000, rate, amp=0.2), sine(3800, rate, amp=0.2)
    x = low + mid + high
    if rate > 10000:
        x = x + sine(6000, rate, amp=0.2)
    y = telephone_channel(x, rate)
    assert y.dtype == np.float32
    assert abs(len(y) - 8000 * seconds) <= 1
    e_mid = band_energy(y, 8000, 900, 1100)
    assert band_energy(y, 8000, 50, 150) < 1e-3 * e_mid  # < -30 dB below 300 Hz
    assert band_energy(y, 8000, 3700, 3900) < 1e-3 * e_mid  # 3.8 kHz cut (and 6 kHz cannot exist at 8 kHz)
    # the passband survives
    assert band_energy(y, 8000, 900, 1100) == pytest.approx(band_energy(sine(1000, 8000, amp=0.2), 8000, 900, 1100), rel=0.1)


def test_band_limit_kills_energy_above_4khz_at_16k():
    rate = 16000
    x = sine(1000, rate) + sine(5000, rate) + sine(120, rate)
    y = band_limit(x, rate, 300, 3400)
    assert band_energy(y, rate, 4000, 8000) < 1e-6 * band_energy(y, rate, 900, 1100)
    assert band_energy(y, rate, 0, 250) < 1e-6 * band_energy(y, rate, 900, 1100)
