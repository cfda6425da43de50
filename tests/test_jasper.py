"""Jasper / QuartzNet: presets, parameter counts, shapes, lengths, padding invariance."""
import math

import pytest
import torch
from omegaconf import OmegaConf

from hypersp.models.jasper.model import JasperBlockConfig as B
from hypersp.models.jasper.model import JasperConfig, JasperModel
from hypersp.models.presets import list_presets, load_preset, preset_path

JASPER_PRESETS = ["jasper10x5dr", "quartznet15x5", "quartznet10x5", "quartznet5x5", "quartznet_small"]


def config_from_preset(name: str) -> JasperConfig:
    cfg = OmegaConf.merge(OmegaConf.structured(JasperConfig), load_preset(name))
    OmegaConf.set_struct(cfg, True)
    return cfg


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_meta(cfg, input_dim: int, vocab_size: int) -> JasperModel:
    # The meta device allocates nothing: the 333 M-parameter Jasper builds in milliseconds.
    with torch.device("meta"):
        return JasperModel(cfg, input_dim=input_dim, vocab_size=vocab_size)


def test_presets_are_listed_and_found():
    presets = list_presets()
    for name in JASPER_PRESETS:
        assert name in presets
        assert preset_path(name) == presets[name] == preset_path(name + ".yaml")
    with pytest.raises(KeyError, match="quartznet15x5"):
        preset_path("quartznet15x6")


# Paper / NeMo sizes with 64 mel features and a 29-symbol English vocabulary (28 + blank).
@pytest.mark.parametrize("name, expected", [
    ("jasper10x5dr", 332.6e6),
    ("quartznet15x5", 18.9e6),
    ("quartznet10x5", 12.8e6),
    ("quartznet5x5", 6.7e6),
])
def test_paper_parameter_counts(name, expected):
    cfg = config_from_preset(name)
    model = build_meta(cfg, input_dim=64, vocab_size=29)
    assert abs(n_params(model) - expected) / expected < 0.01, n_params(model)
    assert model.subsampling_factor == 2


def test_exact_parameter_counts():
    # Pinned so that an accidental architecture change shows up.
    assert n_params(build_meta(config_from_preset("jasper10x5dr"), 64, 29)) == 332_632_349
    assert n_params(build_meta(config_from_preset("quartznet15x5"), 64, 29)) == 18_924_381


def test_small_preset_is_the_default_and_cpu_sized():
    preset = config_from_preset("quartznet_small")
    assert OmegaConf.to_container(preset) == OmegaConf.to_container(OmegaConf.structured(JasperConfig))
    model = JasperModel(preset, input_dim=80, vocab_size=70)
    assert 0.8e6 <= n_params(model) <= 1.5e6
    x = torch.randn(2, 123, 80)
    log_probs, lengths = model.eval()(x, torch.tensor([123, 77]))
    assert model.subsampling_factor == 4
    assert log_probs.shape == (2, 31, 70)  # ceil(ceil(123 / 2) / 2)
    assert lengths.tolist() == [31, 20]


def test_registry_builds_every_jasper_preset():
    from hypersp.registry import MODELS

    for name in JASPER_PRESETS:
        cfg = config_from_preset(name)
        assert cfg.name == "jasper"
        with torch.device("meta"):
            model = MODELS.build(cfg, input_dim=80, vocab_size=70)
        assert isinstance(model, JasperModel)


def test_unknown_preset_key_is_rejected():
    with pytest.raises(Exception, match="filterz"):
        OmegaConf.merge(OmegaConf.structured(JasperConfig), {"blocks": [{"filterz": 3}]})


def tiny_config(dense=False, strides=(2, 1)):
    return JasperConfig(
        blocks=[
            B(filters=16, kernel=5, stride=strides[0], separable=True),
            B(filters=16, repeat=2, kernel=7, residual=True, separable=True),
            B(filters=24, repeat=2, kernel=5, residual=True),
            B(filters=24, kernel=3, stride=strides[1], dilation=2),
            B(filters=32, kernel=1),
        ],
        dense_residual=dense,
    )


def test_dense_residual_wiring():
    model = JasperModel(tiny_config(dense=True), input_dim=10, vocab_size=7)
    # block i (a residual block) sums shortcuts from every earlier output since the prologue
    assert [len(b.residuals) for b in model.blocks] == [0, 1, 2, 0, 0]
    plain = JasperModel(tiny_config(dense=False), input_dim=10, vocab_size=7)
    assert [len(b.residuals) for b in plain.blocks] == [0, 1, 1, 0, 0]


@pytest.mark.parametrize("dense", [False, True])
def test_forward_backward_shapes(dense):
    torch.manual_seed(0)
    model = JasperModel(tiny_config(dense=dense), input_dim=10, vocab_size=7)
    x = torch.randn(3, 41, 10)
    lengths = torch.tensor([41, 30, 1])
    log_probs, out_lengths = model(x, lengths)
    assert log_probs.shape == (3, 21, 7) and log_probs.dtype == torch.float32
    assert out_lengths.dtype == torch.long and out_lengths.tolist() == [21, 15, 1]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 21), atol=1e-5)
    log_probs[0, :21].sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert all(p.grad.abs().sum() > 0 for p in model.parameters())


def test_subsampling_factor_and_exact_lengths():
    model = JasperModel(tiny_config(strides=(2, 3)), input_dim=10, vocab_size=7).eval()
    assert model.subsampling_factor == 6
    for T in [1, 2, 5, 6, 7, 12, 13, 50]:
        log_probs, out_lengths = model(torch.randn(1, T, 10), torch.tensor([T]))
        expected = math.ceil(math.ceil(T / 2) / 3)
        assert out_lengths.item() == log_probs.shape[1] == expected, T
        assert model.output_lengths(torch.tensor([T])).item() == expected


@pytest.mark.parametrize("dense", [False, True])
def test_padding_never_leaks_into_valid_frames(dense):
    torch.manual_seed(0)
    model = JasperModel(tiny_config(dense=dense, strides=(2, 1)), input_dim=10, vocab_size=7).eval()
    utt = torch.randn(1, 23, 10)
    alone, alone_len = model(utt, torch.tensor([23]))
    for pad in [1, 2, 17, 100]:
        # the padding holds garbage, not zeros: masking must make it irrelevant
        padded = torch.cat([utt, 50 * torch.randn(1, pad, 10)], dim=1)
        other = torch.randn(1, 23 + pad, 10)
        batch = torch.cat([other, padded])
        out, out_len = model(batch, torch.tensor([23 + pad, 23]))
        assert out_len[1] == alone_len[0] == 12
        torch.testing.assert_close(out[1, :12], alone[0], atol=1e-5, rtol=1e-5)


def test_config_errors_name_the_key():
    bad = tiny_config()
    bad.blocks[1].residual_mode = "stride_add"
    with pytest.raises(ValueError, match=r"blocks\[1\]\.residual_mode"):
        JasperModel(bad, input_dim=10, vocab_size=7)
    strided = tiny_config(dense=True)
    strided.blocks[2].stride = 2
    with pytest.raises(ValueError, match=r"blocks\[2\].*dense_residual"):
        JasperModel(strided, input_dim=10, vocab_size=7)
    with pytest.raises(ValueError, match="odd"):
        JasperModel(JasperConfig(blocks=[B(filters=8, kernel=4)]), input_dim=10, vocab_size=7)
    with pytest.raises(ValueError, match="blocks is empty"):
        JasperModel(JasperConfig(blocks=[]), input_dim=10, vocab_size=7)
    model = JasperModel(tiny_config(), input_dim=10, vocab_size=7)
    with pytest.raises(ValueError, match=r"\(B, T, 10\)"):
        model(torch.randn(1, 20, 11), torch.tensor([20]))
