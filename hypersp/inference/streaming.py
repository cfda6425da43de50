"""Streaming recognition: feed audio of any size, get partial and final hypotheses.

    srec = StreamingRecognizer(hypersp.load("demo_ko_16k"))
    stream = srec.new_stream(input_rate=16000)
    stream.accept(chunk)                      # float32 in [-1, 1] at input_rate, any length (10 ms .. 30 s)
    if stream.ready(): events = srec.decode([stream])[0]   # [{"text", "display", "final": bool, ...}]
    events = srec.decode([stream], force_final=[True])[0]   # client said the utterance ended

How it works (CTC models; works with any registered model, no model changes):
- ``accept`` only resamples and queues. ``decode`` consumes the queue in steps of ``chunk_s``, so a
  message of 30 s goes through the same steps as 300 messages of 0.1 s: nothing is dropped or merged.
  While an utterance has no text yet (no utterance open, or one opened whose first partial has not come),
  ``start_step_s`` steps fall between the ``chunk_s`` steps (``Stream.step_samples``), so the VAD opens the
  utterance and the model shows its first partial sooner; the ``chunk_s`` steps stay where they were, and an
  utterance opened between two of them starts where it would have at the next one, so no final changes.
  While more than ``catchup_s`` is still queued (large messages, or a server that fell behind), a step runs
  only the VAD and the endpoint rules, and the next model window covers the skipped audio at once.
- Each step feeds the VAD named by ``vad.name``, then (once an utterance is open) re-runs the model on a *window*:
  ``left_context_s`` of already-decoded audio plus everything new; several streams' windows are
  padded into one batch. Output frames older than ``lookahead_s`` before the window's right edge are
  *committed* (kept, never recomputed); a partial is the engine's greedy decoder over committed +
  newest frames (always valid Hangul), so only the last ``lookahead_s`` can still change.
- ``streaming.mode=cached`` (models with ``supports_streaming``: conformer, left-to-right rnn, jasper; others
  fall back to the window with a warning): instead of the window, each step gives only the new audio to the
  model, which keeps its context in a state (``hypersp.inference.cached_stream``: incremental features,
  attention key/value cache of ``cached_left_frames``, convolution inputs, recurrent state); all streams of a
  step go through one ``model.forward_chunks`` call. Frames the model has made final are committed; the rest
  of the utterance is peeked at (as if it ended now; not for models looking ahead less than ``PEEK_MIN_S``)
  for the partial and the endpoint rules. With
  ``final_full_context=false`` the final is the configured decoder (beam, LM, hotwords) over the streamed
  frames, with no second pass; with ``true`` it is the engine's pass over the utterance, as in window mode.
- Two-pass (``streaming.first_pass_model``, cached mode with ``final_full_context=true``): another, streaming
  model runs the cached steps (partials, CTC endpoints) and the engine's full pass makes the finals: cheap live
  steps, finals as accurate as the engine's. The shipped ``demo_ko_16k`` / ``demo_ko_8k`` stream this way.
- Until the VAD hears ``min_speech_s`` of speech no utterance is open and nothing is decoded; the
  audio since the start of the stream (at most ``preroll_s`` before the speech, plus the step that
  detected it) is kept, so a stream that starts with speech at t = 0 keeps its first syllable. The
  VAD's noise floor starts low (``vad.min_db - vad.margin_db``), never at the level of the first frame.
- Endpointing (``StreamingConfig``): the client's ``state: 0`` / ``force_final``; trailing silence after
  text (VAD and/or CTC blanks, ``endpoint_mode``); longer silence with no text; maximum length, cut at
  the quietest point near it. The utterance is cut ``cut_pad_s`` after its last speech and the audio
  after the cut starts the next utterance, so an endpoint never eats the next sentence's onset.
- A final (``{"text", "final": true, "words", ...}``) is the engine's ``transcribe`` of the utterance
  (``final_full_context``): VAD segments, the configured decoder (beam, LM, hotwords), word times; the
  same path as an upload of that audio. An utterance with no text produces no final unless forced.
- Events carry ``start``/``end`` (seconds since the stream began) and ``segment`` (utterance index).
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import soxr

from hypersp.config.schema import StreamingConfig  # noqa: F401  (re-exported)
from hypersp.inference.transcript import Transcript

logger = logging.getLogger(__name__)
PEEK_MIN_S = 0.1  # cached mode: a model that looks ahead less than this streams without peeking (see StreamingRecognizer)




class Stream:
    """State of one audio stream (one client connection). Not thread-safe: the server touches it from
    the event loop (``accept``) and the worker (``decode``) strictly one after the other."""

    def __init__(self, owner: "StreamingRecognizer", input_rate: int):
        self.owner = owner
        self.cfg = owner.cfg  # per-connection thresholds may replace it (a copy)
        self.rate = owner.sample_rate
        self.input_rate = int(input_rate)
        self._resampler = (soxr.ResampleStream(self.input_rate, self.rate, 1, dtype="float32")
                           if self.input_rate != self.rate else None)
        self.vad = owner.recognizer.vad_detector.stream(self.rate)  # the VAD ``vad.name`` selects
        self.segment = 0
        self.pos = 0  # model-rate samples ingested (stream time of the end of the audio seen)
        self.inbox: List[np.ndarray] = []  # accepted, not yet ingested audio at the model rate
        self.inbox_samples = 0
        self.into_chunk = 0  # samples stepped since the last chunk_s step boundary (start steps fall in between)
        self.idle = np.zeros(0, dtype=np.float32)  # audio before an utterance opens
        self.final_decoder = owner.final_decoder  # the engine's decoder, or per-client settings
        self._reset_utterance()

    def _reset_utterance(self) -> None:
        self.in_speech = False  # set when the VAD has heard min_speech_s
        self.utt_start = self.pos  # stream sample where this utterance begins
        self.audio = np.zeros(0, dtype=np.float32)  # the whole utterance (bounded by max_utterance_s)
        self.pending = 0  # utterance samples since the last model step
        self.committed_lp: List[np.ndarray] = []  # log-posteriors of committed frames (T'_c, V) pieces
        self.commit_frame = 0
        self.partial_search: Optional[Any] = None  # the partial decoder over the committed frames (_set_frames)
        self.frames = np.zeros((0, 0), dtype=np.float32)  # committed + newest frames of the last step
        self.ids: List[int] = []  # the partial's token ids
        self.trailing_blank_frames = 0
        self.model_behind = False  # audio was ingested without a model step (catch-up): CTC evidence is stale
        self.text = ""
        self.vad.reset()
        # cached mode: the model's state for this utterance and how much of ``audio`` it has been given
        self.enc_state = self.owner.encoder.start() if self.owner.encoder is not None else None
        self.fed = 0
        # cached mode with the final from the streamed frames: the final decoder's search over the committed
        # frames so far (Decoder.incremental), so the end of an utterance leaves only its last frames to search
        self.final_search: Optional[Any] = None

    # ---- feeding ---------------------------------------------------------------------------
    def accept(self, samples: np.ndarray) -> None:
        """Queue ``samples`` (float32 at ``input_rate``, any length); ``decode`` consumes them."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        if x.size:
            self.inbox.append(x)
            self.inbox_samples += x.size

    def flush(self) -> None:
        """The client says the utterance is over: push the resampler's delayed tail into the queue."""
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            self._resampler = soxr.ResampleStream(self.input_rate, self.rate, 1, dtype="float32")
            if tail.size:
                self.inbox.append(tail.astype(np.float32, copy=False))
                self.inbox_samples += tail.size

    def take(self, n: int) -> np.ndarray:
        """Remove and return the first ``n`` queued samples (fewer if fewer are queued)."""
        buf = np.concatenate(self.inbox) if len(self.inbox) > 1 else (self.inbox[0] if self.inbox else
                                                                      np.zeros(0, dtype=np.float32))
        out, rest = buf[:n], buf[n:]
        self.inbox = [rest] if rest.size else []
        self.inbox_samples = rest.size
        return out

    def ingest(self, x: np.ndarray) -> None:
        """One step of audio at the model rate: VAD, then either the idle buffer or the open utterance."""
        if x.size == 0:
            return
        self.pos += x.size
        self.vad.accept(x)
        if not self.in_speech:
            self.idle = np.concatenate([self.idle, x])
            if self.vad.speech_s < self.cfg.min_speech_s:
                if self.vad.trailing_silence_s > self.cfg.preroll_s:
                    self.vad.speech_s = 0.0  # isolated clicks do not add up to an utterance
                # keep the pre-roll plus the stretch in which min_speech_s can accumulate, plus what a start step
                # has added since the last chunk_s step (an utterance opening now starts where it would at the
                # next chunk_s step: start steps move no utterance start)
                keep = self.owner.preroll_samples + int((self.cfg.min_speech_s + self.cfg.chunk_s) * self.rate)
                self.idle = self.idle[-(keep + self.into_chunk):]
                return
            self.in_speech = True
            x, self.idle = self.idle, np.zeros(0, dtype=np.float32)
            self.utt_start = self.pos - x.size
        self.audio = np.concatenate([self.audio, x])
        self.pending += x.size

    def step_samples(self) -> int:
        """Model-rate samples of this stream's next step: the rest of the current ``chunk_s`` step, or while the
        utterance has no text yet at most ``start_step_s`` of it (``StreamingConfig``)."""
        owner = self.owner
        rest = owner.chunk_samples - self.into_chunk
        if owner.start_step_samples and self.cfg.partials and not self.ids:
            return min(owner.start_step_samples, rest)
        return rest

    def step_taken(self, wanted: int, got: int) -> None:
        """Advance the chunk grid by a step of ``got`` samples (``wanted`` asked for); a shorter step (the last
        audio of a stream its client ended) starts a new grid, as a whole chunk would."""
        self.into_chunk = (self.into_chunk + got) % self.owner.chunk_samples if got == wanted else 0

    def ready(self) -> bool:
        return self.inbox_samples >= self.step_samples()

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
        self.model_behind = False
        f0 = self._window_start // self.owner.samples_per_frame
        total = f0 + lp.shape[0]
        stable_end = total if final else max(self.commit_frame, total - self.owner.lookahead_frames)
        if stable_end > self.commit_frame:
            self.committed_lp.append(lp[self.commit_frame - f0: stable_end - f0])
        self.commit_frame = max(self.commit_frame, stable_end)
        self._set_frames(lp[self.commit_frame - f0:])

    def update_cached(self, final_frames: np.ndarray, tail: np.ndarray) -> None:
        """Cached mode: ``final_frames (T', V)`` that the model made final this step, and the tentative
        ``tail`` (the rest of the utterance's frames as if it ended now)."""
        self.pending = 0
        self.model_behind = False
        if final_frames.shape[0]:
            self.committed_lp.append(final_frames)
            self.commit_frame += final_frames.shape[0]
        self._set_frames(tail)

    def _set_frames(self, tail: np.ndarray) -> None:
        """The utterance's frames (committed + the newest ``tail``) -> trailing blanks and the greedy partial.
        The partial decoder's search keeps the committed frames' result (``Decoder.incremental``), so a step
        decodes the new frames only, not the whole utterance again."""
        pieces = [p for p in [*self.committed_lp, tail] if p.shape[0]]
        self.frames = np.concatenate(pieces) if pieces else np.zeros((0, self.owner.first_pass.backend.vocab_size),
                                                                      dtype=np.float32)
        best = self.frames.argmax(axis=-1) if self.frames.shape[0] else np.zeros(0, dtype=np.int64)
        nonblank = np.flatnonzero(best != 0)
        self.trailing_blank_frames = int(best.size - 1 - nonblank[-1]) if nonblank.size else int(best.size)
        if self.partial_search is None:
            self.partial_search = self.owner.partial_decoder.incremental()
        self.feed_committed(self.partial_search)
        hyps = self.partial_search.peek(self.frames[self.commit_frame:]) if self.frames.shape[0] else []
        self.ids = list(hyps[0].ids) if hyps else []
        self.text = self.owner.first_pass.decode_text(self.ids)

    def feed_committed(self, search: Any) -> None:
        """Give ``search`` (``Decoder.incremental()``) the committed frames it has not had yet."""
        if self.commit_frame > search.frames:
            search.advance(self.frames[search.frames:self.commit_frame])

    # ---- endpointing ---------------------------------------------------------------------------
    def trailing_silence_s(self) -> float:
        """Silence at the end of the utterance by the rule of ``endpoint_mode`` (seconds). CTC blanks only
        count once the model has said something: a model that emits nothing must not cut anyone off. While the
        model is behind (catch-up steps) its blanks are stale: "either" and "vad" go by the VAD, "both" and "ctc"
        wait for the next model step."""
        cfg = self.cfg
        vad_sil = self.vad.trailing_silence_s
        if self.model_behind:  # the blanks are stale; a finals-only stream always goes by the VAD
            return vad_sil if cfg.endpoint_mode in ("either", "vad") or not cfg.partials else 0.0
        ctc_sil = self.trailing_blank_frames * self.owner.frame_shift_s if self.ids else 0.0
        return {"either": max(ctc_sil, vad_sil), "both": min(ctc_sil, vad_sil),
                "ctc": ctc_sil, "vad": vad_sil}[cfg.endpoint_mode]

    def endpoint(self) -> Optional[str]:
        """Why the current utterance ends now ("silence", "no_text", "max_length") or None."""
        cfg = self.cfg
        if not self.in_speech:
            return None
        if self.audio.size / self.rate >= cfg.max_utterance_s:
            return "max_length"
        silence = self.trailing_silence_s()
        has_text = bool(self.ids) or not cfg.partials  # finals only: what the VAD calls speech counts as text
        if has_text and silence >= cfg.endpoint_silence_s:
            return "silence"
        if not has_text and self.vad.trailing_silence_s >= cfg.endpoint_silence_no_text_s:
            return "no_text"
        return None

    def cut_point(self, reason: str) -> int:
        """Where the utterance ends (samples into ``audio``): ``cut_pad_s`` after the last speech for a
        silence endpoint; the quietest 10 ms frame of the last ``max_cut_search_s`` at the maximum length;
        everything for a client's final."""
        n = self.audio.size
        if reason in ("silence", "no_text"):
            silence = int(self.trailing_silence_s() * self.rate) if reason == "silence" else \
                int(self.vad.trailing_silence_s * self.rate)
            return int(min(n, max(0, n - silence + int(self.cfg.cut_pad_s * self.rate))))
        if reason == "max_length":
            from hypersp.inference.vad import frame_energies_db

            search = min(self.cfg.max_cut_search_s, self.cfg.max_utterance_s / 2)
            lo = max(0, n - int(search * self.rate))
            e = frame_energies_db(self.audio[lo:], self.rate)
            if e.size:  # the latest frame within 1 dB of the quietest: flat audio is cut near the maximum
                quiet = int(np.flatnonzero(e <= e.min() + 1.0)[-1])
                return lo + quiet * int(round(self.rate * 0.01)) + int(round(self.rate * 0.015))
        return n

    def event(self, final: bool, reason: str = "", end: Optional[int] = None, filled_later: bool = False) -> Dict[str, Any]:
        """A partial or final event; a final carries ``words`` (times from the start of the stream).
        ``filled_later``: the final pass (StreamingRecognizer.finalize) will replace text, display and words,
        so they are not computed here (the display form's spacing alone costs ~0.1 s)."""
        start = self.utt_start / self.rate
        n = self.audio.size if end is None else end
        ev = {"text": self.text, "display": "" if filled_later else _display(self.text, final), "final": final,
              "segment": self.segment, "start": round(start, 3), "end": round(start + n / self.rate, 3)}
        if reason:
            ev["reason"] = reason
        if final and not filled_later:  # words of the partial pass
            words = self.owner.first_pass.align_words(self.frames, self.ids) if self.ids else []
            ev["words"] = [{**w.to_dict(), "start": round(w.start + start, 3), "end": round(w.end + start, 3)}
                           for w in words]
        return ev

    def finish_utterance(self, cut: Optional[int] = None) -> None:
        """Close the utterance at ``cut`` samples; the audio after it is replayed into the next one."""
        rest = self.audio[cut:] if cut is not None else np.zeros(0, dtype=np.float32)
        self.segment += 1
        self.pos -= rest.size
        self._reset_utterance()
        self.ingest(rest)


def _first_pass_recognizer(recognizer: Any, cfg: StreamingConfig) -> Any:
    """``recognizer`` itself, or for two-pass streaming (``cfg.first_pass_model`` in cached mode; window mode runs
    ``recognizer`` alone and ignores it) the streaming model that runs the live steps (loaded once per name and
    device, greedy; checked: full-context finals, the same sample rate)."""
    name = str(cfg.first_pass_model or "")
    if not name or cfg.mode != "cached":
        return recognizer
    if not cfg.final_full_context:
        raise ValueError(f"streaming.first_pass_model={name}: the finals are this model's full pass, so "
                         "streaming.final_full_context must be true (for finals from the streamed frames, stream "
                         f"the streaming model itself, or set streaming.first_pass_model='')")
    first = _load_first_pass(name, str(getattr(recognizer.backend, "device", None) or "cpu"))
    if first.sample_rate != recognizer.sample_rate:
        raise ValueError(f"streaming.first_pass_model={name} is a {first.sample_rate} Hz model; the finals' model "
                         f"is {recognizer.sample_rate} Hz")
    return first


@functools.lru_cache(maxsize=4)
def _load_first_pass(name: str, device: str) -> Any:
    """One copy per process of a first-pass model, shared by every StreamingRecognizer (greedy: its partials)."""
    import hypersp

    return hypersp.load(name, device=device, decoding="greedy")


def _display(text: str, final: bool) -> str:
    """The display form of a live text (hypersp.text.display). A partial gets no sentence-final mark yet and no
    spacing correction: the spacer costs ~90 ms per call on 2 cores, too much for every partial of every stream
    (measured by the cached-streaming work, issue 18); the final gets the full display form."""
    from hypersp.text.display import display_form

    return display_form(text, punctuation=final, spacing=final) if text else ""


class StreamingRecognizer:
    """Chunked recognition of many streams with one engine (``Recognizer``; see the module docstring)."""

    def __init__(self, recognizer, cfg: Optional[StreamingConfig] = None):
        self.recognizer = recognizer
        self.cfg = cfg or StreamingConfig()
        if self.cfg.endpoint_mode not in ("either", "both", "ctc", "vad"):
            raise ValueError(f"endpoint_mode={self.cfg.endpoint_mode!r}; choose either, both, ctc or vad")
        # The engine whose frames the live steps compute (partials, CTC endpoints): this one, or in two-pass
        # streaming (``first_pass_model``) a streaming model, while ``recognizer`` makes the finals.
        self.first_pass = _first_pass_recognizer(recognizer, self.cfg)
        self.sample_rate = recognizer.sample_rate
        self.frame_shift_s = self.first_pass.frame_shift_s
        self.samples_per_frame = max(1, int(round(self.frame_shift_s * self.sample_rate)))
        self.chunk_samples = int(self.cfg.chunk_s * self.sample_rate)
        self.start_step_samples = int(self.cfg.start_step_s * self.sample_rate)
        self.left_context_samples = int(self.cfg.left_context_s * self.sample_rate)
        self.lookahead_frames = int(round(self.cfg.lookahead_s / self.frame_shift_s))
        self.preroll_samples = max(1, int(self.cfg.preroll_s * self.sample_rate))
        self.catchup_samples = int(self.cfg.catchup_s * self.sample_rate)
        if self.cfg.mode not in ("cached", "window"):
            raise ValueError(f"streaming.mode={self.cfg.mode!r}; choose cached or window")
        self.encoder = None  # CachedEncoder in cached mode (hypersp/inference/cached_stream.py)
        if self.cfg.mode == "cached":
            from hypersp.inference.cached_stream import cached_encoder_for

            self.encoder, why = cached_encoder_for(self.first_pass, self.cfg)
            if self.encoder is None and self.first_pass is not recognizer:
                raise ValueError(f"streaming.first_pass_model={self.cfg.first_pass_model}: {why}")
            if self.encoder is None:
                logger.warning("streaming.mode=cached: %s; streaming re-runs the model on a window instead", why)
        # Cached mode: partials and CTC endpoints also see the frames within the model's lookahead (a peek costs
        # about what a step does). A model whose lookahead is shorter than PEEK_MIN_S (causal convolutions and
        # no attention lookahead: 40 ms) skips it: its partials lag by less than anyone notices.
        self.peek = bool(self.cfg.cached_peek and self.encoder is not None and self.encoder.lookahead_s >= PEEK_MIN_S)
        # Partials stay greedy for speed; finals use the engine's configured decoder.
        self.partial_decoder = self.first_pass.decoder_for(name="greedy", nbest=1)
        self.final_decoder = recognizer.decoder  # a stream may replace its own (per-client hotwords, n-best)

    def new_stream(self, input_rate: Optional[int] = None) -> Stream:
        return Stream(self, input_rate or self.sample_rate)

    def describe(self) -> str:
        """How live streams run, in a few words (hypersp-serve prints it at start)."""
        if self.encoder is None:
            return "window (the model re-run on a window each step, a full pass per final)"
        steps = f"cached steps on {self.encoder.step_runtime}"
        if self.first_pass is not self.recognizer:
            return f"two-pass ({self.cfg.first_pass_model}: {steps}; this model: a full pass per final)"
        finals = "a full pass per final" if self.cfg.final_full_context else "finals from the streamed frames"
        return f"cached ({steps}; {finals})"

    def decode(self, streams: Sequence[Stream], force_final: Optional[Sequence[bool]] = None) -> List[List[Dict[str, Any]]]:
        """Consume every stream's queued audio in steps of ``chunk_s``; returns each stream's events in order.

        Per stream at most one partial is reported per call (the latest, when its text changed and no
        final of the same utterance followed it); a final whenever an endpoint rule fires. With
        ``force_final`` the whole queue (also a last part shorter than a step) is consumed and the
        current utterance is finalized even when empty, so a client that says "done" always gets one.
        This is :meth:`step` followed by :meth:`finalize`.
        """
        events, closing = self.step(streams, force_final)
        self.finalize(closing, events)
        return events

    def step(self, streams: Sequence[Stream], force_final: Optional[Sequence[bool]] = None):
        """:meth:`decode` without the finals' second pass: ``(events, closing)``. The final events among
        ``events`` get their text, words and n-best from ``finalize(closing, events)``, which may run on
        another thread while these streams take their next steps (the server does, so that finals never wait
        behind partial steps): each stream has already moved on to its next utterance, and ``closing`` holds
        copies of what the finals need."""
        force = list(force_final) if force_final is not None else [False] * len(streams)
        for s, f in zip(streams, force):
            if f:
                s.flush()
        events: List[List[Dict[str, Any]]] = [[] for _ in streams]
        partial: List[Optional[Dict[str, Any]]] = [None] * len(streams)
        closing: List[Dict[str, Any]] = []  # utterances closed this call, finalized together
        while True:
            stepping = []
            for i, s in enumerate(streams):
                size = s.step_samples()
                if s.inbox_samples >= size or (force[i] and s.inbox_samples):
                    x = s.take(size)
                    s.step_taken(size, x.size)
                    s.ingest(x)
                    stepping.append(i)
            if not stepping:
                break
            last = [i for i in stepping if force[i] and not streams[i].inbox_samples]
            behind = [i for i in stepping if self._final_pass_covers(force[i]) or self._finals_only(streams[i])
                      or self._catching_up(streams[i])]
            self._step(streams, [i for i in stepping if streams[i].pending and i not in behind], events, partial,
                       closing, final_pass=last)
            self._catch_up(streams, behind, events, partial, closing)
        for i, s in enumerate(streams):
            if force[i]:
                if s.pending and not self._final_pass_covers(force[i]):
                    self._step(streams, [i], events, partial, closing, final_pass=[i])
                partial[i] = None
                events[i].append(self._close(s, "client", s.audio.size, closing, keep_empty=True))
        for i, ev in enumerate(partial):
            if ev is not None:
                events[i].append(ev)
        return events, closing

    def _step(self, streams, active, events, partial, closing, final_pass=()) -> None:
        """One batched model step for ``active`` streams, then their endpoint rules."""
        if not active:
            return
        before = [streams[i].text for i in active]
        if self.encoder is None:
            outs = self.recognizer.log_probs([streams[i].window() for i in active])
            for k, i in enumerate(active):
                streams[i].update(outs[k], final=i in final_pass)
        else:
            self._cached_steps([streams[i] for i in active], [i in final_pass for i in active])
        for k, i in enumerate(active):
            s = streams[i]
            reason = s.endpoint()
            if reason:
                partial[i] = None
                events[i].append(self._close(s, reason, s.cut_point(reason), closing))
            elif s.text != before[k] and s.text:
                partial[i] = s.event(False)

    def _final_pass_covers(self, forced: bool) -> bool:
        """The client ended the utterance and its final is the engine's pass over the whole utterance
        (``final_full_context``): a model step over the last audio would only update a partial that nobody
        sees, so the remaining steps run the VAD and the endpoint rules only (with 50 streams ending together
        this halves the work before their finals)."""
        return forced and self.cfg.final_full_context

    def _finals_only(self, s: Stream) -> bool:
        """``streaming.partials=false`` (this connection's or the server's): no model step while the utterance is
        open; its final is the engine's full pass, or (cached, ``final_full_context=false``) one cached model step
        over the whole utterance when it closes."""
        return not s.cfg.partials and (self.cfg.final_full_context or self._final_from_stream(s))

    def _catching_up(self, s: Stream) -> bool:
        """More than ``catchup_s`` is still queued after this step (a client that sends large messages, or a
        server that fell behind and now reads a backlog) and the VAD hears speech: this step skips the model,
        whose next step covers all the skipped audio at once (window mode: left context + lookahead are paid
        once, not per step; cached mode: one ``forward_chunks`` call instead of one per step, whose fixed cost
        dominates a small model). Where the VAD hears a pause the model runs, so the endpoint rules decide with
        fresh CTC evidence where utterances end."""
        return (s.in_speech and s.inbox_samples > self.catchup_samples
                and s.vad.trailing_silence_s < min(0.2, self.cfg.endpoint_silence_s / 2))

    def _catch_up(self, streams, behind, events, partial, closing) -> None:
        """Endpoint rules for streams that skipped the model this step (VAD evidence; see trailing_silence_s)."""
        for i in behind:
            s = streams[i]
            s.model_behind = True
            reason = s.endpoint()
            if reason:
                partial[i] = None
                events[i].append(self._close(s, reason, s.cut_point(reason), closing))

    def _cached_steps(self, group: Sequence[Stream], last: Sequence[bool]) -> None:
        """Cached mode: give the model each stream's new utterance audio (all streams in one model call); the
        frames it makes final are kept, the rest is peeked at (as if the utterance ended now, again in one
        call) for the partial and the endpoint rules."""
        new = []
        for s in group:
            new.append(s.audio[s.fed:])
            s.fed = s.audio.size
        results = self.encoder.step_many([s.enc_state for s in group], new, last)
        peeking = [k for k in range(len(group)) if self.peek and not last[k]]  # else partials lag by the lookahead
        tails = dict(zip(peeking, self.encoder.peek_many([results[k][1] for k in peeking]))) if peeking else {}
        for k, s in enumerate(group):
            frames, s.enc_state = results[k]
            s.update_cached(frames, tails.get(k, frames[:0]))
            if self._final_from_stream(s) and not last[k]:  # (at the end, finalize searches what is left)
                if s.final_search is None or s.final_search.decoder is not s.final_decoder:
                    s.final_search = s.final_decoder.incremental()
                s.feed_committed(s.final_search)

    def _final_from_stream(self, s: Stream) -> bool:
        """Cached mode with ``final_full_context=false``: the final is the decoder over the streamed frames."""
        return self.encoder is not None and not self.cfg.final_full_context \
            and not getattr(s.final_decoder, "needs_model", False)

    def _close(self, s: Stream, reason: str, cut: int, closing: List[Dict[str, Any]],
               keep_empty: bool = False) -> Dict[str, Any]:
        """End ``s``'s utterance at ``cut`` samples and return its final event (text filled in by
        :meth:`finalize`); the stream moves on to the next utterance at once."""
        from_stream = cut > 0 and self._final_from_stream(s)
        ev = s.event(True, reason, end=cut, filled_later=from_stream or (self.cfg.final_full_context and cut > 0))
        if from_stream:
            # the final from the streamed frames (no second model pass): the configured decoder over them
            if s.fed < s.audio.size:  # audio the model has not seen yet (finals only, a catch-up): all of it now
                self._cached_steps([s], [True])
            frames = s.frames
            if not self.peek:  # the frames within the lookahead too
                frames = np.concatenate([frames, self.encoder.peek(s.enc_state)])
            n = min(frames.shape[0], -(-cut // self.samples_per_frame))
            search = s.final_search if s.final_search and s.final_search.decoder is s.final_decoder else None
            closing.append({"event": ev, "log_probs": frames[:n], "samples": cut, "decoder": s.final_decoder,
                            "search": search, "start": s.utt_start / s.rate, "keep_empty": keep_empty})
        elif self.cfg.final_full_context and cut > 0:
            closing.append({"event": ev, "audio": s.audio[:cut].copy(), "decoder": s.final_decoder,
                            "start": s.utt_start / s.rate, "keep_empty": keep_empty})
        elif not ev["text"] and not keep_empty:
            ev["drop"] = True
        s.finish_utterance(cut)
        return ev

    def finalize(self, closing: List[Dict[str, Any]], events: List[List[Dict[str, Any]]]) -> None:
        """The finals' second pass (in place): the engine's VAD + configured decoder over each utterance that
        :meth:`step` closed, all streams' segments in shared batches (``Recognizer.transcribe_many``), grouped by
        decoder. ``events``: the lists holding the final events of ``closing`` (others are left alone); a final
        that decodes to nothing (noise) and was not forced is removed from them."""
        by_decoder: Dict[int, List[Dict[str, Any]]] = {}
        for c in closing:
            by_decoder.setdefault(id(c["decoder"]), []).append(c)
        for group in by_decoder.values():
            streamed = [c for c in group if "log_probs" in c]
            group = [c for c in group if "log_probs" not in c]
            results = self.recognizer.transcribe_many([c["audio"] for c in group], decoder=group[0]["decoder"]) \
                if group else []
            if streamed:
                segs = self.recognizer.decode_log_probs([c["log_probs"] for c in streamed],
                                                        [c["samples"] for c in streamed], streamed[0]["decoder"],
                                                        searches=[c["search"] for c in streamed])
                group += streamed
                results += [Transcript(text=seg.text, segments=[seg] if seg.text else [],
                                       duration=c["samples"] / self.sample_rate, sample_rate=self.sample_rate)
                            for c, seg in zip(streamed, segs)]
            for c, result in zip(group, results):
                ev = c["event"]
                ev["text"], ev["display"] = result.text, result.display
                ev["words"] = [{**w.to_dict(), "start": round(w.start + c["start"], 3),
                                "end": round(w.end + c["start"], 3)} for w in result.words]
                lists = [seg.nbest for seg in result.segments if seg.nbest]
                if lists:  # k-th alternative of the utterance: every segment's k-th (or its last) hypothesis
                    k_max = max(len(n) for n in lists)
                    ev["nbest"] = [{"text": " ".join(n[min(k, len(n) - 1)]["text"] for n in lists),
                                    "score": round(sum(n[min(k, len(n) - 1)]["score"] for n in lists), 4)}
                                   for k in range(k_max)]
                if not result.text and not c["keep_empty"]:
                    ev["drop"] = True  # noise that decodes to nothing is not an utterance
        for evs in events:
            evs[:] = [e for e in evs if not e.pop("drop", False)]
