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

Streaming (optional; ``supports_streaming`` says whether a family has it): chunk-wise inference whose cost per
chunk is proportional to the chunk, for live streams (``hypersp.inference.cached_stream``). A model that
streams provides

- ``init_stream_state(context: StreamContext) -> state``: an opaque state before the first frame;
- ``forward_chunks(features [(T_i, F)], states [state_i], last [bool]) -> ([log_probs (T'_i, V)], [new_state_i])``:
  the next feature frames of several utterances, each at its own point (any T_i >= 0, eval mode, under
  ``no_grad``) -> each one's output frames that are now final, in order; ``last[i]`` ends utterance i and returns
  every remaining frame. One call serves all live streams of a server step (a step's cost for a small model is
  mostly per call, not per frame). States are never modified, so a caller may peek at the tentative rest of
  an utterance with ``last=True`` on no frames and go on from its state. ``forward_chunk(features (1, T, F),
  state, last)`` is the same for one utterance (defined here).
- the guarantee (tested): the frames of all chunks together equal ``forward`` of the same weights over the whole
  utterance with the attention context limited to ``context`` (for conformer: ``att_context_left/right``),
  whatever the chunk sizes, within float32 rounding.
- optionally ``stream_step_module(context) -> nn.Module | None``: the tensor-only core of a step for ``context``
  (fixed-shape caches in and out, no Python state), which a caller may compile (hypersp exports it to
  onnxruntime: ``hypersp.inference.cached_stream``) and hand back as ``forward_chunks(..., step=compiled)``; None
  (the default) where the family or the context has none. Conformer has one for no attention lookahead and causal
  convolutions (``ConformerStreamStep``).

Families that cannot stream keep ``supports_streaming = False`` and the streaming recognizer falls back to
re-running ``forward`` on a sliding window.

Models with an attention decoder (:class:`AttentionSpeechModel`, e.g. ``transformer``) also provide
``encode``, ``ctc_log_probs``, ``decoder_forward`` and ``eos_id``; ``has_attention_decoder`` says so, and the
attention decoder and the exporter (which exports the CTC branch only) ask it instead of testing names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import torch
from torch import nn


@dataclass(frozen=True)
class StreamContext:
    """Context limits of streamed inference, in output frames (after subsampling), per attention layer.

    ``left``: frames of left context cached per layer (older keys/values are dropped; -1 = all, unbounded
    memory); ``right``: frames each layer waits for before a frame is final (attention lookahead, >= 0).
    Convolutions keep their own receptive field; a model's total lookahead is ``stream_lookahead_frames``.
    """

    left: int = 64
    right: int = 0

    def __post_init__(self):
        if int(self.left) < -1:
            raise ValueError(f"stream left context {self.left}: give frames >= 0, or -1 for all")
        if int(self.right) < 0:
            raise ValueError(f"stream right context {self.right}: give frames >= 0 (a stream cannot wait for all)")


class SpeechModel(nn.Module):
    """Base class of registered models (see the module docstring for the contract)."""

    default_criterion: str = "ctc"
    has_attention_decoder: bool = False
    supports_streaming: bool = False  # True: init_stream_state / forward_chunks / stream_lookahead_frames exist
    subsampling_factor: int  # set by every subclass in __init__

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def init_stream_state(self, context: StreamContext) -> Any:
        raise NotImplementedError(f"{type(self).__name__} cannot stream (supports_streaming is False)")

    def forward_chunks(self, features: List[torch.Tensor], states: List[Any],
                       last: List[bool]) -> Tuple[List[torch.Tensor], List[Any]]:
        raise NotImplementedError(f"{type(self).__name__} cannot stream (supports_streaming is False)")

    def _check_stream_step(self, features: List[torch.Tensor], states: List[Any]) -> None:
        """What every ``forward_chunks`` refuses: a state whose utterance has ended (``state.closed``, after
        ``last=True``) and features that are not ``(T, self.input_dim)``."""
        if any(st.closed for st in states):
            raise ValueError("forward_chunks after last=True: start a new utterance with init_stream_state")
        for f in features:
            if f.dim() != 2 or f.shape[-1] != self.input_dim:
                raise ValueError(f"forward_chunks expects features (T, {self.input_dim}) per utterance, got {tuple(f.shape)}")

    def forward_chunk(self, features: torch.Tensor, state: Any, last: bool = False) -> Tuple[torch.Tensor, Any]:
        """One utterance's step: ``forward_chunks`` of a batch of one, with ``features (1, T, F)`` ->
        ``(log_probs (1, T', V), new_state)``."""
        if features.dim() != 3 or features.shape[0] != 1:
            raise ValueError(f"forward_chunk expects features (1, T, F), got {tuple(features.shape)}")
        log_probs, states = self.forward_chunks([features[0]], [state], [last])
        return log_probs[0][None], states[0]

    def stream_step_module(self, context: StreamContext) -> Optional[nn.Module]:
        """The compilable core of a streaming step for ``context``, or None (see the module docstring)."""
        return None

    def stream_lookahead_frames(self, context: StreamContext) -> int:
        """Input feature frames after an output frame's own that ``forward_chunks`` waits for before it is final."""
        raise NotImplementedError(f"{type(self).__name__} cannot stream (supports_streaming is False)")


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
