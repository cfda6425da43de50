"""Conformer-CTC: presets and NeMo parameter counts, shapes, padding invariance, limited context."""
import math

import pytest
import torch
from omegaconf import OmegaConf

from hypersp.models.conformer.model import ConformerConfig, ConformerModel
from hypersp.models.presets import list_presets, load_preset
from hypersp.modules.attention import RelPositionalEncoding, RelPositionMultiHeadAttention, limited_context_mask


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny tensors: thread start-up costs more than it saves, badly so on a busy 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def config(name: str = "", **over) -> ConformerConfig:
    cfg = OmegaConf.structured(ConformerConfig)
    if name:
        cfg = OmegaConf.merge(cfg, load_preset(name))
    cfg = OmegaConf.merge(cfg, over)
    OmegaConf.set_struct(cfg, True)
    return cfg


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def small_model(**over) -> ConformerModel:
    torch.manual_seed(0)
    base = dict(d_model=32, n_layers=2, n_heads=2, conv_kernel_size=5, subsampling_conv_channels=8, dropout=0.0, dropout_att=0.0)
    base.update(over)
    return ConformerModel(config(**base), input_dim=16, vocab_size=11).eval()


# NeMo's Conformer-CTC size table (13 M / 30 M / 121 M), counted at 80 mels with a 128-piece
# SentencePiece vocabulary + blank = 129 outputs (1024 + 1 gives 13.15 / 30.77 / 121.96 M).
@pytest.mark.parametrize("name, expected, exact", [
    ("conformer_small", 13e6, 12_995_441),
    ("conformer_medium", 30e6, 30_538_625),
    ("conformer_large", 121e6, 121_501_313),
])
def test_nemo_parameter_counts(name, expected, exact):
    assert name in list_presets()
    with torch.device("meta"):
        model = ConformerModel(config(name), input_dim=80, vocab_size=129)
    assert abs(n_params(model) - expected) / expected < 0.03
    assert n_params(model) == exact
    assert model.subsampling_factor == 4


def test_tiny_preset_is_the_default_and_cpu_sized():
    assert OmegaConf.to_container(config("conformer_tiny")) == OmegaConf.to_container(OmegaConf.structured(ConformerConfig))
    model = ConformerModel(config("conformer_tiny"), input_dim=80, vocab_size=70)
    assert 1.0e6 <= n_params(model) <= 2.0e6


def test_forward_backward_shapes_and_lengths():
    model = small_model().train()
    x = torch.randn(3, 37, 16)
    lengths = torch.tensor([37, 20, 5])
    log_probs, out_lengths = model(x, lengths)
    assert log_probs.shape == (3, math.ceil(37 / 4), 11)
    assert out_lengths.tolist() == [math.ceil(n / 4) for n in (37, 20, 5)]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 10), atol=1e-5)
    log_probs[0, :, 1].sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.layers[0].self_attn.pos_bias_u.grad.abs().sum() > 0


def test_padding_invariance_in_eval_mode():
    model = small_model()
    x = torch.randn(1, 29, 16)
    alone, n_alone = model(x, torch.tensor([29]))
    padded = torch.cat([x, 5 * torch.randn(1, 40, 16)], dim=1)
    batch = torch.cat([padded, torch.randn(1, 69, 16)])
    out, n = model(batch, torch.tensor([29, 69]))
    assert n[0] == n_alone[0] == 8
    assert torch.allclose(out[0, :8], alone[0], atol=1e-5)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_subsampling_without_autograd_equals_the_autograd_path_and_keeps_its_input(mode):
    # without autograd the subsampling masks and rectifies in place (the largest tensor of the model); the result
    # must be the autograd path's, padding included, and the caller's features must stay as they were
    from hypersp.modules.subsampling import Conv2dSubsampling

    torch.manual_seed(0)
    sub = Conv2dSubsampling(16, 32, factor=4, channels=8).eval()
    x = torch.randn(3, 37, 16)
    lengths = torch.tensor([37, 20, 5])
    kept = x.clone()
    reference, ref_lengths = sub(x, lengths)
    with (torch.no_grad() if mode == "no_grad" else torch.inference_mode()):
        out, out_lengths = sub(x, lengths)
    assert torch.equal(out, reference.detach()) and torch.equal(out_lengths, ref_lengths)
    assert torch.equal(x, kept)


def test_relative_attention_matches_the_definition():
    torch.manual_seed(0)
    att = RelPositionMultiHeadAttention(8, 2).eval()
    torch.nn.init.normal_(att.pos_bias_u)
    torch.nn.init.normal_(att.pos_bias_v)
    x = torch.randn(1, 5, 8)
    _, pos_emb = RelPositionalEncoding(8)(x)
    out = att(x, pos_emb)
    # naive: score(i, j) = (q_i + u) . k_j + (q_i + v) . W_pos p(i - j)
    T, h, dk = 5, 2, 4
    q = att.linear_q(x).view(T, h, dk)
    k = att.linear_k(x).view(T, h, dk)
    v = att.linear_v(x).view(T, h, dk)
    p = att.linear_pos(pos_emb[0]).view(2 * T - 1, h, dk)
    ref = torch.zeros(T, h, dk)
    for i in range(T):
        scores = torch.stack([((q[i] + att.pos_bias_u) * k[j]).sum(-1) + ((q[i] + att.pos_bias_v) * p[(T - 1) - (i - j)]).sum(-1)
                              for j in range(T)]) / math.sqrt(dk)  # (T, h)
        ref[i] = (scores.softmax(0)[:, :, None] * v).sum(0)
    assert torch.allclose(out[0], att.linear_out(ref.reshape(T, h * dk)), atol=1e-5)


def test_limited_context_mask():
    m = limited_context_mask(6, left=1, right=0)[0]
    assert m[3].tolist() == [False, False, True, True, False, False]
    c = limited_context_mask(6, left=2, chunk_size=2)[0]
    assert c[2].tolist() == [True, True, True, True, False, False]  # chunk [2,3] + 2 frames of history
    assert c[5].tolist() == [False, False, True, True, True, True]


def _changed_outputs(model, T: int, frame: int):
    x = torch.randn(1, T, 16)
    y = x.clone()
    y[0, frame] += 10.0
    a, _ = model(x, torch.tensor([T]))
    b, _ = model(y, torch.tensor([T]))
    return ((a - b).abs().amax(-1) > 1e-5)[0]  # (T',) which output frames changed


def test_limited_context_really_limits_context():
    T = 160  # 40 output frames
    full = small_model()
    assert _changed_outputs(full, T, T - 1)[0], "a full-context model sees the last frame from the first"
    # No look-ahead: attention right context 0 and causal convolutions. The last input frame may reach
    # only the last output frames (through the subsampling convolutions' 1-frame look-ahead).
    causal = small_model(att_context_right=0, conv_causal=True)
    changed = _changed_outputs(causal, T, T - 1)
    assert not changed[:38].any() and changed[-1]
    # Limited history: 2 layers x (3 frames of attention + 4 of causal conv) = 14 output frames back.
    window = small_model(att_context_left=3, att_context_right=0, conv_causal=True)
    changed = _changed_outputs(window, T, 0)
    assert changed[0] and not changed[16:].any()
    # Chunks of 8 output frames (32 input frames): a frame in chunk 3 never changes chunks 0-2.
    chunked = small_model(chunk_size=8, conv_causal=True)
    changed = _changed_outputs(chunked, T, 3 * 32 + 5)
    assert not changed[:24].any() and changed[24:].any()


def test_compose_selects_conformer_and_ctc():
    from hypersp.config import compose
    from hypersp.registry import MODELS

    cfg = compose(task="synthetic", arch="conformer_tiny", overrides=["model.att_context_right=4"])
    assert cfg.model.name == "conformer" and cfg.criterion.name == "ctc"
    model = MODELS.build(cfg.model, input_dim=80, vocab_size=70)
    assert isinstance(model, ConformerModel) and model.att_context == (-1, 4, 0)
