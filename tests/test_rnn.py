import pytest
import torch

from hypersp.config import compose
from hypersp.registry import MODELS


def build(*overrides, input_dim=20, vocab=11):
    cfg = compose(arch="rnn_small", overrides=["model.hidden=16", "model.layers=2", *overrides])
    return MODELS.build(cfg.model, input_dim=input_dim, vocab_size=vocab)


@pytest.mark.parametrize("front", ["stack", "conv2d"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_forward_backward_shapes(front, cell):
    model = build(f"model.subsampling={front}", f"model.cell={cell}", "model.subsampling_dim=24")
    x = torch.randn(3, 50, 20)
    lengths = torch.tensor([50, 37, 9])
    log_probs, out = model(x, lengths)
    assert model.subsampling_factor == 4
    assert log_probs.shape == (3, 13, 11)
    assert out.tolist() == [13, 10, 3]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 13), atol=1e-5)
    log_probs[0].sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_padding_does_not_change_valid_outputs():
    model = build().eval()
    x = torch.randn(1, 40, 20)
    alone, n = model(x, torch.tensor([40]))
    padded = torch.cat([x, torch.randn(1, 24, 20) * 5], dim=1)
    batch, m = model(padded, torch.tensor([40]))
    assert n.tolist() == m.tolist() == [10]
    assert torch.allclose(alone[0, :10], batch[0, :10], atol=1e-5)


def test_preset_size_and_bad_values():
    cfg = compose(arch="rnn_small")
    model = MODELS.build(cfg.model, input_dim=80, vocab_size=72)
    assert 1.5e6 < sum(p.numel() for p in model.parameters()) < 2.5e6
    with pytest.raises(ValueError, match="model.cell"):
        build("model.cell=rnn")
