"""Offline recognition of arrays and files: ``Recognizer``.

    rec = Recognizer.from_checkpoint("runs/quickstart/best.pt")
    rec.transcribe_file("lecture.wav")
    # {"text": "...", "duration": 612.3, "sample_rate": 16000,
    #  "segments": [{"start": 0.42, "end": 3.91, "text": "..."}, ...]}

- Any input rate is resampled (soxr) to the model's rate (``rec.sample_rate``: 16 kHz, or 8 kHz
  for telephone checkpoints).
- Audio is cut into speech segments by the energy VAD (``hypersp.inference.vad``); each segment
  is at most ``VadConfig.max_segment_s`` long, so memory stays bounded for hour-long files.
  Segments are recognized in batches (sorted by length, at most ``batch_seconds`` of audio each).
- Decoding is greedy CTC. Times are seconds from the start of the input.

Thread safety: ``recognize_waves`` may be called from one worker thread at a time per
Recognizer (the server runs all model compute on one executor thread per replica).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from hypersp.audio.io import load_audio_channels, resample
from hypersp.decoding.greedy import greedy_ctc_decode
from hypersp.inference.vad import VadConfig, frame_energies_db, speech_segments


class Recognizer:
    """A model + its task (features, tokenizer), ready for inference on the CPU or a GPU.

    ``model(features (B,T,F), lengths (B,)) -> (log_probs (B,T',V), out_lengths (B,))``;
    one output frame covers ``frame_shift_s = hop_ms * subsampling_factor`` seconds.
    """

    def __init__(self, model: torch.nn.Module, task: Any, device: str = "cpu", batch_seconds: float = 120.0,
                 vad: Optional[VadConfig] = None):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.task = task
        self.featurizer = task.featurizer().to(self.device).eval()
        self.sample_rate = int(task.sample_rate)
        self.batch_seconds = float(batch_seconds)
        self.vad = vad or VadConfig()
        hop_s = self.featurizer.hop_length / float(self.sample_rate)
        self.subsampling_factor = int(getattr(model, "subsampling_factor", 1))
        self.frame_shift_s = hop_s * self.subsampling_factor

    @classmethod
    def from_checkpoint(cls, name_or_path: str, device: str = "cpu", **kwargs) -> "Recognizer":
        from hypersp.train.build import build_from_checkpoint
        from hypersp.train.checkpoint import load_checkpoint

        comp = build_from_checkpoint(load_checkpoint(name_or_path), device=device)
        rec = cls(comp.model, comp.task, device=device, **kwargs)
        rec.config = comp.cfg
        return rec

    # ---- the batched forward -------------------------------------------------------------
    @torch.no_grad()
    def log_probs(self, waves: Sequence[np.ndarray]) -> List[torch.Tensor]:
        """One padded forward pass: ``waves`` (each (S_i,) float32 at ``sample_rate``) ->
        per wave ``(T'_i, V)`` log-probs on the CPU. Empty waves give ``(0, V)``."""
        if not waves:
            return []
        lengths = torch.tensor([max(int(w.shape[0]), 1) for w in waves], dtype=torch.long)
        batch = torch.zeros(len(waves), int(lengths.max()), dtype=torch.float32)
        for i, w in enumerate(waves):
            batch[i, : w.shape[0]] = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        feats, feat_lengths = self.featurizer(batch.to(self.device), lengths.to(self.device))
        out, out_lengths = self.model(feats, feat_lengths)
        out, out_lengths = out.float().cpu(), out_lengths.cpu()
        return [out[i, : int(out_lengths[i])] if waves[i].shape[0] else out[i, :0] for i in range(len(waves))]

    def decode_ids(self, ids: List[int]) -> str:
        return self.task.decode(ids).strip()

    def recognize_waves(self, waves: Sequence[np.ndarray]) -> List[str]:
        """Texts of several waveforms at ``sample_rate``, batched by total duration."""
        order = sorted(range(len(waves)), key=lambda i: waves[i].shape[0])
        texts: List[str] = [""] * len(waves)
        budget = int(self.batch_seconds * self.sample_rate)
        i = 0
        while i < len(order):
            j, total = i, 0
            while j < len(order) and (j == i or total + waves[order[j]].shape[0] <= budget):
                total += waves[order[j]].shape[0]
                j += 1
            chunk = [waves[k] for k in order[i:j]]
            for k, lp in zip(order[i:j], self.log_probs(chunk)):
                ids = greedy_ctc_decode(lp[None], None)[0] if lp.shape[0] else []
                texts[k] = self.decode_ids(ids)
            i = j
        return texts

    # ---- whole recordings ----------------------------------------------------------------
    def segment(self, samples: np.ndarray) -> List[Tuple[float, float]]:
        """VAD segments (seconds) of ``samples`` at ``sample_rate``; a non-silent input where the VAD
        finds no pause-delimited region (e.g. a short all-speech clip) is one segment."""
        segs = speech_segments(samples, self.sample_rate, self.vad)
        if not segs and samples.size:
            e = frame_energies_db(samples, self.sample_rate)
            if e.size and float(e.max()) > self.vad.min_db:
                segs = [(0.0, round(samples.size / self.sample_rate, 3))]
        return segs

    def transcribe(self, samples: np.ndarray, sample_rate: Optional[int] = None,
                   progress=None) -> Dict[str, Any]:
        """Recognize one recording: ``samples (S,)`` float in [-1, 1] at ``sample_rate`` (default: the model's).

        Returns ``{"text", "segments": [{"start", "end", "text"}], "duration", "sample_rate"}``; segments
        with empty text are dropped. ``progress(done_s, total_s)`` is called after each batch.
        """
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"transcribe expects mono samples (S,), got shape {x.shape}")
        rate = int(sample_rate or self.sample_rate)
        x = resample(x, rate, self.sample_rate)
        duration = x.size / float(self.sample_rate)
        segs = self.segment(x)
        pieces = [x[int(s * self.sample_rate): int(e * self.sample_rate)] for s, e in segs]
        texts: List[str] = []
        step = max(1, int(self.batch_seconds // max(self.vad.max_segment_s, 1.0)))
        for i in range(0, len(pieces), step):
            texts.extend(self.recognize_waves(pieces[i:i + step]))
            if progress is not None:
                progress(segs[min(i + step, len(segs)) - 1][1], duration)
        segments = [{"start": s, "end": e, "text": t} for (s, e), t in zip(segs, texts) if t]
        return {"text": " ".join(seg["text"] for seg in segments), "segments": segments,
                "duration": round(duration, 3), "sample_rate": self.sample_rate}

    def transcribe_file(self, path: Any, channels: bool = False, progress=None) -> Dict[str, Any]:
        """Recognize a file (anything ``hypersp.audio.io`` reads). ``channels=True`` recognizes each
        channel separately and adds ``"channels": [result per channel]``; the top-level segments are
        then all channels' segments merged by start time, each with a ``"channel"`` index."""
        audio = load_audio_channels(path, self.sample_rate)
        if not channels or audio.shape[0] == 1:
            return self.transcribe(audio.mean(axis=0) if audio.shape[0] > 1 else audio[0], progress=progress)
        per = [self.transcribe(ch) for ch in audio]
        merged = sorted(({**seg, "channel": c} for c, r in enumerate(per) for seg in r["segments"]),
                        key=lambda s: (s["start"], s["channel"]))
        return {"text": " ".join(s["text"] for s in merged), "segments": merged, "channels": per,
                "duration": per[0]["duration"], "sample_rate": self.sample_rate}
