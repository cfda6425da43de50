"""Log-mel filterbank features in plain torch (no torchaudio).

Framing convention (Kaldi's ``snip_edges=True``, no centre padding): frame ``t`` covers
samples ``[t * hop, t * hop + win)``, so an utterance of ``S`` samples has

    T = 1 + (S - win) // hop     for S >= win
    T = 1                        for 0 < S < win   (the signal is zero-padded to one window)
    T = 0                        for S == 0

(:meth:`LogMelFeatures.num_frames`). Valid frames never read a padded sample, so the frames
of an utterance are the same whether it is computed alone or zero-padded inside a batch.

Pipeline per utterance: dither (training only) -> pre-emphasis -> frames -> window -> power
spectrum -> mel filterbank -> log(max(x, log_floor)) -> per-utterance mean/variance
normalization over valid frames (per mel bin; a bin constant over the utterance becomes 0)
-> padded frames set to 0.

With ``FeatureConfig.snip_edges = False`` (Kaldi's ``--snip-edges=false``, kaldi-native-fbank's and
so sherpa-onnx's default) frames are centred instead: ``T = (S + hop // 2) // hop`` and frame ``t``
covers ``[t * hop + hop // 2 - win // 2, ...+ win)``, positions outside the utterance reflected
into it (``-1 -> 0``, ``S -> S - 1``), again per utterance inside a padded batch.

Two flavours, chosen by ``FeatureConfig.kaldi_compatible``:

- default: pre-emphasis over the whole waveform, periodic Hann window, Slaney mel scale with
  Slaney area normalization (librosa's / NeMo's defaults);
- Kaldi: per-frame DC removal and pre-emphasis, "povey" window (Hann^0.85), Kaldi mel scale
  ``1127 ln(1 + f/700)`` with triangles in the mel domain and the Nyquist bin left out, as in
  Kaldi's ``compute-fbank-feats`` (up to a constant log offset for Kaldi's int16 scaling, which
  per-utterance normalization removes).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Tuple, Union

import numpy as np
import torch
from torch import nn

from hypersp.audio.config import FeatureConfig
from hypersp.audio.features_numpy import (  # noqa: F401  (re-exported: the mel helpers' historical home)
    NORM_EPS,
    hz_to_mel_kaldi,
    hz_to_mel_slaney,
    centred_frame_offset,
    kaldi_mel_filterbank,
    mel_to_hz_slaney,
    resolve_feature_params,
    slaney_mel_filterbank,
)

_NORM_EPS = NORM_EPS  # added to the std so silent / one-frame utterances do not divide by zero


def normalize_per_utterance(feats: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
    """Mean/variance normalization per utterance and feature bin over its valid frames.

    ``feats (B, T, F)``, ``frame_lengths (B,)`` long -> ``(B, T, F)``: ``(x - mean) / (std + 1e-5)``
    with the population std over frames ``< frame_lengths[b]``; frames at or after it are 0.
    Used by :class:`LogMelFeatures` and inside the sherpa-onnx export graph (``hypersp.export.sherpa``).
    """
    frame_mask = (torch.arange(feats.shape[1], device=feats.device)[None, :] < frame_lengths[:, None]).unsqueeze(-1)
    # Statistics of the values shifted by the first frame: a constant bin (e.g. every frame at
    # the log floor) is exactly 0 after normalization instead of float32 rounding noise blown
    # up by 1 / (std + eps); the numpy front end does the same, so both agree there.
    count = frame_lengths.clamp(min=1).to(feats.dtype)[:, None, None]
    shifted = (feats - feats[:, :1]) * frame_mask
    centred = (shifted - shifted.sum(dim=1, keepdim=True) / count) * frame_mask
    var = centred.square().sum(dim=1, keepdim=True) / count
    return centred / (var.sqrt() + _NORM_EPS)


def normalize_cumulative(feats: torch.Tensor) -> torch.Tensor:
    """Mean/variance normalization of each frame by the statistics of its utterance's frames up to and
    including it: what a live stream knows when the frame arrives (``features.normalize=cumulative``; the
    cached stream of ``hypersp.inference.cached_stream`` computes the same, chunk by chunk).

    ``feats (B, T, F)`` -> ``(B, T, F)``: ``(x_t - mean_{0..t}) / (std_{0..t} + 1e-5)``, population std, in
    float64 of the values shifted by the first frame (as the stream does). Causal, so padding after an
    utterance cannot change its frames (the caller zeroes the padding).
    """
    x = feats.double()
    shifted = x - x[:, :1]
    count = torch.arange(1, x.shape[1] + 1, dtype=torch.float64, device=x.device)[None, :, None]
    mean = shifted.cumsum(dim=1) / count
    std = (shifted.square().cumsum(dim=1) / count - mean.square()).clamp(min=0).sqrt()
    return ((shifted - mean) / (std + _NORM_EPS)).to(feats.dtype)


# --- the module ---------------------------------------------------------------------------

class LogMelFeatures(nn.Module):
    """Batched log-mel features.

    ``forward(waveforms (B, S) float, lengths (B,) long samples) ->
    (features (B, T, F) float32, frame_lengths (B,) long)`` with ``F = n_mels`` and
    ``T = num_frames(S)`` (see the module docstring). Frames at or after ``frame_lengths[b]``
    are 0. Dither is added only in training mode, so ``eval()`` is deterministic.
    """

    def __init__(self, cfg: Any = None):
        super().__init__()
        p = resolve_feature_params(cfg)  # checks the config (errors name the features.* key)
        self.sample_rate, self.n_mels = p.sample_rate, p.n_mels
        self.win_length, self.hop_length, self.n_fft = p.win_length, p.hop_length, p.n_fft
        self.f_min, self.f_max = p.f_min, p.f_max
        self.preemphasis = p.preemphasis
        self.dither = p.dither
        self.log_floor = p.log_floor
        self.normalize = p.normalize
        self.kaldi_compatible = p.kaldi_compatible
        self.snip_edges = p.snip_edges
        window = torch.from_numpy(p.window)
        fb = p.mel_fb
        # Derived from the config, so not part of any checkpoint.
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("mel_fb", torch.from_numpy(fb).float(), persistent=False)

    @property
    def num_features(self) -> int:
        return self.n_mels

    def num_frames(self, num_samples: Union[int, torch.Tensor]) -> Union[int, torch.Tensor]:
        """Frames produced for ``num_samples`` samples (int or long tensor), as in :meth:`forward`."""
        if isinstance(num_samples, torch.Tensor):
            s = num_samples.long()
            if not self.snip_edges:
                return torch.div(s + self.hop_length // 2, self.hop_length, rounding_mode="floor").clamp(min=0)
            t = 1 + torch.div((s - self.win_length).clamp(min=0), self.hop_length, rounding_mode="floor")
            return torch.where(s > 0, t, torch.zeros_like(t))
        s = int(num_samples)
        if not self.snip_edges:
            return max((s + self.hop_length // 2) // self.hop_length, 0)
        return 0 if s <= 0 else 1 + max(s - self.win_length, 0) // self.hop_length

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor = None) -> Tuple[torch.Tensor, torch.Tensor]:
        if waveforms.dim() != 2:
            raise ValueError(f"LogMelFeatures expects waveforms (B, S), got shape {tuple(waveforms.shape)}")
        x = waveforms.float()
        batch, num_samples = x.shape
        if lengths is None:
            lengths = torch.full((batch,), num_samples, dtype=torch.long, device=x.device)
        lengths = lengths.to(device=x.device, dtype=torch.long)
        frame_lengths = self.num_frames(lengths)

        sample_idx = torch.arange(num_samples, device=x.device)
        valid = sample_idx[None, :] < lengths[:, None]
        if self.training and self.dither > 0:
            x = x + self.dither * torch.randn_like(x) * valid
        x = x * valid  # whatever was in the padding is ignored

        if not self.snip_edges:
            x = self._centred_signal(x, lengths)
        elif num_samples < self.win_length:  # short input: one zero-padded window
            x = nn.functional.pad(x, (0, self.win_length - num_samples))
        if not self.kaldi_compatible and self.preemphasis > 0:
            x = torch.cat([x[:, :1], x[:, 1:] - self.preemphasis * x[:, :-1]], dim=1)

        frames = x.unfold(1, self.win_length, self.hop_length)  # (B, T, win)
        if self.kaldi_compatible:
            frames = frames - frames.mean(dim=-1, keepdim=True)
            if self.preemphasis > 0:
                prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
                frames = frames - self.preemphasis * prev
        spec = torch.fft.rfft(frames * self.window, n=self.n_fft)  # (B, T, n_fft//2+1)
        power = spec.real.square() + spec.imag.square()
        feats = torch.log(torch.clamp(power @ self.mel_fb, min=self.log_floor))  # (B, T, F)

        frame_mask = (torch.arange(feats.shape[1], device=x.device)[None, :] < frame_lengths[:, None]).unsqueeze(-1)
        if self.normalize == "per_utterance":
            feats = normalize_per_utterance(feats, frame_lengths)
        elif self.normalize == "cumulative":
            feats = normalize_cumulative(feats)
        feats = feats * frame_mask
        return feats, frame_lengths


    def _centred_signal(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, S)`` -> ``(B, span)``: the samples centred frames read (``snip_edges=False``), in order.

        Frame ``t`` starts at ``t * hop + centred_frame_offset`` (negative for ``t = 0``); positions
        outside ``[0, S_b)`` are reflected inside each row's own length as Kaldi does, so unfolding
        the result gives every row the frames it would get alone.
        """
        frames_total = max(int(self.num_frames(x.shape[1])), 1)
        span = (frames_total - 1) * self.hop_length + self.win_length
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], span)
        positions = centred_frame_offset(self.win_length, self.hop_length) + torch.arange(span, device=x.device)
        s = lengths.clamp(min=1)[:, None]
        m = torch.remainder(positions[None, :], 2 * s)
        return torch.gather(x, 1, torch.where(m < s, m, 2 * s - 1 - m))


def _config_key(cfg: Any) -> Tuple:
    fields = FeatureConfig.__dataclass_fields__
    return tuple((name, getattr(cfg, name)) for name in fields)


@lru_cache(maxsize=8)
def _cached_extractor(key: Tuple, train: bool) -> LogMelFeatures:
    return LogMelFeatures(FeatureConfig(**dict(key))).train(train)


def compute_features(waveform: Union[np.ndarray, torch.Tensor], cfg: Any, train: bool = False) -> torch.Tensor:
    """Features of one utterance: ``waveform (S,)`` float at ``cfg.sample_rate`` -> ``(T, F)`` float32.

    ``train=True`` adds dither (as in training mode); the default is deterministic. The extractor
    for a given config is built once per process and reused.
    """
    wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32) if isinstance(waveform, np.ndarray) else waveform)
    if wave.dim() != 1:
        raise ValueError(f"compute_features expects one waveform (S,), got shape {tuple(wave.shape)}")
    extractor = _cached_extractor(_config_key(cfg), bool(train))
    with torch.no_grad():
        feats, _ = extractor(wave[None, :].float())
    return feats[0]
