"""The model contract: what every registered model family is, and what the rest of hypersp asks of it.

Every model registered with ``@register_model(name, config=Config)`` subclasses :class:`SpeechModel`
(the model registry checks it) and is built as ``Model(cfg, *, input_dim, vocab_size)``:

- ``forward(features (B, T, F) float, lengths (B,) long) -> (log_probs (B, T', V), out_lengths (B,) long)``:
  natural-log CTC posteriors over the tokenizer's ``V`` symbols (id 0 = blank) for every output frame;
  ``out_lengths[b]`` frames of row ``b`` are valid.
- ``subsampling_factor`` (int >= 1, set in ``__init__``): input frames per output frame. One output frame
  covers ``hop_length x subsampling_factor`` samples; streaming endpoints, segment and word times depend on
  it, so it is required (``check_model`` rejects a model without it) rather than defaulted.
- ``default_criterion``: the criterion trained when the config does not name one (``ctc``).

Models with an attention decoder (:class:`AttentionSpeechModel`, e.g. ``transformer``) also provide
``encode``, ``ctc_log_probs``, ``decoder_forward`` and ``eos_id``; ``has_attention_decoder`` says so, and the
attention decoder and the exporter (which exports the CTC branch only) ask it instead of testing names.
"""
from __future__ import annotations

from typing import Any, Tuple

import torch
from torch import nn


class SpeechModel(nn.Module):
    """Base class of registered models (see the module docstring for the contract)."""

    default_criterion: str = "ctc"
    has_attention_decoder: bool = False
    subsampling_factor: int  # set by every subclass in __init__

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class AttentionSpeechModel(SpeechModel):
    """A CTC model with an attention decoder (joint CTC/attention training and decoding)."""

    has_attention_decoder = True
    eos_id: int  # the decoder's start/end id (outside the CTC vocabulary)

    def encode(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """-> (encoder_out (B, T', D), out_lengths (B,))."""
        raise NotImplementedError

    def ctc_log_probs(self, encoder_out: torch.Tensor) -> torch.Tensor:
        """(B, T', D) -> CTC log-probs (B, T', V)."""
        raise NotImplementedError

    def decoder_forward(self, encoder_out: torch.Tensor, enc_lengths: torch.Tensor, targets_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder: targets_in (B, U) starting with ``eos_id`` -> log-probs (B, U, V + 1)."""
        raise NotImplementedError


def check_model(model: Any, name: str = "") -> Any:
    """Fail with one line if ``model`` breaks the contract where it can be checked after construction."""
    factor = getattr(model, "subsampling_factor", None)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise TypeError(f"model {name or type(model).__name__!r} ({type(model).__module__}.{type(model).__qualname__}) "
                        f"must set an int subsampling_factor >= 1 in __init__ (input frames per output frame), "
                        f"got {factor!r}; see hypersp/models/base.py")
    return model
