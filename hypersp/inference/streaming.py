"""Streaming recognition: feed audio chunks, get partial and final hypotheses.

    srec = StreamingRecognizer(Recognizer.from_checkpoint(ckpt))
    stream = srec.new_stream(input_rate=16000)
    stream.accept(chunk)                      # float32 in [-1, 1] at input_rate, any length
    if stream.ready(): events = srec.decode([stream])[0]   # [{"text", "final": bool, ...}]
    events = srec.decode([stream], force_final=[True])[0]   # client said the utterance ended

How it works (CTC models; works with any registered model, no model changes):
- Each decode step re-runs the model on a *window* of the current utterance: ``left_context_s``
  of already-decoded audio plus everything new. The cost per step is bounded by the window, not
  by the utterance length, and several streams' windows are padded into one batch.
- Output frames older than ``lookahead_s`` before the window's right edge are *committed*: their
  log-posteriors are kept and never recomputed. The newest frames are tentative. A partial is the
  engine's greedy decoder over committed + newest frames (so it is always valid Hangul), and only
  the last ``lookahead_s`` of frames can still change.
- Until the energy VAD hears speech only a short pre-roll is kept and nothing is decoded.
- Endpointing (after each step; the first rule that fires ends the utterance):
  1. the client's ``state: 0`` / ``force_final``;
  2. trailing silence >= ``endpoint_silence_s`` after speech, measured by the energy VAD or by
     trailing CTC blanks once the model has emitted a token (``endpoint_mode="either"``; "both"
     needs both signals, "ctc"/"vad" use one);
  3. utterance length >= ``max_utterance_s``.
  On an endpoint a ``{"text", "final": true}`` event is emitted (its text from a second pass over
  the whole utterance when ``final_full_context``) and the stream resets for the next utterance.
- Events carry ``start``/``end`` (seconds since the stream began) and ``segment`` (utterance index).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import soxr

from hypersp.config.schema import StreamingConfig  # noqa: F401  (re-exported)
from hypersp.inference.vad import StreamingVad




class Stream:
    """State of one audio stream (one client connection). Not thread-safe: the server touches it from
    the event loop (``accept``) and the worker (``decode``) strictly one after the other."""

    def __init__(self, owner: "StreamingRecognizer", input_rate: int):
        self.owner = owner
        self.rate = owner.sample_rate
        self.input_rate = int(input_rate)
        self._resampler = (soxr.ResampleStream(self.input_rate, self.rate, 1, dtype="float32")
                           if self.input_rate != self.rate else None)
        self.vad = StreamingVad(self.rate)
        self.segment = 0
        self.stream_samples = 0  # model-rate samples received in total
        self.idle = np.zeros(0, dtype=np.float32)  # pre-roll while nobody speaks
        self.final_decoder = owner.final_decoder  # the engine's decoder, or per-client settings
        self._reset_utterance()

    def _reset_utterance(self) -> None:
        self.in_speech = False  # set when the VAD first hears speech
        self.utt_start = self.stream_samples  # stream sample where this utterance begins
        self.audio = np.zeros(0, dtype=np.float32)  # the whole utterance (bounded by max_utterance_s)
        self.pending = 0  # samples since the last decode step
        self.committed_lp: List[np.ndarray] = []  # log-posteriors of committed frames (T'_c, V) pieces
        self.commit_frame = 0
        self.frames = np.zeros((0, 0), dtype=np.float32)  # committed + newest frames of the last step
        self.ids: List[int] = []  # the partial's token ids
        self.trailing_blank_frames = 0
        self.text = ""
        self.vad.reset()

    # ---- feeding ---------------------------------------------------------------------------
    def accept(self, samples: np.ndarray) -> None:
        """Append ``samples`` (float32 at ``input_rate``)."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        if x.size == 0:
            return
        self.stream_samples += x.size
        self.vad.accept(x)
        if not self.in_speech:
            # Nobody speaks yet: keep a short pre-roll only, so silence costs neither memory nor compute.
            self.idle = np.concatenate([self.idle, x])[-self.owner.preroll_samples:]
            if self.vad.speech_s < self.owner.cfg.min_speech_s:
                return
            self.in_speech = True
            self.utt_start = self.stream_samples - self.idle.size
            x, self.idle = self.idle, np.zeros(0, dtype=np.float32)
        self.audio = np.concatenate([self.audio, x])
        self.pending += x.size

    def flush(self) -> None:
        """The client says the utterance is over: push the resampler's delayed tail through."""
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._resampler = soxr.ResampleStream(self.input_rate, self.rate, 1, dtype="float32")
            if tail.size:
                resampler, self._resampler = self._resampler, None  # tail is already at the model rate
                self.accept(tail)
                self._resampler = resampler

    def ready(self) -> bool:
        return self.pending >= self.owner.chunk_samples

    @property
    def has_audio(self) -> bool:
        return self.audio.size > 0

    # ---- model input / output --------------------------------------------------------------
    def window(self) -> np.ndarray:
        """Audio to run the model on: from ``left_context`` before the commit point to the end."""
        spf = self.owner.samples_per_frame
        w0 = max(0, self.commit_frame * spf - self.owner.left_context_samples)
        self._window_start = w0 - w0 % spf
        return self.audio[self._window_start:]

    def update(self, log_probs: np.ndarray, final: bool) -> None:
        """Consume the model output ``(T', V)`` (numpy log-posteriors) for the last ``window()``.

        Frames older than ``lookahead_s`` before the window's right edge are committed (kept, never
        recomputed); the partial text is the engine's greedy decoder over committed + newest frames, so
        partials obey the same always-valid-Hangul rule as finals."""
        self.pending = 0
        lp = np.asarray(log_probs, dtype=np.float32)
        f0 = self._window_start // self.owner.samples_per_frame
        total = f0 + lp.shape[0]
        stable_end = total if final else max(self.commit_frame, total - self.owner.lookahead_frames)
        if stable_end > self.commit_frame:
            self.committed_lp.append(lp[self.commit_frame - f0: stable_end - f0])
        self.commit_frame = max(self.commit_frame, stable_end)
        frames = [*self.committed_lp, lp[self.commit_frame - f0:]]
        self.frames = np.concatenate(frames) if frames else lp[:0]
        best = self.frames.argmax(axis=-1) if self.frames.shape[0] else np.zeros(0, dtype=np.int64)
        nonblank = np.flatnonzero(best != 0)
        self.trailing_blank_frames = int(best.size - 1 - nonblank[-1]) if nonblank.size else int(best.size)
        hyps = self.owner.partial_decoder.decode(self.frames) if self.frames.shape[0] else []
        self.ids = list(hyps[0].ids) if hyps else []
        self.text = self.owner.recognizer.decode_text(self.ids)

    # ---- endpointing ---------------------------------------------------------------------------
    def endpoint(self) -> Optional[str]:
        """Why the current utterance ends now ("silence", "max_length") or None."""
        cfg = self.owner.cfg
        if self.audio.size / self.rate >= cfg.max_utterance_s:
            return "max_length"
        vad_sil = self.vad.trailing_silence_s
        # CTC blanks only count once the model has said something: an untrained or confused model
        # that emits nothing must not cut a speaker off.
        tokens = bool(self.ids)
        ctc_sil = self.trailing_blank_frames * self.owner.frame_shift_s if tokens else 0.0
        silence = {"either": max(ctc_sil, vad_sil), "both": min(ctc_sil, vad_sil),
                   "ctc": ctc_sil, "vad": vad_sil}[cfg.endpoint_mode]
        if self.in_speech and silence >= cfg.endpoint_silence_s:
            return "silence"
        return None

    def speech_audio(self) -> np.ndarray:
        """The utterance without its trailing silence (keeping ``pad`` seconds), for the final pass."""
        pad = int(0.15 * self.rate)
        drop = int(self.vad.trailing_silence_s * self.rate) - pad
        return self.audio[: self.audio.size - drop] if 0 < drop < self.audio.size else self.audio

    def event(self, final: bool, reason: str = "", result: Any = None) -> Dict[str, Any]:
        """A partial or final event; a final carries ``words`` (times from the start of the stream) and,
        when the decoder keeps several hypotheses, ``nbest``."""
        start = self.utt_start / self.rate
        ev = {"text": self.text, "final": final, "segment": self.segment,
              "start": round(start, 3), "end": round(start + self.audio.size / self.rate, 3)}
        if reason:
            ev["reason"] = reason
        if final:
            words = result.words if result is not None else (
                self.owner.recognizer.align_words(self.frames, self.ids) if self.ids else [])
            ev["words"] = [{**w.to_dict(), "start": round(w.start + start, 3), "end": round(w.end + start, 3)}
                           for w in words]
            if result is not None and result.nbest:
                ev["nbest"] = result.nbest
        return ev

    def finish_utterance(self) -> None:
        self.segment += 1
        self._reset_utterance()


class StreamingRecognizer:
    """Chunked recognition of many streams with one ``Recognizer`` (see the module docstring)."""

    def __init__(self, recognizer, cfg: Optional[StreamingConfig] = None):
        self.recognizer = recognizer
        self.cfg = cfg or StreamingConfig()
        if self.cfg.endpoint_mode not in ("either", "both", "ctc", "vad"):
            raise ValueError(f"endpoint_mode={self.cfg.endpoint_mode!r}; choose either, both, ctc or vad")
        self.sample_rate = recognizer.sample_rate
        self.frame_shift_s = recognizer.frame_shift_s
        self.samples_per_frame = max(1, int(round(self.frame_shift_s * self.sample_rate)))
        self.chunk_samples = int(self.cfg.chunk_s * self.sample_rate)
        self.left_context_samples = int(self.cfg.left_context_s * self.sample_rate)
        self.lookahead_frames = int(round(self.cfg.lookahead_s / self.frame_shift_s))
        self.preroll_samples = max(1, int(self.cfg.preroll_s * self.sample_rate))
        # Partials stay greedy for speed; finals use the engine's configured decoder.
        self.partial_decoder = recognizer.decoder_for(name="greedy", nbest=1)
        self.final_decoder = recognizer.decoder  # a stream may replace its own (per-client hotwords, n-best)

    def new_stream(self, input_rate: Optional[int] = None) -> Stream:
        return Stream(self, input_rate or self.sample_rate)

    def decode(self, streams: Sequence[Stream], force_final: Optional[Sequence[bool]] = None) -> List[List[Dict[str, Any]]]:
        """One batched decode step for ``streams``; returns each stream's events (oldest first).

        A partial ``{"text", "final": false}`` is emitted when the text changed; a final when an
        endpoint rule fired or ``force_final`` is set (a forced final is emitted even when empty,
        so a client that says "done" always gets an answer). With ``final_full_context`` the
        final text comes from a second pass over the whole utterance (batched too).
        """
        force = list(force_final) if force_final is not None else [False] * len(streams)
        for s, f in zip(streams, force):
            if f:
                s.flush()
        active = [i for i, s in enumerate(streams) if s.has_audio]
        outs = self.recognizer.log_probs([streams[i].window() for i in active]) if active else []
        events: List[List[Dict[str, Any]]] = [[] for _ in streams]
        finals = []
        for i, lp in zip(active, outs):
            s = streams[i]
            before = s.text
            s.update(lp, final=force[i])
            reason = "client" if force[i] else s.endpoint()
            if reason:
                finals.append((i, reason))
            elif s.text != before and s.text:
                events[i].append(s.event(False))
        results: Dict[int, Any] = {}
        if finals and self.cfg.final_full_context:
            # Finals go through the engine with its configured decoder (beam, LM, hotwords), as POST does.
            by_decoder: Dict[int, List[int]] = {}
            for i, _ in finals:
                by_decoder.setdefault(id(streams[i].final_decoder), []).append(i)
            for group in by_decoder.values():
                segs = self.recognizer.recognize([streams[i].speech_audio() for i in group],
                                                 decoder=streams[group[0]].final_decoder)
                for i, seg in zip(group, segs):
                    streams[i].text = seg.text
                    results[i] = seg
        for i, reason in finals:
            events[i].append(streams[i].event(True, reason, results.get(i)))
            streams[i].finish_utterance()
        for i, s in enumerate(streams):
            if force[i] and i not in active:
                events[i].append(s.event(True, "client"))
                s.finish_utterance()
        return events
