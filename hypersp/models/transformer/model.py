"""Transformer encoder-decoder with a joint CTC head (Karita et al. 2019, arXiv:1909.06317; ESPnet).

Encoder: 4x Conv2d subsampling -> absolute sinusoidal positions -> pre-LayerNorm Transformer
layers -> final LayerNorm. Two heads read the encoder output:

- the CTC head (linear + log-softmax over the tokenizer's vocabulary, blank 0): ``forward`` returns
  it, so the model meets the common model contract and greedy / CTC beam decoding, evaluation and
  the trainer's validation work unchanged;
- the attention decoder (pre-LN Transformer decoder layers with causal self-attention and
  cross-attention), trained with the ``ctc_attention`` criterion (the model's ``default_criterion``)
  and decoded by :mod:`hypersp.decoding.attention_beam`.

sos/eos: the decoder uses one extra id, ``vocab_size`` (= the tokenizer's vocab size), both as the
start symbol fed first and as the end symbol it must predict last. Its embedding table and output
layer therefore have ``vocab_size + 1`` rows; the tokenizer is unchanged and never sees this id.
The decoder never has to emit the blank (0); it learns that from the targets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn

from hypersp.modules.attention import MultiHeadAttention, PositionalEncoding, causal_mask, padding_mask
from hypersp.modules.conformer_block import FeedForward
from hypersp.modules.subsampling import Conv2dSubsampling
from hypersp.models.base import AttentionSpeechModel
from hypersp.registry import register_model


@dataclass
class TransformerConfig:
    """Attention encoder-decoder + CTC. The default is the ``transformer_tiny`` preset."""

    name: str = "transformer"
    d_model: int = 128
    n_heads: int = 4
    encoder_layers: int = 4
    decoder_layers: int = 2
    ff_dim: int = 512                     # hidden units of every feed-forward layer
    subsampling_factor: int = 4
    subsampling_conv_channels: int = 64   # -1: d_model
    dropout: float = 0.1
    dropout_att: float = 0.0


class TransformerEncoderLayer(nn.Module):
    """Pre-LN: x + MHA(LN(x)), then x + FFN(LN(x)). forward(x (B, T, D), mask (B, 1|T, T)) -> (B, T, D)."""

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float, dropout_att: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout_att)
        self.norm2 = nn.LayerNorm(d_model)
        self.feed_forward = FeedForward(d_model, ff_dim, dropout, activation="relu")
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, mask))
        return x + self.dropout(self.feed_forward(self.norm2(x)))


class TransformerDecoderLayer(nn.Module):
    """Pre-LN: causal self-attention, cross-attention over the encoder output, feed-forward.

    forward(y (B, U, D), y_mask (1|B, U, U), memory (B, T, D), memory_mask (B, 1, T)) -> (B, U, D)
    """

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, dropout: float, dropout_att: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout_att)
        self.norm2 = nn.LayerNorm(d_model)
        self.src_attn = MultiHeadAttention(d_model, n_heads, dropout_att)
        self.norm3 = nn.LayerNorm(d_model)
        self.feed_forward = FeedForward(d_model, ff_dim, dropout, activation="relu")
        self.dropout = nn.Dropout(dropout)

    def forward(self, y, y_mask, memory, memory_mask):
        h = self.norm1(y)
        y = y + self.dropout(self.self_attn(h, h, h, y_mask))
        y = y + self.dropout(self.src_attn(self.norm2(y), memory, memory, memory_mask))
        return y + self.dropout(self.feed_forward(self.norm3(y)))


@register_model("transformer", config=TransformerConfig)
class TransformerModel(AttentionSpeechModel):
    """forward(features (B, T, F), lengths (B,)) -> (CTC log_probs (B, T', V), out_lengths (B,)).

    encode(features, lengths) -> (encoder_out (B, T', D), enc_lengths (B,))
    ctc_log_probs(encoder_out) -> (B, T', V)
    decoder_forward(encoder_out, enc_lengths, targets_in (B, U) long) -> (B, U, V + 1) log-probs of
        the next token after each prefix of ``targets_in`` (which starts with ``sos_id``).
    """

    default_criterion = "ctc_attention"

    def __init__(self, cfg: TransformerConfig, *, input_dim: int, vocab_size: int):
        super().__init__()
        self.input_dim, self.vocab_size = input_dim, vocab_size
        self.sos_id = self.eos_id = vocab_size  # one extra id, only inside the decoder
        self.subsampling_factor = int(cfg.subsampling_factor)
        d = cfg.d_model
        self.pre_encode = Conv2dSubsampling(input_dim, d, cfg.subsampling_factor, cfg.subsampling_conv_channels)
        self.enc_pos = PositionalEncoding(d, cfg.dropout)
        self.encoder_layers = nn.ModuleList(
            TransformerEncoderLayer(d, cfg.n_heads, cfg.ff_dim, cfg.dropout, cfg.dropout_att) for _ in range(cfg.encoder_layers)
        )
        self.encoder_norm = nn.LayerNorm(d)
        self.ctc_head = nn.Linear(d, vocab_size)
        self.embed = nn.Embedding(vocab_size + 1, d)
        self.dec_pos = PositionalEncoding(d, cfg.dropout)
        self.decoder_layers = nn.ModuleList(
            TransformerDecoderLayer(d, cfg.n_heads, cfg.ff_dim, cfg.dropout, cfg.dropout_att) for _ in range(cfg.decoder_layers)
        )
        self.decoder_norm = nn.LayerNorm(d)
        self.output_layer = nn.Linear(d, vocab_size + 1)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.pre_encode.output_lengths(lengths)

    def encode(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if features.dim() != 3 or features.shape[-1] != self.input_dim:
            raise ValueError(f"expected features (B, T, {self.input_dim}), got {tuple(features.shape)}")
        lengths = lengths.to(device=features.device, dtype=torch.long)
        x, lengths = self.pre_encode(features, lengths)
        x = self.enc_pos(x)
        mask = padding_mask(lengths, x.shape[1])
        for layer in self.encoder_layers:
            x = layer(x, mask)
        return self.encoder_norm(x), lengths

    def ctc_log_probs(self, encoder_out: torch.Tensor) -> torch.Tensor:
        return self.ctc_head(encoder_out).float().log_softmax(dim=-1)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x, lengths = self.encode(features, lengths)
        return self.ctc_log_probs(x), lengths

    def decoder_forward(self, encoder_out: torch.Tensor, enc_lengths: torch.Tensor, targets_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder. Rows of ``targets_in`` may be padded at the end with any id:
        causal attention means padding never influences earlier positions."""
        y = self.dec_pos(self.embed(targets_in))
        y_mask = causal_mask(targets_in.shape[1], device=y.device)
        memory_mask = padding_mask(enc_lengths.to(encoder_out.device), encoder_out.shape[1])
        for layer in self.decoder_layers:
            y = layer(y, y_mask, encoder_out, memory_mask)
        return self.output_layer(self.decoder_norm(y)).float().log_softmax(dim=-1)
