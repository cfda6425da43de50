import pytest
from omegaconf import OmegaConf

from hypersp.config import ConfigError, compose, require
from hypersp.models.presets import list_presets


def test_defaults_and_group_schema_chosen_by_name():
    cfg = compose(task="synthetic", arch="quartznet_small")
    assert cfg.task.name == "synthetic"
    assert cfg.model.name == "jasper"
    assert cfg.tokenizer.name == "jamo"  # the task's default tokenizer
    assert cfg.criterion.name == "ctc"
    assert OmegaConf.is_struct(cfg)


def test_priority_preset_then_files_then_overrides(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("optim:\n  lr: 0.01\ntrainer:\n  max_steps: 7\n")
    b = tmp_path / "b.yaml"
    b.write_text("optim:\n  lr: 0.02\n")
    cfg = compose([str(a), str(b)], ["trainer.max_steps=9"], task="synthetic", arch="quartznet_small")
    assert cfg.optim.lr == 0.02
    assert cfg.trainer.max_steps == 9


def test_typo_names_source_key_and_suggestion(tmp_path):
    with pytest.raises(ConfigError) as err:
        compose(overrides=["optim.lrr=0.1"])
    assert "override 'optim.lrr=0.1'" in str(err.value) and "did you mean 'optim.lr'" in str(err.value)
    f = tmp_path / "bad.yaml"
    f.write_text("trainer:\n  max_step: 3\n")
    with pytest.raises(ConfigError) as err:
        compose([str(f)])
    assert str(f) in str(err.value) and "trainer.max_steps" in str(err.value)


def test_type_errors_and_bad_syntax():
    with pytest.raises(ConfigError, match="optim.lr"):
        compose(overrides=["optim.lr=fast"])
    with pytest.raises(ConfigError, match="not key=value"):
        compose(overrides=["optim.lr"])
    with pytest.raises(ConfigError, match="does not exist"):
        compose(["/nonexistent.yaml"])


def test_unknown_component_and_arch():
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        compose(task="nope")
    with pytest.raises(ConfigError, match="Did you mean 'quartznet15x5'"):
        compose(arch="quartznet15x")


def test_model_name_switches_schema():
    cfg = compose(overrides=["model.name=jasper", "model.dense_residual=true"])
    assert cfg.model.dense_residual is True


def test_missing_values_reported_together():
    cfg = compose(task="synthetic")
    with pytest.raises(ConfigError) as err:
        require(cfg, ["task.train_manifest", "task.valid_manifest", "optim.lr"], "training")
    msg = str(err.value)
    assert "task.train_manifest" in msg and "task.valid_manifest" in msg and "optim.lr" not in msg


def test_training_reports_unset_manifests_before_building_anything(capsys):
    from hypersp_cli.train import main

    assert main(["--task", "synthetic", "--arch", "quartznet_small"]) == 2
    assert "task.train_manifest" in capsys.readouterr().err


@pytest.mark.parametrize("preset", sorted(list_presets()))
def test_every_preset_composes_and_builds(preset):
    """Every shipped preset, built-in or from an installed plugin, composes and builds (on the meta device:
    full size, no memory), as WeNet builds every shipped config."""
    import torch

    from hypersp.checkpoint import build_model, build_tokenizer_and_task

    cfg = compose(task="synthetic", arch=preset)
    assert cfg.model.name
    _, task = build_tokenizer_and_task(cfg)
    with torch.device("meta"):
        model = build_model(cfg, task)
    assert sum(p.numel() for p in model.parameters()) > 0 and model.subsampling_factor >= 1


def test_roundtrip_through_plain_dict():
    cfg = compose(task="synthetic_tel", arch="quartznet_small", overrides=["optim.lr=0.003"])
    again = compose(base=OmegaConf.to_container(cfg, resolve=True))
    assert again == cfg
    assert again.task.sample_rate == 8000 and again.task.features.sample_rate == 8000
