"""Plugin discovery through the real ``hypersp.plugins`` entry point.

``make test`` pip-installs ``plugins/hypersp-example-plugin`` first; these tests never import
it directly, they check that hypersp finds it (or not) the way a user's process would.
"""
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution

import pytest
import torch

from hypersp.plugins import PluginError, load_plugin, required_modules
from hypersp.registry import MODELS

pytestmark = pytest.mark.slow  # a server process, subprocesses or training: not in `pytest -m "not slow"`


def _run(*args, env_extra=None):
    env = dict(os.environ)
    env.pop("HYPERSP_DISABLE_PLUGIN_AUTOLOAD", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module", autouse=True)
def plugin_installed():
    try:
        distribution("hypersp-example-plugin")
    except PackageNotFoundError:
        pytest.fail("plugins/hypersp-example-plugin is not installed; `make test` installs it with pip")


def test_entry_point_discovery_lists_plugin_with_its_distribution():
    out = _run("hypersp_cli.train", "--list")
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.strip().startswith("bilstm"))
    assert "hypersp_example_plugin.bilstm.BiLSTMModel" in line
    assert "[hypersp-example-plugin]" in line
    assert "[hypersp]" in next(l for l in out.stdout.splitlines() if l.strip().startswith("jasper"))


def test_autoload_switch_and_explicit_plugin_flag():
    off = {"HYPERSP_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = _run("hypersp_cli.train", "--list", env_extra=off)
    assert out.returncode == 0 and "bilstm" not in out.stdout
    out = _run("hypersp_cli.train", "--list", "--plugin", "hypersp_example_plugin.bilstm", env_extra=off)
    assert out.returncode == 0 and "bilstm" in out.stdout


def test_unknown_plugin_module_is_a_clear_error():
    out = _run("hypersp_cli.train", "--list", "--plugin", "no_such_plugin_module")
    assert out.returncode == 2
    assert "no_such_plugin_module" in out.stderr and "pip install" in out.stderr


def test_plugin_model_builds_trains_a_step_and_records_provenance():
    from hypersp.config import compose
    from hypersp.checkpoint import component_provenance

    cfg = compose(task="synthetic", arch="bilstm", overrides=["model.hidden=16", "model.layers=1"])
    model = MODELS.build(cfg.model, input_dim=80, vocab_size=20)
    x = torch.randn(2, 33, 80)
    lengths = torch.tensor([33, 20])
    log_probs, out_lengths = model(x, lengths)
    assert log_probs.shape == (2, 17, 20) and out_lengths.tolist() == [17, 10]
    log_probs.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    prov = component_provenance(cfg)
    assert prov["model"] == {"name": "bilstm", "module": "hypersp_example_plugin.bilstm",
                             "distribution": "hypersp-example-plugin", "version": "0.1.0"}
    assert prov["task"]["distribution"] == "hypersp"
    assert required_modules(prov) == ["hypersp_example_plugin.bilstm"]


def test_missing_plugin_for_a_checkpoint_is_named():
    from hypersp.checkpoint import build_from_checkpoint

    state = {"config": {}, "model": {}, "tokenizer": {},
             "provenance": {"model": {"name": "x", "module": "gone_plugin.models", "distribution": "gone-plugin"}}}
    with pytest.raises(PluginError) as err:
        build_from_checkpoint(state)
    assert "gone_plugin.models" in str(err.value) and "gone-plugin" in str(err.value)


def test_load_plugin_is_idempotent():
    load_plugin("hypersp_example_plugin.bilstm")
    load_plugin("hypersp_example_plugin.bilstm")
    assert "bilstm" in MODELS.names()
