"""The decoder contract: model output (log-probabilities) -> n-best token-id hypotheses.

Decoders are a registered kind (``hypersp.registry.DECODERS``), built from one
:class:`~hypersp.config.schema.DecodingConfig`::

    from hypersp.decoding import build_decoder
    dec = build_decoder(cfg.decoding, tokenizer)            # greedy | ctc_beam | attention | a plugin's
    best = dec.decode(log_probs)[0]                         # log_probs: (T, V) np.float32, one utterance
    text = tokenizer.decode(best.ids)

A plugin adds a decoder with ``@register_decoder("name", config=DecodingConfig)`` on a
:class:`Decoder` subclass; its constructor takes ``(cfg, *, tokenizer, model=None)`` and reads the
fields it needs from ``cfg`` (fields it does not use are ignored).

Every built-in decoder returns token ids whose ``tokenizer.decode`` text contains no bare jamo
(see :mod:`hypersp.decoding.grammar`); ``self.grammar`` is the vocabulary's grammar (``None`` when
the vocabulary has no jamo tokens).

This module imports numpy only (no torch), like every decoder module at import time.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, List, Optional, Sequence

import numpy as np

from hypersp.decoding.grammar import TokenGrammar, token_grammar


@dataclass
class Hypothesis:
    """One decoding result.

    ids:            token ids, blanks removed and repeats collapsed (``tokenizer.decode(ids)`` is the text)
    score:          the ranking score (acoustic + weighted LM + bonuses); greedy: the best path's log-prob
    acoustic_score: log P_ctc(ids | audio) (greedy: the sum of the best path's frame log-probs;
                    attention: the CTC log-probability of ``ids``)
    lm_score:       natural-log LM probability of the text, unweighted (0 without an LM)
    """

    ids: List[int] = field(default_factory=list)
    score: float = 0.0
    acoustic_score: float = 0.0
    lm_score: float = 0.0


def as_log_probs(x: Any) -> np.ndarray:
    """A (T, V) float32 numpy array from a numpy array or a (CPU or GPU) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"a decoder takes one utterance's log-probs of shape (T, V), got shape {arr.shape}")
    return arr


def decoding_config(cfg: Any = None):
    """``cfg`` as a :class:`DecodingConfig` dataclass: ``None`` -> defaults (greedy); a decoder name
    -> that decoder with defaults; a dict, an OmegaConf node or any object with some of the fields ->
    those fields over the defaults (unknown keys are ignored)."""
    from hypersp.config.schema import DecodingConfig

    if cfg is None:
        return DecodingConfig()
    if isinstance(cfg, DecodingConfig):
        return cfg
    if isinstance(cfg, str):
        return DecodingConfig(name=cfg)
    values = {}
    for f in fields(DecodingConfig):
        if isinstance(cfg, dict):
            if f.name in cfg:
                values[f.name] = cfg[f.name]
        else:
            try:
                values[f.name] = getattr(cfg, f.name)
            except (AttributeError, KeyError):
                pass
    if "hotwords" in values:
        values["hotwords"] = [str(h) for h in (values["hotwords"] or [])]
    return DecodingConfig(**values)


class Decoder:
    """Base class of registered decoders. Built as ``DECODERS.build(cfg, tokenizer=..., model=None)``.

    ``needs_model``: ``False`` for decoders of CTC log-probs (the engine calls :meth:`decode` /
    :meth:`decode_batch` on the model's output); ``True`` for decoders that run the model themselves
    (attention: the engine calls :meth:`decode_features` instead).
    """

    needs_model: bool = False

    def __init__(self, cfg: Any, *, tokenizer: Any, model: Any = None):
        self.cfg = decoding_config(cfg)
        self.tokenizer = tokenizer
        self.model = model
        self.blank_id: int = int(getattr(tokenizer, "blank_id", 0))
        self.grammar: Optional[TokenGrammar] = token_grammar(tokenizer.tokens, blank_id=self.blank_id)

    def decode(self, log_probs: np.ndarray) -> List[Hypothesis]:
        """(T, V) float32 natural-log posteriors of ONE utterance's valid frames -> n-best, best
        first (at least one hypothesis; its ids may be empty)."""
        raise NotImplementedError(f"{type(self).__name__} decodes features (needs_model=True); call decode_features")

    def decode_batch(self, log_probs: Sequence[np.ndarray]) -> List[List[Hypothesis]]:
        """Several utterances (each (T_i, V), valid frames only) -> one n-best list each."""
        return [self.decode(lp) for lp in log_probs]

    def incremental(self) -> "IncrementalDecoding":
        """One utterance decoded as its frames arrive (a live stream's final): ``advance(lp)`` then ``finish()``,
        equal to :meth:`decode` of all the frames. This base keeps the frames and decodes them in ``finish``;
        a decoder that can search frame by frame (``ctc_beam``) does the work in ``advance`` instead."""
        return IncrementalDecoding(self)

    def decode_features(self, features: Any, lengths: Any) -> List[List[Hypothesis]]:
        """For ``needs_model`` decoders: features (B, T, F) and lengths (B,) torch tensors -> n-best lists."""
        raise NotImplementedError(f"{type(self).__name__} decodes log-probs (needs_model=False); call decode")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.cfg.name!r})"


class IncrementalDecoding:
    """``advance(lp (T_i, V))`` any number of times, then ``finish()`` -> the n-best of all frames fed so far
    (``decoder.decode`` of their concatenation); ``peek(tail)`` the same with frames that may still change
    after them (a partial). ``frames``: how many were fed."""

    def __init__(self, decoder: Decoder):
        self.decoder = decoder
        self.parts: List[np.ndarray] = []
        self.frames = 0

    def advance(self, log_probs: Any) -> None:
        lp = as_log_probs(log_probs)
        if lp.shape[0]:
            self.parts.append(lp)
            self.frames += lp.shape[0]

    def peek(self, tail: Any = None) -> List[Hypothesis]:
        """The n-best of the frames fed so far plus ``tail`` (frames that may still change; not kept)."""
        parts = self.parts + ([as_log_probs(tail)] if tail is not None and np.shape(tail)[0] else [])
        if not parts:
            return self.decoder.decode(np.zeros((0, len(self.decoder.tokenizer.tokens)), dtype=np.float32))
        return self.decoder.decode(np.concatenate(parts))

    def finish(self) -> List[Hypothesis]:
        return self.peek()

    def finish_at(self, frames: int) -> Optional[List[Hypothesis]]:
        """The n-best as if the utterance had ended after its first ``frames`` frames, or None when this search
        cannot go back there (the caller decodes those frames anew). A live utterance is usually cut in the
        silence before its newest frames, which a search may already have taken."""
        return self.finish() if frames == self.frames else None


def build_decoder(cfg: Any = None, tokenizer: Any = None, model: Any = None) -> Decoder:
    """The decoder ``cfg.name`` selects (``None`` -> greedy), built with the tokenizer (and the model,
    for decoders that need it). An unknown name raises ``RegistryError`` listing the known decoders."""
    from hypersp.registry import DECODERS

    if tokenizer is None:
        raise ValueError("build_decoder needs the tokenizer (its tokens and decode())")
    cfg = decoding_config(cfg)
    return DECODERS.build(cfg, tokenizer=tokenizer, model=model)
