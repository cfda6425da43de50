"""hypersp's default corpus: synthetic Korean speech from eSpeak NG, generated in seconds.

``generate_corpus(out_dir, SyntheticConfig(hours=1.5))`` writes::

    out_dir/wavs/<utt_id>.wav        PCM16 mono at cfg.sample_rate (8000 Hz when cfg.telephone)
    out_dir/train.jsonl              NeMo-style manifests, one JSON object per line:
    out_dir/dev.jsonl                  {"audio_filepath": "wavs/<utt_id>.wav", "duration": 2.345,
    out_dir/test.jsonl                  "text": ..., "utt_id": ..., "speaker": <voice variant>,
                                        "corpus": "synthetic"}
    out_dir/report.json              counts and hours per split, seed, config and its hash

Sentences come from :mod:`hypersp.prepare.synthetic.korean_text` (Hangul and spaces only, so the text is the
training target as is). Splits are by sentence: no dev or test sentence is spoken in train;
part of test is spoken by voice variants never heard in train or dev (``heldout_variants``).

``text`` chooses the sentences: ``templates`` (the default, unchanged), ``broad`` (a share
``broad_fraction`` of the sentences drawn from the broad pool of real Korean text and lexicons,
:mod:`hypersp.prepare.synthetic.broad_text`, which needs ``pip install hypersp[broadtext]``; the rest from the
templates), or ``open`` (the reserved open-vocabulary test sentences of
:mod:`hypersp.prepare.synthetic.open_test_text`, written to ``test.jsonl`` only, every one spoken by a
``heldout_variants`` voice at a rate in ``heldout_rate_band`` or else ``min_rate..max_rate``;
``hours`` and the fractions are ignored; train.jsonl and dev.jsonl are empty).

Closer to long, real input (all off by default; training utterances only): ``long_fraction`` joins
consecutive training sentences into 10-30 s utterances with 0.3-1.2 s pauses (``long_seconds``,
``long_pause_s``); ``reverb_fraction`` puts utterances in a synthetic room (RT60 from ``rt60_s``);
``codec_fraction`` passes them through a lossy codec (mp3, vorbis, opus, mu-law, A-law; ``codecs``).

Every random choice is drawn from ``numpy.random.Generator``: the plan (sentence, split, voice,
rate, pitch) from one generator seeded with ``cfg.seed``, each utterance's padding, noise and
gain from its own generator seeded with ``(cfg.seed, utterance index)``; eSpeak itself runs
from a clean state per utterance (see :mod:`hypersp.prepare.synthetic.espeak`). The output is therefore
byte-identical for any number of worker processes. A finished corpus with the same
config hash is reused; an interrupted run resumes, keeping the wavs already written.

Interruption (Ctrl-C, a kill, a crash): every file is published only when complete
(:mod:`hypersp.prepare.atomic`: a hidden temporary name in the same folder, fsync, rename), the
manifests and ``report.json`` (written last, it marks the corpus complete) likewise. Workers ignore
SIGINT: on Ctrl-C the parent cancels the utterances not started, lets each worker finish the one it is
on and raises KeyboardInterrupt (with ``jobs=1`` the interrupt waits for the current utterance).
A rerun removes leftover temporary files, keeps the wavs that are complete (header and size agree)
and makes the rest, so its output is byte-identical to an uninterrupted run
(``tests/test_prepare_interrupt.py`` interrupts at random points and compares).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import multiprocessing
import signal
import threading
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import soxr

from hypersp.prepare.atomic import fsync_dir, publish, remove_temporaries, write_text_atomic
from hypersp.prepare.synthetic.espeak import EspeakSynthesizer, available_variants
from hypersp.prepare.synthetic.korean_text import REGISTERS, babble_sentence, generate_sentences

log = logging.getLogger(__name__)

# Bump when anything that changes the generated files changes (text generator, synthesis, DSP):
# it is part of the config hash, so stale corpora are regenerated rather than reused.
GENERATOR_VERSION = 1

SPLITS = ("train", "dev", "test")
TEXT_CHOICES = ("templates", "broad", "open")

# Ten male and ten female eSpeak NG variants that sound like plain speech (no whisper, croak or
# robot effects). The held-out ones are used only for part of the test split.
DEFAULT_VARIANTS = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "Andy", "Lee", "Storm",
    "f1", "f2", "f3", "f4", "Alicia", "Annie", "anika", "belinda", "linda", "steph",
]
DEFAULT_HELDOUT_VARIANTS = ["m8", "travis", "f5", "steph2"]
# Variants that crash (SIGSEGV) the eSpeak NG build of espeakng-loader on Korean text at some
# pitch settings (found by synthesizing with every variant); ``variants=[all]`` leaves them out.
CRASHING_VARIANTS = frozenset({"Demonic", "rob"})

# Lossy codecs a training utterance can pass through (codec_fraction): name -> soundfile (format, subtype).
# All are libsndfile's own, so nothing beyond soundfile is needed; opus runs at 8/16/24/48 kHz only.
CODECS = {"mp3": ("MP3", "MPEG_LAYER_III"), "vorbis": ("OGG", "VORBIS"), "opus": ("OGG", "OPUS"),
          "ulaw": ("WAV", "ULAW"), "alaw": ("WAV", "ALAW")}
# Fields added after corpora were first made: left out of the config hash while they have these values, so
# those corpora keep their hash (and are reused, not regenerated).
_HASH_NEUTRAL_DEFAULTS = {"long_fraction": 0.0, "long_seconds": [10.0, 30.0], "long_pause_s": [0.3, 1.2],
                          "reverb_fraction": 0.0, "rt60_s": [0.2, 0.8], "codec_fraction": 0.0,
                          "codecs": list(CODECS)}

# Mean utterance length in seconds measured on the default config (speech plus padding); used
# only to decide how many sentences give ``hours`` of training audio.
_MEAN_UTTERANCE_SECONDS = 3.9
_TRIM_THRESHOLD_DB = -40.0  # frames quieter than this (relative to the loudest frame) are silence
_PEAK_RANGE = (0.3, 0.9)  # random peak level of the written audio, fraction of full scale


@dataclass
class SyntheticConfig:
    """How the synthetic corpus is made. Rates in Hz, durations in seconds."""

    hours: float = 1.5  # approximate hours of *training* audio; dev/test come on top
    seed: int = 0
    sample_rate: int = 16000  # output rate; ignored (8000) when telephone is true
    telephone: bool = False  # 8 kHz narrowband G.711-like channel (hypersp.audio.augment.telephone_channel)
    dev_fraction: float = 0.05  # fraction of all sentences
    test_fraction: float = 0.05
    heldout_test_fraction: float = 0.5  # fraction of test utterances spoken by heldout_variants
    registers: List[str] = field(default_factory=list)  # korean_text registers; empty = all
    min_rate: int = 130  # eSpeak speaking rate, words per minute
    max_rate: int = 230
    min_pitch: int = 25  # eSpeak pitch 0..100 (50 = the variant's own)
    max_pitch: int = 80
    min_pitch_range: int = 30  # eSpeak intonation range 0..100
    max_pitch_range: int = 80
    noise_snr_db_min: float = 30.0  # light white/pink noise, SNR in dB; 0 for both disables noise
    noise_snr_db_max: float = 50.0
    min_silence: float = 0.1  # silence kept before and after the speech, drawn per utterance
    max_silence: float = 0.25
    variants: List[str] = field(default_factory=lambda: list(DEFAULT_VARIANTS))  # ["all"]: every variant not held out
    heldout_variants: List[str] = field(default_factory=lambda: list(DEFAULT_HELDOUT_VARIANTS))
    # [min, max] wpm band spoken only by the held-out part of test; train and dev never use it. [] = none.
    heldout_rate_band: List[int] = field(default_factory=list)
    # Fraction of *training* utterances whose text is random Hangul syllables ("babble") instead of a
    # sentence: every initial/medial/final jamo in many contexts, so unseen words are not unseen sounds.
    babble_fraction: float = 0.0
    # Where sentences come from: "templates" | "broad" | "open" (see the module docstring).
    text: str = "templates"
    broad_fraction: float = 0.5  # text=broad: share of sentences from the broad pool
    # Long input: this fraction of *training* utterances joins consecutive training sentences, spoken by one
    # voice with a pause of long_pause_s[0]..[1] s between them, to about long_seconds[0]..[1] s in all (the
    # models otherwise only hear ~4 s utterances and decode long windows badly). Hours stay as they are: a long
    # utterance uses up the sentences it joins.
    long_fraction: float = 0.0
    long_seconds: List[float] = field(default_factory=lambda: [10.0, 30.0])
    long_pause_s: List[float] = field(default_factory=lambda: [0.3, 1.2])
    # Rooms and channels (training utterances only): a synthetic room impulse response with an RT60 drawn
    # from rt60_s, and a lossy codec round trip (one of `codecs`, see CODECS) after the channel.
    reverb_fraction: float = 0.0
    rt60_s: List[float] = field(default_factory=lambda: [0.2, 0.8])
    codec_fraction: float = 0.0
    codecs: List[str] = field(default_factory=lambda: list(CODECS))

    @property
    def output_rate(self) -> int:
        return 8000 if self.telephone else int(self.sample_rate)


def resolved_variants(cfg: SyntheticConfig) -> List[str]:
    """cfg.variants with ``"all"`` expanded to every installed variant that is not held out."""
    if list(cfg.variants) == ["all"]:
        skip = set(cfg.heldout_variants) | CRASHING_VARIANTS
        return [v for v in available_variants() if v not in skip]
    return list(cfg.variants)


def as_synthetic_config(cfg: Any) -> SyntheticConfig:
    """A SyntheticConfig from itself, a dict or an OmegaConf DictConfig (other keys are ignored)."""
    if isinstance(cfg, SyntheticConfig):
        return cfg
    if cfg is None:
        return SyntheticConfig()
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    if dataclasses.is_dataclass(cfg):
        cfg = dataclasses.asdict(cfg)
    names = {f.name for f in dataclasses.fields(SyntheticConfig)}
    return SyntheticConfig(**{k: v for k, v in dict(cfg).items() if k in names})


def validate_config(cfg: SyntheticConfig) -> None:
    """Raise ConfigError (a ValueError) naming every bad field at once, in one line."""
    errors = []
    if not cfg.hours > 0:
        errors.append(f"hours={cfg.hours}: must be > 0")
    if cfg.output_rate <= 0:
        errors.append(f"sample_rate={cfg.sample_rate}: must be > 0 Hz")
    for name in ("dev_fraction", "test_fraction", "heldout_test_fraction"):
        if not 0 <= getattr(cfg, name) <= 1:
            errors.append(f"{name}={getattr(cfg, name)}: must be in [0, 1]")
    if cfg.dev_fraction + cfg.test_fraction >= 1:
        errors.append(f"dev_fraction + test_fraction = {cfg.dev_fraction + cfg.test_fraction}: must be < 1")
    for lo, hi in (("min_rate", "max_rate"), ("min_pitch", "max_pitch"), ("min_pitch_range", "max_pitch_range"),
                   ("noise_snr_db_min", "noise_snr_db_max"), ("min_silence", "max_silence")):
        if getattr(cfg, lo) > getattr(cfg, hi):
            errors.append(f"{lo}={getattr(cfg, lo)} > {hi}={getattr(cfg, hi)}")
    if cfg.min_silence < 0:
        errors.append(f"min_silence={cfg.min_silence}: must be >= 0")
    for r in cfg.registers:
        if r not in REGISTERS:
            errors.append(f"registers: unknown {r!r}; choose from {', '.join(REGISTERS)}")
    known = set(available_variants()) | {"all"}
    if not cfg.variants:
        errors.append("variants: empty; list eSpeak NG voice variants such as m1, f3")
    for name in ("variants", "heldout_variants"):
        unknown = [v for v in getattr(cfg, name) if v not in known]
        if unknown:
            errors.append(f"{name}: unknown eSpeak NG variants {unknown}; available: {', '.join(sorted(known))}")
    if "all" in cfg.variants and len(cfg.variants) > 1:
        errors.append(f"variants: 'all' must stand alone, got {list(cfg.variants)}")
    if "all" in cfg.heldout_variants:
        errors.append("heldout_variants: 'all' is not allowed; name the held-out variants")
    band = list(cfg.heldout_rate_band)
    if band and (len(band) != 2 or not cfg.min_rate <= band[0] <= band[1] <= cfg.max_rate
                 or (band[0] == cfg.min_rate and band[1] == cfg.max_rate)):
        errors.append(f"heldout_rate_band={band}: must be [lo, hi] inside [min_rate, max_rate] = "
                      f"[{cfg.min_rate}, {cfg.max_rate}], leaving rates outside it for training")
    if cfg.text not in TEXT_CHOICES:
        errors.append(f"text={cfg.text!r}: choose one of {', '.join(TEXT_CHOICES)}")
    if not 0 < cfg.broad_fraction <= 1:
        errors.append(f"broad_fraction={cfg.broad_fraction}: must be in (0, 1]")
    if cfg.text == "open" and not cfg.heldout_variants:
        errors.append("text=open: heldout_variants is empty; the open test is spoken by held-out voices only")
    for name in ("long_fraction", "reverb_fraction", "codec_fraction"):
        if not 0 <= getattr(cfg, name) <= 1:
            errors.append(f"{name}={getattr(cfg, name)}: must be in [0, 1]")
    for name, floor in (("long_seconds", 1.0), ("long_pause_s", 0.0), ("rt60_s", 0.05)):
        pair = list(getattr(cfg, name))
        if len(pair) != 2 or not floor <= pair[0] <= pair[1]:
            errors.append(f"{name}={pair}: must be [lo, hi] with {floor} <= lo <= hi (seconds)")
    unknown_codecs = [c for c in cfg.codecs if c not in CODECS]
    if unknown_codecs or (cfg.codec_fraction > 0 and not cfg.codecs):
        errors.append(f"codecs={list(cfg.codecs)}: choose from {', '.join(CODECS)}")
    if cfg.long_fraction > 0 and cfg.babble_fraction + cfg.long_fraction >= 1:
        errors.append(f"babble_fraction + long_fraction = {cfg.babble_fraction + cfg.long_fraction}: must be < 1")
    if not 0 <= cfg.babble_fraction < 1:
        errors.append(f"babble_fraction={cfg.babble_fraction}: must be in [0, 1)")
    overlap = sorted(set(cfg.variants) & set(cfg.heldout_variants))
    if overlap:
        errors.append(f"heldout_variants {overlap} also appear in variants; held-out voices must be unseen")
    if errors:
        from hypersp.config.composition import ConfigError  # a ValueError; hypersp-prepare: one line, exit 2

        raise ConfigError("invalid synthetic corpus options: " + "; ".join(errors))


def config_hash(cfg: SyntheticConfig) -> str:
    config = dataclasses.asdict(cfg)
    if cfg.text == "templates":  # corpora made before `text` existed keep their hash
        config.pop("text")
        config.pop("broad_fraction")
    for name, default in _HASH_NEUTRAL_DEFAULTS.items():
        if config[name] == default:
            config.pop(name)
    payload = {"config": config, "generator_version": GENERATOR_VERSION}
    if cfg.text == "broad":  # the pool depends on the installed text packages
        from hypersp.prepare.synthetic.broad_text import POOL_VERSION, source_versions

        payload["broad_text_versions"] = source_versions()
        payload["broad_pool_version"] = POOL_VERSION
    if list(cfg.variants) == ["all"]:  # what "all" means depends on the installed eSpeak NG data
        payload["resolved_variants"] = resolved_variants(cfg)
    payload = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- planning


def _broad_mix(cfg: SyntheticConfig, total: int) -> List[str]:
    """text=broad: ``total`` distinct sentences, ``broad_fraction`` of them from the broad pool (in
    the pool's seeded order), the rest from the templates; template sentences first."""
    from hypersp.prepare.synthetic.broad_text import broad_sentences

    n_broad = round(total * cfg.broad_fraction)
    out = generate_sentences(total - n_broad, seed=cfg.seed, register=cfg.registers or None) if n_broad < total else []
    seen = set(out)
    for sentence in broad_sentences(seed=cfg.seed):
        if len(out) == total:
            break
        if sentence not in seen:
            seen.add(sentence)
            out.append(sentence)
    if len(out) < total:
        raise ValueError(f"text=broad: the broad pool has too few sentences for {total} utterances "
                         f"(broad_fraction={cfg.broad_fraction}); lower hours or broad_fraction")
    return out


def _plan_open(cfg: SyntheticConfig) -> List[Dict[str, Any]]:
    """text=open: every reserved open-test sentence once, in the test split, held-out voices only."""
    from hypersp.prepare.synthetic.open_test_text import OPEN_TEST_REGISTERS, open_test_sentences

    regs = [r for r in cfg.registers if r in OPEN_TEST_REGISTERS] or [None]
    sentences = [s for r in regs for s in open_test_sentences(r)]
    rng = np.random.default_rng([cfg.seed, 31])
    lo, hi = (cfg.heldout_rate_band if cfg.heldout_rate_band else (cfg.min_rate, cfg.max_rate))
    voices = list(cfg.heldout_variants)
    return [{
        "index": k,
        "utt_id": f"synth-open-{k:06d}",
        "split": "test",
        "text": text,
        "speaker": voices[int(rng.integers(len(voices)))],
        "rate": int(rng.integers(lo, hi + 1)),
        "pitch": int(rng.integers(cfg.min_pitch, cfg.max_pitch + 1)),
        "pitch_range": int(rng.integers(cfg.min_pitch_range, cfg.max_pitch_range + 1)),
    } for k, text in enumerate(sentences)]


def plan_corpus(cfg: SyntheticConfig) -> List[Dict[str, Any]]:
    """The utterances to make, in manifest order: one dict per utterance with
    ``index, utt_id, split, text, speaker, rate, pitch, pitch_range``. Pure function of cfg
    (and, for text=broad, of the installed broad-text packages)."""
    if cfg.text == "open":
        return _plan_open(cfg)
    train_share = 1.0 - cfg.dev_fraction - cfg.test_fraction
    n_train = max(1, math.ceil(cfg.hours * 3600.0 / _MEAN_UTTERANCE_SECONDS))
    total = max(n_train, math.ceil(n_train / train_share))
    n_test = round(total * cfg.test_fraction) if cfg.test_fraction > 0 else 0
    n_dev = round(total * cfg.dev_fraction) if cfg.dev_fraction > 0 else 0
    n_test, n_dev = max(n_test, 1 if cfg.test_fraction > 0 else 0), max(n_dev, 1 if cfg.dev_fraction > 0 else 0)
    total = max(total, n_test + n_dev + 1)

    if cfg.text == "broad":
        sentences = _broad_mix(cfg, total)
    else:
        sentences = generate_sentences(total, seed=cfg.seed, register=cfg.registers or None)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(total)  # sentence index per slot; splits take disjoint slices
    split_slices = {"test": order[:n_test], "dev": order[n_test:n_test + n_dev], "train": order[n_test + n_dev:]}
    n_heldout = round(n_test * cfg.heldout_test_fraction) if cfg.heldout_variants else 0
    variants = resolved_variants(cfg)
    band = list(cfg.heldout_rate_band)
    # A separate generator, so that corpora without babble keep their exact plan.
    babble_rng = np.random.default_rng([cfg.seed, 1])

    def draw_rate(heldout: bool) -> int:
        if not band:
            return int(rng.integers(cfg.min_rate, cfg.max_rate + 1))
        if heldout:
            return int(rng.integers(band[0], band[1] + 1))
        while True:  # rejection: the band is a small part of [min_rate, max_rate] (validated)
            rate = int(rng.integers(cfg.min_rate, cfg.max_rate + 1))
            if not band[0] <= rate <= band[1]:
                return rate

    # Separate generators again: long utterances, rooms and codecs leave the plan of a corpus without them as it was.
    long_rng = np.random.default_rng([cfg.seed, 2])
    room_rng = np.random.default_rng([cfg.seed, 3])

    plan = []
    for split in SPLITS:
        slots = [int(i) for i in split_slices[split]]
        k = 0
        while slots:
            heldout = split == "test" and k < n_heldout
            voices = cfg.heldout_variants if heldout else variants
            texts = [sentences[slots.pop(0)]]
            pauses: List[float] = []
            if split == "train" and cfg.long_fraction > 0 and long_rng.random() < cfg.long_fraction:
                target = long_rng.uniform(*cfg.long_seconds)
                mean_pause = sum(cfg.long_pause_s) / 2
                joined = max(2, round((target + mean_pause) / (_MEAN_UTTERANCE_SECONDS + mean_pause)))
                while len(texts) < joined and slots:
                    texts.append(sentences[slots.pop(0)])
                    pauses.append(round(float(long_rng.uniform(*cfg.long_pause_s)), 3))
            elif split == "train" and cfg.babble_fraction > 0 and babble_rng.random() < cfg.babble_fraction:
                texts = [babble_sentence(babble_rng)]
            item = {
                "index": len(plan),
                "utt_id": f"synth-{split}-{k:06d}",
                "split": split,
                "text": " ".join(texts),
                "speaker": voices[int(rng.integers(len(voices)))],
                "rate": draw_rate(heldout),
                "pitch": int(rng.integers(cfg.min_pitch, cfg.max_pitch + 1)),
                "pitch_range": int(rng.integers(cfg.min_pitch_range, cfg.max_pitch_range + 1)),
            }
            if pauses:
                item["sentences"], item["pauses"] = texts, pauses
            if split == "train" and cfg.reverb_fraction > 0 and room_rng.random() < cfg.reverb_fraction:
                item["rt60"] = round(float(room_rng.uniform(*cfg.rt60_s)), 3)
            if split == "train" and cfg.codec_fraction > 0 and room_rng.random() < cfg.codec_fraction:
                item["codec"] = str(cfg.codecs[int(room_rng.integers(len(cfg.codecs)))])
            plan.append(item)
            k += 1
    return plan


# --------------------------------------------------------------------------- signal processing


def trim_silence(x: np.ndarray, sample_rate: int, threshold_db: float = _TRIM_THRESHOLD_DB) -> np.ndarray:
    """Cut leading/trailing 5 ms frames whose RMS is ``threshold_db`` below the loudest frame."""
    hop = max(1, sample_rate // 200)
    n = len(x) // hop
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (threshold_db / 20))
    if len(loud) == 0:
        return x[:0]
    return x[loud[0] * hop: min(len(x), (loud[-1] + 1) * hop)]


def _noise(rng: np.random.Generator, n: int, pink: bool) -> np.ndarray:
    """Unit-RMS white or pink (1/f power) noise of n samples."""
    if pink and n > 2:
        size = 1 << (n - 1).bit_length()  # power-of-two FFT: arbitrary lengths can be 20x slower
        spectrum = np.fft.rfft(rng.standard_normal(size))
        f = np.arange(len(spectrum), dtype=np.float64)
        f[0] = 1.0
        noise = np.fft.irfft(spectrum / np.sqrt(f), size)[:n]
    else:
        noise = rng.standard_normal(n)
    return noise / max(np.sqrt(np.mean(noise ** 2)), 1e-12)


def room_impulse_response(rng: np.random.Generator, rt60_s: float, sample_rate: int) -> np.ndarray:
    """A synthetic room impulse response (float64, unit peak): the direct path, then a few early reflections
    (5-40 ms) and a diffuse tail of Gaussian noise decaying by 60 dB in ``rt60_s`` seconds. Enough to smear
    syllables the way a room does; not a geometric room model."""
    n = max(1, int(rt60_s * sample_rate))
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60_s)  # 10^(-60/20) = e^-6.9078 at t = rt60
    tail[: int(0.004 * sample_rate)] = 0.0  # the diffuse tail starts after the first reflections
    h = 0.3 * tail / max(np.max(np.abs(tail)), 1e-12)
    h[0] = 1.0
    for _ in range(4):
        delay = int(rng.uniform(0.005, 0.04) * sample_rate)
        if delay < n:
            h[delay] += rng.uniform(0.2, 0.6) * rng.choice((-1.0, 1.0))
    return h


def apply_reverb(x: np.ndarray, rng: np.random.Generator, rt60_s: float, sample_rate: int) -> np.ndarray:
    """``x`` (S,) convolved with :func:`room_impulse_response` and cut back to S samples, RMS kept."""
    h = room_impulse_response(rng, rt60_s, sample_rate)
    size = 1 << (len(x) + len(h) - 2).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]
    rms_in, rms_out = np.sqrt(np.mean(np.square(x))), np.sqrt(np.mean(np.square(y)))
    return y * (rms_in / rms_out) if rms_out > 0 else y


def codec_round_trip(x: np.ndarray, sample_rate: int, codec: str) -> np.ndarray:
    """Encode float ``x`` (S,) in [-1, 1] with one of :data:`CODECS` in memory and decode it again: (S,) float32.
    The decoded signal is cut or zero-padded to S samples (frame codecs add padding)."""
    import io

    import soundfile as sf

    fmt, subtype = CODECS[codec]
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0).astype(np.float32), sample_rate, format=fmt, subtype=subtype)
    buf.seek(0)
    y, _ = sf.read(buf, dtype="float32")
    y = y if y.ndim == 1 else y[:, 0]
    return np.pad(y[: len(x)], (0, max(0, len(x) - len(y))))


def render_utterance(samples: np.ndarray, source_rate: int, cfg: SyntheticConfig, index: int,
                     rt60: float = 0.0, codec: str = "") -> np.ndarray:
    """eSpeak int16 samples at ``source_rate`` -> int16 (S,) at ``cfg.output_rate``.

    Trims eSpeak's silence, pads ``min_silence..max_silence`` s at each end, applies a room (``rt60`` > 0 s),
    adds light noise, resamples (or applies the telephone channel), passes a ``codec`` (a :data:`CODECS` name)
    and scales to a random peak level. Random draws come from a generator seeded with ``(cfg.seed, index)``
    in a fixed order; the room's from its own, so that an utterance without one is unchanged.
    """
    rng = np.random.default_rng([cfg.seed, index])
    x = trim_silence(samples.astype(np.float32) / 32768.0, source_rate)
    lead, trail = rng.uniform(cfg.min_silence, cfg.max_silence, size=2)
    speech_rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    x = np.concatenate([np.zeros(int(lead * source_rate), np.float32), x,
                        np.zeros(int(trail * source_rate), np.float32)]).astype(np.float64)
    if rt60 > 0 and speech_rms > 0:
        x = apply_reverb(x, np.random.default_rng([cfg.seed, index, 3]), rt60, source_rate)
    snr_db = rng.uniform(cfg.noise_snr_db_min, cfg.noise_snr_db_max)
    pink = bool(rng.random() < 0.5)
    if cfg.noise_snr_db_max > 0 and speech_rms > 0:
        x = x + _noise(rng, len(x), pink) * speech_rms * 10 ** (-snr_db / 20)
    x = x.astype(np.float32)
    if cfg.telephone:
        from hypersp.audio.augment import telephone_channel  # imports torch; only telephone corpora pay

        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        x = telephone_channel(x * (0.7 / peak) if peak > 0 else x, source_rate)
    elif cfg.output_rate != source_rate:
        x = soxr.resample(x, source_rate, cfg.output_rate, quality="HQ")
    if codec:
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        x = codec_round_trip(x * (0.7 / peak) if peak > 0 else x, cfg.output_rate, codec)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak > 0:
        x = x * (rng.uniform(*_PEAK_RANGE) / peak)
    return np.clip(np.round(np.asarray(x, np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def write_pcm16_wav(path, samples: np.ndarray, sample_rate: int) -> None:
    """Write int16 mono samples as a canonical 44-byte-header WAV file (``path``: a path or a binary file
    opened for writing, which stays open)."""
    with wave.open(path if hasattr(path, "write") else str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


# --------------------------------------------------------------------------- workers

_worker_state: Dict[str, Any] = {}


def _init_worker(out_dir: str, cfg_dict: Dict[str, Any], worker_process: bool = True) -> None:
    if worker_process:  # Ctrl-C is the parent's to handle: an interrupt inside eSpeak would cut an utterance short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_state["out_dir"] = Path(out_dir)
    _worker_state["cfg"] = SyntheticConfig(**cfg_dict)
    _worker_state["synth"] = EspeakSynthesizer()


def _espeak_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0] & 0x7FFFFFFF)


def complete_wav_frames(path: Path, sample_rate: int) -> int | None:
    """Frames of a finished wav written by :func:`write_pcm16_wav` at ``sample_rate``; None when the file is
    missing, unreadable or not complete (its size disagrees with its header)."""
    try:
        with wave.open(str(path), "rb") as w:
            frames, rate, channels, width = w.getnframes(), w.getframerate(), w.getnchannels(), w.getsampwidth()
        size = path.stat().st_size
    except (OSError, EOFError, wave.Error):
        return None
    if (rate, channels, width) != (int(sample_rate), 1, 2) or size != 44 + 2 * frames:
        return None
    return frames


def _speak(item: Dict[str, Any], cfg: SyntheticConfig):
    """eSpeak audio of the item: int16 (S,) and its rate. A long item's sentences are spoken one by one (the
    same voice, each from its own seed) and joined with its pauses, each sentence's own silence trimmed."""
    synth = _worker_state["synth"]
    voice = dict(variant=item["speaker"], rate_wpm=item["rate"], pitch=item["pitch"], pitch_range=item["pitch_range"])
    if "sentences" not in item:
        return synth.synthesize(item["text"], seed=_espeak_seed(cfg.seed, item["index"]), **voice)
    parts, rate = [], None
    for j, sentence in enumerate(item["sentences"]):
        samples, rate = synth.synthesize(sentence, seed=_espeak_seed(cfg.seed, item["index"] * 1000 + j), **voice)
        if j:
            parts.append(np.zeros(int(item["pauses"][j - 1] * rate), np.int16))
        parts.append(trim_silence(samples.astype(np.float32), rate).astype(np.int16))
    return np.concatenate(parts), rate


def _make_utterance(item: Dict[str, Any]) -> Dict[str, Any]:
    """Write one wav (unless a complete one exists) and return its manifest line."""
    out_dir, cfg = _worker_state["out_dir"], _worker_state["cfg"]
    rel = f"wavs/{item['utt_id']}.wav"
    path = out_dir / rel
    num_frames = complete_wav_frames(path, cfg.output_rate)  # written by an interrupted run with the same config
    if num_frames is None:
        samples, rate = _speak(item, cfg)
        audio = render_utterance(samples, rate, cfg, item["index"], rt60=item.get("rt60", 0.0),
                                 codec=item.get("codec", ""))
        with publish(path) as f:  # a wav exists under its name only when complete
            write_pcm16_wav(f, audio, cfg.output_rate)
        num_frames = len(audio)
    return {
        "audio_filepath": rel,
        "duration": round(num_frames / cfg.output_rate, 3),
        "text": item["text"],
        "utt_id": item["utt_id"],
        "speaker": item["speaker"],
        "corpus": "synthetic",
    }


# --------------------------------------------------------------------------- driver


def _finished_report(out_dir: Path, digest: str) -> Dict[str, Any]:
    """The saved report if out_dir holds a complete corpus made with config hash ``digest``, else {}."""
    try:
        report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if report.get("config_hash") != digest:
        return {}
    for split in SPLITS:
        manifest = out_dir / f"{split}.jsonl"
        if not manifest.exists():
            return {}
        with open(manifest, encoding="utf-8") as f:
            for line in f:
                if not (out_dir / json.loads(line)["audio_filepath"]).exists():
                    return {}
    return report


def _clear_stale(out_dir: Path) -> None:
    """Remove files of a corpus made with another config (only names this generator writes)."""
    for name in ("report.json", ".synthetic_config_hash", *(f"{s}.jsonl" for s in SPLITS)):
        (out_dir / name).unlink(missing_ok=True)
    wavs = out_dir / "wavs"
    if wavs.is_dir():
        for p in wavs.glob("synth-*.wav"):
            p.unlink()


class _DeferredInterrupt:
    """In the main thread, a Ctrl-C only sets ``hit`` (checked between utterances) instead of raising inside
    eSpeak's audio callback, where the interrupt would be swallowed and the utterance cut short. Elsewhere:
    nothing changes."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.hit = True

    def check(self) -> None:
        if self.hit:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


class _SigintHeld:
    """SIGINT blocked (held pending, not lost) in this thread while worker processes are started: they inherit
    the blocked signal from their first instruction on (their initializer then ignores it), so a Ctrl-C during
    their start-up cannot kill them half-way; here it is delivered when the block ends."""

    def __enter__(self):
        self._held = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
        if self._held:
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        return self

    def __exit__(self, *exc):
        if self._held:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)
        return False


def _synthesize_all(plan: List[Dict[str, Any]], init_args, jobs: int, bar) -> List[Dict[str, Any]]:
    """Every utterance of ``plan`` (its manifest lines, in plan order), in ``jobs`` worker processes."""
    lines: List[Dict[str, Any]] = []
    if jobs <= 1:
        _init_worker(*init_args, worker_process=False)
        with _DeferredInterrupt() as interrupt:
            for item in plan:
                lines.append(_make_utterance(item))
                if bar:
                    bar.update(1)
                interrupt.check()
        return lines
    # spawn: workers start clean (no inherited eSpeak or torch thread state) on every platform.
    # ProcessPoolExecutor rather than Pool: a worker killed by a crash in eSpeak raises
    # BrokenProcessPool here instead of leaving the run waiting forever for its lost task.
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker, initargs=init_args)
    try:
        with _SigintHeld():  # the first submission starts the workers
            results = pool.map(_make_utterance, plan)  # one at a time: Ctrl-C waits for few
        for line in results:
            lines.append(line)
            if bar:
                bar.update(1)
    except KeyboardInterrupt:
        # Workers ignore SIGINT: each finishes the utterance it is on (a complete wav or none), the rest is dropped.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BrokenProcessPool as err:
        done = len(lines)
        raise RuntimeError(
            f"a synthesis worker died (eSpeak NG crashed) near utterance {done} of {len(plan)} "
            f"(voice variants around it: {sorted({p['speaker'] for p in plan[done:done + 32]})}); "
            f"the wavs already written are kept and a rerun resumes; leave the crashing variant out of "
            f"`variants`"
        ) from err
    finally:
        pool.shutdown(wait=True)
    return lines


def generate_corpus(out_dir: Path, cfg: Any = None, jobs: int = 1, progress: bool = True) -> Dict[str, Any]:
    """Write the synthetic corpus into ``out_dir`` (see the module docstring) and return its report.

    jobs: worker processes (1 = in this process). Output does not depend on ``jobs``. If out_dir
    already holds a finished corpus with the same config hash, nothing is regenerated and the saved
    report is returned with ``"reused": True``.
    """
    cfg = as_synthetic_config(cfg)
    validate_config(cfg)
    out_dir = Path(out_dir)
    digest = config_hash(cfg)
    start = time.time()

    report = _finished_report(out_dir, digest)
    if report:
        log.info("synthetic corpus in %s is up to date (config hash %s); reusing it", out_dir, digest)
        return {**report, "reused": True}

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "wavs").mkdir(exist_ok=True)
    # The config hash of the wavs in out_dir; kept after completion so a run whose report was
    # lost also resumes instead of starting over.
    stamp = out_dir / ".synthetic_config_hash"
    # half-written files of an interrupted run (and the names of earlier hypersp versions)
    for folder in (out_dir, out_dir / "wavs"):
        remove_temporaries(folder)
    for tmp in (out_dir / "wavs").glob("*.tmp.wav"):
        tmp.unlink()
    if not (stamp.exists() and stamp.read_text().strip() == digest):
        _clear_stale(out_dir)  # wavs from another config must not be resumed
        write_text_atomic(stamp, digest + "\n")

    plan = plan_corpus(cfg)
    init_args = (str(out_dir), dataclasses.asdict(cfg))
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        tqdm = None
    bar = tqdm(total=len(plan), desc="synthesizing", unit="utt", disable=not progress) if tqdm else None
    try:
        lines = _synthesize_all(plan, init_args, jobs, bar)
    finally:
        if bar:
            bar.close()
    fsync_dir(out_dir / "wavs")  # the wavs' renames are durable before a manifest names them

    splits: Dict[str, Dict[str, Any]] = {}
    for split in SPLITS:
        rows = [line for line, item in zip(lines, plan) if item["split"] == split]
        with publish(out_dir / f"{split}.jsonl", "w") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        seconds = sum(r["duration"] for r in rows)
        splits[split] = {
            "utterances": len(rows),
            "hours": round(seconds / 3600, 4),
            "speakers": sorted({r["speaker"] for r in rows}),
        }
    report = {
        "corpus": "synthetic",
        "generator_version": GENERATOR_VERSION,
        "config_hash": digest,
        "seed": cfg.seed,
        "sample_rate": cfg.output_rate,
        "splits": splits,
        "total_hours": round(sum(s["hours"] for s in splits.values()), 4),
        "config": dataclasses.asdict(cfg),
    }
    # report.json last: its presence (with the hash) marks the corpus as complete
    write_text_atomic(out_dir / "report.json", json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    fsync_dir(out_dir)
    elapsed = time.time() - start
    log.info("synthetic corpus: %d utterances, %.2f h in %.1f s -> %s", len(plan), report["total_hours"], elapsed, out_dir)
    return {**report, "reused": False, "seconds": round(elapsed, 2)}
