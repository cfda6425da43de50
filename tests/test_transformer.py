"""Transformer CTC/attention: presets, shapes, decoder causality, hybrid loss, attention beam search."""
import itertools
import math

import pytest
import torch
from omegaconf import OmegaConf

from hypersp.criterions.ctc import CTCCriterion, CTCCriterionConfig
from hypersp.criterions.hybrid import IGNORE, HybridCriterionConfig, HybridCTCAttentionCriterion, decoder_targets
from hypersp.data.batch import Batch
from hypersp.decoding.attention_beam import CTCPrefixScorer, attention_beam_search
from hypersp.decoding.greedy import greedy_ctc_decode
from hypersp.models.presets import load_preset
from hypersp.models.transformer.model import TransformerConfig, TransformerModel


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny tensors: thread start-up costs more than it saves, badly so on a busy 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def config(name: str = "", **over):
    cfg = OmegaConf.structured(TransformerConfig)
    if name:
        cfg = OmegaConf.merge(cfg, load_preset(name))
    cfg = OmegaConf.merge(cfg, over)
    OmegaConf.set_struct(cfg, True)
    return cfg


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def small_model(**over):
    torch.manual_seed(0)
    base = dict(d_model=32, n_heads=2, encoder_layers=2, decoder_layers=1, ff_dim=64, subsampling_conv_channels=8,
                dropout=0.0, dropout_att=0.0)
    base.update(over)
    return TransformerModel(config(**base), input_dim=16, vocab_size=7)


def test_presets_build():
    assert OmegaConf.to_container(config("transformer_tiny")) == OmegaConf.to_container(OmegaConf.structured(TransformerConfig))
    tiny = TransformerModel(config("transformer_tiny"), input_dim=80, vocab_size=70)
    assert 1.0e6 <= n_params(tiny) <= 2.0e6
    with torch.device("meta"):
        base = TransformerModel(config("transformer_base"), input_dim=80, vocab_size=70)
    assert n_params(base) == 27_212_429  # ESPnet-style base: d 256, 12 + 6 layers, ff 2048
    assert base.sos_id == base.eos_id == 70 and base.output_layer.out_features == 71


def test_forward_is_the_ctc_head_and_decoder_shapes():
    model = small_model().eval()
    x, lengths = torch.randn(2, 41, 16), torch.tensor([41, 30])
    log_probs, out_lengths = model(x, lengths)
    assert log_probs.shape == (2, 11, 7) and out_lengths.tolist() == [11, 8]
    enc, enc_lengths = model.encode(x, lengths)
    assert torch.allclose(model.ctc_log_probs(enc), log_probs)
    ys = torch.tensor([[7, 1, 2, 3], [7, 4, 5, 7]])
    dec = model.decoder_forward(enc, enc_lengths, ys)
    assert dec.shape == (2, 4, 8)
    # causal: changing a later input token leaves earlier positions unchanged
    ys2 = ys.clone()
    ys2[:, 3] = 6
    dec2 = model.decoder_forward(enc, enc_lengths, ys2)
    assert torch.allclose(dec[:, :3], dec2[:, :3], atol=1e-6) and not torch.allclose(dec[:, 3], dec2[:, 3])
    # padding invariance of the encoder in eval mode
    alone, _ = model(x[1:, :30], torch.tensor([30]))
    assert torch.allclose(alone[0], log_probs[1, :8], atol=1e-5)


def test_decoder_targets():
    targets = torch.tensor([[3, 4, 5], [6, 0, 0]])
    t_in, t_out = decoder_targets(targets, torch.tensor([3, 1]), sos_eos=9)
    assert t_in.tolist() == [[9, 3, 4, 5], [9, 6, 9, 9]]
    assert t_out.tolist() == [[3, 4, 5, 9], [6, 9, IGNORE, IGNORE]]


def make_batch():
    torch.manual_seed(1)
    return Batch(torch.randn(2, 48, 16), torch.tensor([48, 40]), torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2]))


def test_hybrid_loss_weights_and_backward():
    model = small_model().train()
    batch = make_batch()

    def loss(w, ls=0.0):
        torch.manual_seed(0)
        crit = HybridCTCAttentionCriterion(HybridCriterionConfig(ctc_weight=w, label_smoothing=ls), vocab_size=7)
        return crit(model, batch)

    l1, s1 = loss(1.0)
    ctc, _ = CTCCriterion(CTCCriterionConfig(), vocab_size=7)(model, batch)
    assert torch.allclose(l1, ctc)
    l0, s0 = loss(0.0)
    assert math.isclose(float(l0.detach()), s0["att_loss"], rel_tol=1e-6)
    lmix, smix = loss(0.3)
    assert math.isclose(float(lmix.detach()), 0.3 * smix["ctc_loss"] + 0.7 * smix["att_loss"], rel_tol=1e-5)
    assert loss(0.0, ls=0.1)[1]["att_loss"] != s0["att_loss"]  # label smoothing changes the loss
    model.zero_grad()
    lmix.backward()
    assert model.ctc_head.weight.grad.abs().sum() > 0 and model.output_layer.weight.grad.abs().sum() > 0
    assert set(smix) >= {"loss", "ctc_loss", "att_loss", "att_accuracy", "utterances", "tokens", "nonfinite"}


def test_compose_defaults_to_the_hybrid_criterion():
    from hypersp.config import compose

    cfg = compose(task="synthetic", arch="transformer_tiny", overrides=["criterion.ctc_weight=0.5"])
    assert cfg.criterion.name == "ctc_attention" and cfg.criterion.ctc_weight == 0.5


def brute_force_prefix_prob(lp: torch.Tensor, prefix, full: bool) -> float:
    """Sum over every CTC path whose collapsed output starts with (or equals, if full) ``prefix``."""
    T, V = lp.shape
    total = 0.0
    for path in itertools.product(range(V), repeat=T):
        out, prev = [], None
        for s in path:
            if s != 0 and s != prev:
                out.append(s)
            prev = s
        ok = out == list(prefix) if full else out[:len(prefix)] == list(prefix)
        if ok:
            total += math.exp(sum(float(lp[t, s]) for t, s in enumerate(path)))
    return total


def test_ctc_prefix_scores_match_brute_force():
    torch.manual_seed(0)
    lp = torch.randn(5, 3).log_softmax(-1)
    eos = 3
    scorer = CTCPrefixScorer(lp, eos=eos)
    r0, _ = scorer.initial_state()
    r1, psi1 = scorer.score(r0[:, None].expand(5, 3, 2), torch.tensor([-1, -1, -1]), torch.tensor([1, 2, eos]))
    assert math.isclose(math.exp(psi1[0]), brute_force_prefix_prob(lp, [1], False), rel_tol=1e-4)
    assert math.isclose(math.exp(psi1[1]), brute_force_prefix_prob(lp, [2], False), rel_tol=1e-4)
    assert math.isclose(math.exp(psi1[2]), brute_force_prefix_prob(lp, [], True), rel_tol=1e-4)
    r2, psi2 = scorer.score(r1[:, :1].expand(5, 3, 2), torch.tensor([1, 1, 1]), torch.tensor([1, 2, eos]))
    assert math.isclose(math.exp(psi2[0]), brute_force_prefix_prob(lp, [1, 1], False), rel_tol=1e-4)
    assert math.isclose(math.exp(psi2[1]), brute_force_prefix_prob(lp, [1, 2], False), rel_tol=1e-4)
    assert math.isclose(math.exp(psi2[2]), brute_force_prefix_prob(lp, [1], True), rel_tol=1e-4)


class ScriptedModel(torch.nn.Module):
    """Fixed CTC posteriors, and a decoder that always wants ``script`` (then eos)."""

    def __init__(self, ctc_lp, script, vocab=5):
        super().__init__()
        self.ctc, self.script, self.eos_id = ctc_lp, script, vocab

    def encode(self, features, lengths):
        return torch.zeros(1, self.ctc.shape[0], 4), torch.tensor([self.ctc.shape[0]])

    def ctc_log_probs(self, enc):
        return self.ctc[None]

    def decoder_forward(self, enc, enc_lengths, ys):
        N, U = ys.shape
        want = (self.script + [self.eos_id])[min(U - 1, len(self.script))]
        out = torch.full((N, U, self.eos_id + 1), -5.0)
        out[:, :, want] = -0.1
        return out


def peaked(seq, T=12, V=5):
    lp = torch.full((T, V), -9.0)
    lp[:, 0] = -0.01
    for i, s in enumerate(seq):
        lp[2 * i + 1, 0], lp[2 * i + 1, s] = -9.0, -0.01
    return lp


def test_attention_beam_search_follows_decoder_and_ctc():
    lp = peaked([1, 2, 2, 3])
    # pure attention: the decoder's script wins
    model = ScriptedModel(lp, [4, 1])
    (best,), = attention_beam_search(model, torch.zeros(1, 4, 4), torch.tensor([4]), beam_size=3, ctc_weight=0.0)
    assert best.tokens == [4, 1]
    # pure CTC prefix scoring: the greedy CTC output wins, ended by eos at the right place
    (best, *_), = attention_beam_search(model, torch.zeros(1, 4, 4), torch.tensor([4]), beam_size=4, ctc_weight=1.0, nbest=2)
    assert best.tokens == greedy_ctc_decode(lp[None])[0] == [1, 2, 2, 3]


def test_tiny_transformer_learns_and_attention_decodes():
    torch.manual_seed(0)
    model = small_model()
    batch = make_batch()
    crit = HybridCTCAttentionCriterion(HybridCriterionConfig(ctc_weight=0.3, label_smoothing=0.0), vocab_size=7)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(40):
        loss, _ = crit(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    found = attention_beam_search(model, batch.features, batch.feature_lengths, beam_size=3, ctc_weight=0.3)
    assert [h[0].tokens for h in found] == [[1, 2, 3], [4, 5]]
