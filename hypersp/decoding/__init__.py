"""Decoding: model output -> token ids (registered decoders built from ``DecodingConfig``).

    from hypersp.decoding import build_decoder
    decoder = build_decoder(cfg.decoding, tokenizer, model)   # greedy | ctc_beam | attention | a plugin's
    nbest = decoder.decode(log_probs)                         # (T, V) natural-log posteriors, one utterance

Output is always composed Hangul (:mod:`hypersp.decoding.grammar`); token times and confidences
come from :func:`hypersp.decoding.align.ctc_align`. Importing this package does not import torch.
"""
from hypersp.decoding.base import Decoder, Hypothesis, build_decoder  # noqa: F401

__all__ = ["Decoder", "Hypothesis", "build_decoder"]
