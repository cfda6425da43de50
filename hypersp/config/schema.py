"""Top-level configuration schema shared by train / eval / serve (no torch imports)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List

# Numeric precisions of a forward pass: training (``trainer.precision``) and inference (``precision=`` of
# ``hypersp.load``, ``--precision`` of eval/transcribe/serve). bf16 and fp16 run under ``torch.autocast``.
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class OptimConfig:
    """AdamW with a warmup + decay learning-rate schedule."""

    lr: float = 1e-3
    weight_decay: float = 1e-3
    betas: List[float] = field(default_factory=lambda: [0.9, 0.98])
    warmup_steps: int = 500
    schedule: str = "cosine"        # cosine | noam | poly | constant (after warmup)
    min_lr_ratio: float = 0.02      # floor of cosine/poly decay, as a fraction of lr
    grad_clip: float = 1.0          # max global grad norm; 0 disables


@dataclass
class TrainerConfig:
    """The training loop (``hypersp.train.trainer``); see docs/training.md.

    Multi-GPU / multi-node: launch with ``torchrun`` (or ``nproc_per_node > 1``); every rank reads
    the same config. ``accumulate_grad`` micro-batches make one optimizer step, so the effective
    batch is ``task.batch_seconds x accumulate_grad x world size`` audio seconds.
    """

    out_dir: str = "runs/exp"
    max_steps: int = 20000          # optimizer steps (not micro-batches)
    max_minutes: float = 0.0        # wall-clock budget; 0 = unlimited. Stops cleanly and saves.
    val_every: int = 500            # steps between validations (and checkpoints)
    log_every: int = 50             # steps between plain-text log lines (OUT_DIR/train_log.jsonl gets every step)
    seed: int = 1
    device: str = "auto"            # auto | cpu | cuda | cuda:N (under torchrun: cuda:LOCAL_RANK)
    num_threads: int = 0            # torch intra-op threads on CPU; 0 = torch default
    resume: str = ""                # checkpoint path to resume from, or "auto" (OUT_DIR/last.pt if present)
    init_from: str = ""             # fine-tuning: a checkpoint path or shipped model name whose model weights and
                                    # vocabulary start this run (fresh optimizer, schedule and step count); the
                                    # model config may differ where shapes do not (attention context, dropout,
                                    # task.features.normalize). Ignored when a resume checkpoint is found.
    progress_bar: bool = True
    max_valid_utterances: int = 0   # 0 = whole validation manifest
    precision: str = "fp32"         # fp32 | bf16 (autocast, CPU or CUDA) | fp16 (autocast + GradScaler, CUDA only)
    accumulate_grad: int = 1        # micro-batches per optimizer step
    ema_decay: float = 0.0          # EMA of weights (e.g. 0.999); 0 = off. When on, validation and the
                                    # "model" weights of every checkpoint are the EMA weights.
    early_stopping_patience: int = 0  # stop after this many validations without a better CER; 0 = off
    keep_last_n: int = 0            # also keep OUT_DIR/ckpt_step{N}.pt for the last N validations; 0 = none
    keep_best_n: int = 0            # ... and for the N best by validation CER (for hypersp-average)
    nproc_per_node: int = 1         # hypersp-train re-launches itself with torch.distributed.run when > 1
    find_unused_parameters: bool = False  # DistributedDataParallel option for models with unused parameters


@dataclass
class DecodingConfig:
    """How model output becomes text (hypersp-eval, inference).

    name: a registered decoder (``hypersp.registry.DECODERS``): ``greedy`` (best path) | ``ctc_beam``
    (CTC prefix beam search, optional n-gram LM and hotwords; any model) | ``attention`` (attention
    beam search with CTC prefix scores; models with a decoder, e.g. ``transformer``) | a plugin's.
    Built by ``hypersp.decoding.build_decoder(cfg, tokenizer, model)``. Fields a decoder does not
    use are ignored. Every built-in decoder outputs only composed Hangul (no bare jamo).
    """

    name: str = "greedy"
    beam_size: int = 16
    nbest: int = 1                   # hypotheses kept per utterance (with scores)
    lm_path: str = ""                # ARPA n-gram LM for ctc_beam shallow fusion ("" = none)
    lm_weight: float = 0.5           # multiplies the LM's natural-log probability
    word_bonus: float = 0.0          # added per word (balances the LM's preference for short outputs)
    lm_partial_word_penalty: float = 0.0  # ctc_beam with a word LM: added (natural log, not x lm_weight) while
                                     # the unfinished word is no prefix of an LM word, and kept for a finished
                                     # word the LM does not know; <= 0, pyctcdecode uses -10; 0 = off
    hotwords: List[str] = field(default_factory=list)  # words/phrases to boost (ctc_beam)
    hotword_weight: float = 2.0      # bonus per matched token of a hotword, kept only if completed
    prune_topk: int = 10             # ctc_beam: candidate tokens per frame at most
    token_min_logprob: float = -5.0  # ctc_beam: candidate tokens need at least this log-prob
    blank_threshold: float = 0.999   # ctc_beam: frames with P(blank) above it are not searched (1 = off)
    ctc_weight: float = 0.3          # attention: weight of the CTC prefix score
    length_bonus: float = 0.0        # attention: added per output token


@dataclass
class VadConfig:
    """The voice activity detector that cuts long input into segments and tells the streaming endpointer
    about silence (``vad.*``). ``name`` picks a registered VAD (``hypersp.inference.vads``): ``webrtc``
    (the default; ``webrtcvad-wheels``, a 0.2 MB dependency of hypersp), ``energy`` (pure numpy),
    ``silero`` (pip package ``silero-vad`` run on onnxruntime; ``pip install 'hypersp[vad]'``).

    Why webrtc (``python bench/vad_compare.py``, README "Voice activity detection"): with the demo model,
    mean CER over white/pink/babble/event noise at 10 dB SNR is 12.4 % with webrtc, 11.9 % with silero and
    23.8 % with the energy VAD (which keeps only 92 % of the speech), clean audio equal to energy; it costs
    1.4x the energy VAD's CPU where silero costs 33x (0.39 CPU s per audio minute, more than the model's
    share in a busy streaming server).

    Durations in seconds. ``frame_ms``/``hop_ms``/``margin_db``/``min_db`` are the energy VAD's;
    ``threshold`` is silero's speech probability, ``webrtc_mode`` webrtc's aggressiveness (0-3). The rest
    shape the segments of every VAD.
    """

    name: str = "webrtc"
    frame_ms: float = 30.0
    hop_ms: float = 10.0
    margin_db: float = 12.0  # above the noise floor
    min_db: float = -50.0  # never call anything quieter than this speech
    min_speech_s: float = 0.15
    min_silence_s: float = 0.4  # gaps shorter than this stay inside a segment
    pad_s: float = 0.1
    max_segment_s: float = 20.0  # longer speech regions are cut at their quietest frame
    threshold: float = 0.5  # silero: speech probability that starts speech (it continues above threshold - 0.15)
    webrtc_mode: int = 2  # webrtc: aggressiveness 0 (keeps most) .. 3 (drops most)
    energy_gate_db: float = 6.0  # silero/webrtc: speech frames must also be this far above the noise floor
                                 # (at most half the floor-to-loud spread; 0 = off): background talkers are not speech
    crosstalk_margin_db: float = 10.0  # channels=True (one speaker per channel, e.g. stereo calls): speech
        # frames this far below the loudest other channel are its echo; echo-only stretches are cut out of the
        # channel's segments and a segment left without its own speech is not a turn (rule:
        # hypersp.inference.crosstalk); overlap (both talk) keeps both; 0 or negative = off


@dataclass
class StreamingConfig:
    """Live recognition (``hypersp.inference.streaming``; ``streaming.*``): chunking and endpointing.

    Every duration is in seconds. Endpoint rules (after each step of ``chunk_s``; the first that fires ends
    the utterance; thresholds may be set per connection): trailing silence >= ``endpoint_silence_s`` once
    the model has emitted text; trailing silence >= ``endpoint_silence_no_text_s`` when it has not (noise,
    coughs: dropped when the final pass finds no text either); utterance length >= ``max_utterance_s``,
    cut at the quietest point of its last ``max_cut_search_s``. Audio after a cut starts the next utterance.
    """

    chunk_s: float = 0.32  # audio per decode step (a message of any size is consumed in steps of this)
    # While an utterance has no text yet (before the VAD opens it, and after, until its first partial), steps of
    # this size between the chunk_s steps: the utterance opens and its first partial comes sooner. The chunk_s
    # steps stay where they were, and an utterance opened between two of them starts where it would have at the
    # next one, so finals do not change. 0: chunk_s steps only. Streams without partials step by chunk_s.
    start_step_s: float = 0.1
    left_context_s: float = 2.0  # already-committed audio re-fed to the model as context
    lookahead_s: float = 0.48  # newest output frames stay tentative
    endpoint_silence_s: float = 0.5  # trailing silence after text that ends an utterance (bench/streaming_longform.py)
    endpoint_silence_no_text_s: float = 2.4  # trailing silence that ends an utterance with no text yet
    endpoint_mode: str = "either"  # "either" (CTC blanks or VAD), "both" (CTC blanks and VAD), "ctc", "vad"
    max_utterance_s: float = 20.0
    max_cut_search_s: float = 3.0  # a max-length cut goes to the quietest 10 ms frame of this last stretch
    cut_pad_s: float = 0.2  # silence kept after the last speech when an utterance is cut
    min_speech_s: float = 0.2  # VAD speech needed before an utterance starts
    preroll_s: float = 0.5  # audio kept before the speech that started an utterance
    final_full_context: bool = True  # the final re-decodes the utterance through the engine (VAD, decoder)
    # Window mode: while more than this is queued for a stream (large messages, or a server that fell behind),
    # its steps skip the model and end utterances by the VAD; one window then covers all the skipped audio, so a
    # stream catches up instead of staying behind. Results are unchanged while the server keeps up with messages
    # of up to this size.
    catchup_s: float = 1.0
    # Partial results while an utterance is open. false: finals only (as Google's interim_results=false): no model
    # step until the utterance ends, where the VAD says (anything it calls speech counts as text for the silence
    # rule; noise that decodes to nothing is dropped), so a stream costs about what an upload of its audio costs.
    # A connection may set it in its settings message ("partials": false).
    partials: bool = True
    # How the model runs on a live stream (hypersp/inference/cached_stream.py): "cached" (models that can
    # stream: each step costs work proportional to the new audio; others fall back to "window") or "window"
    # (the whole model re-run on left_context_s + new audio every step).
    mode: str = "window"
    cached_left_frames: int = 64  # cached: attention left context per layer, output frames (-1 = all)
    cached_right_frames: int = 0  # cached: attention lookahead per layer, output frames
    feature_norm: str = "cumulative"  # cached: per-utterance normalization replaced by "cumulative" or "none"
    cached_peek: bool = True  # cached: partials and CTC endpoints also see the frames within the lookahead (models looking ahead < 0.1 s never peek)
    # cached: what runs the tensor core of a step where the model has one (conformer without attention lookahead,
    # causal convolutions): "onnxruntime" (exported once per process: ~4x less time per step than "torch" for the
    # demo streaming models), "torch", or "auto" (onnxruntime where it is installed, else torch).
    step_runtime: str = "auto"
    # Two-pass streaming (cached mode with final_full_context=true; window mode ignores it): a streaming model
    # (shipped name or checkpoint) runs the live steps (partials, CTC endpoints) and this model's full pass over
    # each utterance makes its final, so finals have an upload's text while the live steps cost what the streaming
    # model's cached steps do. The shipped demo_ko_16k / demo_ko_8k set it (hypersp/pretrained/NAME.streaming.yaml).
    first_pass_model: str = ""


@dataclass
class ServeConfig:
    """The demo server (``hypersp-serve``; ``serve.*``): limits and batching."""

    max_streams: int = 64  # open WebSocket sessions; more are refused with close 1013
    max_body_mb: float = 200.0  # HTTP body limit (uploads); JSON PCM16 is ~3x the audio size
    max_frame_kb: int = 1024  # WebSocket message limit (1 MiB ~ 10 s of 16 kHz JSON PCM16)
    max_json_seconds: float = 600.0  # longest audio accepted as a JSON sample list
    idle_timeout_s: float = 30.0  # a WebSocket that sends nothing this long is closed
    final_after_idle_s: float = 2.0  # a client that pauses this long without state 0 gets its final anyway
    max_batch: int = 32
    max_wait_ms: float = 5.0
    max_jobs: int = 32  # subtitle jobs kept in memory
    # Which form subtitles and the pages show by default (a request's "display" setting overrides it):
    # the display form (오후 3시에 뵙겠습니다.) or, false, the spoken form (오후 세 시에 뵙겠습니다). JSON carries both.
    display: bool = True
    # Uploads (POST /recognize, subtitle jobs): admitted before the body is read, else 503 + Retry-After.
    max_uploads: int = 4  # uploads being read, decoded or recognized at once
    max_upload_mb_in_flight: float = 400.0  # their total declared size (MB); one upload alone is always admitted
    body_timeout_s: float = 20.0  # an upload that sends no byte for this long is dropped (408)
    decode_workers: int = 1  # processes that parse JSON bodies and decode audio files (ffmpeg included)
    # Streams are admitted only while the streaming worker keeps up (else close 1013 with the reason):
    max_stream_lag_s: float = 1.0  # p95 wait of a streaming step in the worker's queue over the last 5 s
    # predicted busy fraction of the streaming worker with one more stream: rtf x (streams + 1). Half, because the
    # RTF is measured on streaming steps and finals (a final pass with beam + LM) come in bursts: with demo_ko_16k
    # and 30 clients ending together, 0.5 kept finals at 0.36 s (p95), 0.9 let them reach 3.4 s (bench/serve_admission.py)
    max_stream_load: float = 0.5
    # Browser pages allowed to open WebSockets, besides the server's own origin (same host:port): full
    # origins ("https://app.example.com:8443"), host names ("app.example.com", any scheme and port) or "*".
    allowed_origins: List[str] = field(default_factory=lambda: ["localhost", "127.0.0.1", "::1"])


@dataclass
class Config:
    """The fully resolved configuration of a run. Groups ``task``, ``model``, ``tokenizer`` and
    ``criterion`` take the schema of the component their ``name`` selects."""

    task: Any = None
    model: Any = None
    tokenizer: Any = None
    criterion: Any = None
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    plugins: List[str] = field(default_factory=list)
