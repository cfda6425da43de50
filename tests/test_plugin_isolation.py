"""Built-ins are discovered (a new model family is one new folder) and a broken plugin cannot take
hypersp down: it is reported in one line and left out, everything else keeps working."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hypersp

PACKAGE = Path(hypersp.__file__).parent


def run_py(code, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    env.pop("HYPERSP_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=180)


@pytest.mark.slow
def test_a_new_model_family_is_one_new_folder(tmp_path):
    root = tmp_path / "src"
    shutil.copytree(PACKAGE, root / "hypersp", ignore=shutil.ignore_patterns("__pycache__", "*.pt"))
    family = root / "hypersp" / "models" / "tdnn"
    family.mkdir()
    (family / "__init__.py").write_text("")
    (family / "model.py").write_text(textwrap.dedent('''
        from dataclasses import dataclass

        import torch

        from hypersp.models.base import SpeechModel
        from hypersp.registry import register_model


        @dataclass
        class TdnnConfig:
            name: str = "tdnn"
            hidden: int = 8


        @register_model("tdnn", config=TdnnConfig)
        class TdnnModel(SpeechModel):
            def __init__(self, cfg, *, input_dim, vocab_size):
                super().__init__()
                self.subsampling_factor = 1
                self.proj = torch.nn.Linear(input_dim, vocab_size)

            def forward(self, features, lengths):
                return self.proj(features).log_softmax(-1), lengths
    '''))
    proc = run_py("""
        import hypersp, torch
        from hypersp.registry import MODELS
        assert hypersp.__file__.startswith(%r), hypersp.__file__
        m = MODELS.build(MODELS.config_class("tdnn")(), input_dim=80, vocab_size=5)
        lp, n = m(torch.zeros(2, 7, 80), torch.tensor([7, 5]))
        print(MODELS.entry("tdnn").module, tuple(lp.shape))
    """ % str(root), {"PYTHONPATH": str(root)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["hypersp.models.tdnn.model", "(2,", "7,", "5)"]


@pytest.mark.slow
def test_a_broken_plugin_is_left_out(tmp_path):
    src = tmp_path / "broken"
    (src / "hypersp_broken_plugin").mkdir(parents=True)
    (src / "hypersp_broken_plugin" / "__init__.py").write_text("raise RuntimeError('this plugin is broken')\n")
    (src / "setup.py").write_text(textwrap.dedent("""
        from setuptools import setup
        setup(name="hypersp-broken-plugin", version="0.0.1", packages=["hypersp_broken_plugin"],
              entry_points={"hypersp.plugins": ["broken = hypersp_broken_plugin"]})
    """))
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--target", str(site), str(src)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    env = {"PYTHONPATH": str(site)}
    listing = subprocess.run([sys.executable, "-m", "hypersp_cli.train", "--list"], capture_output=True, text=True,
                             env=dict(os.environ, **env), timeout=180)
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "conformer" in listing.stdout and "bilstm" in listing.stdout  # built-ins and the good plugin
    assert "hypersp_broken_plugin" in listing.stderr and "this plugin is broken" in listing.stderr
    proc = run_py("""
        import hypersp
        from hypersp.registry import MODELS
        print(hypersp.load("demo_ko_16k").decoding.name)
        try:
            MODELS.get("nonexistent")
        except KeyError as err:
            print("ERR", err)
    """, env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0] == "ctc_beam"  # the shipped model's default decoding (with the shipped LM)
    assert "hypersp_broken_plugin" in proc.stdout  # an unknown name points at the plugin that was left out


def test_layers_inference_serve_export_do_not_import_train():
    """Checkpoint load/save and checkpoint -> components live in the core module ``hypersp.checkpoint``."""
    import re

    offenders = []
    for layer in ("inference", "serve", "export", "decoding"):
        for path in (PACKAGE / layer).rglob("*.py"):
            if re.search(r"^\s*(from|import) hypersp\.train\b", path.read_text(encoding="utf-8"), re.M):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_layers_prepare_writes_manifests_data_reads_them():
    """Corpus preparation lives in ``hypersp.prepare``; ``hypersp.data`` (manifest -> dataset -> batch) never
    imports it, and preparation never imports tasks or training (tasks call the preparers, not the reverse)."""
    import re

    rules = {"data": r"hypersp\.prepare\b", "prepare": r"hypersp\.(tasks|train)\b"}
    offenders = []
    for layer, forbidden in rules.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            if re.search(rf"^\s*(from|import) {forbidden}", path.read_text(encoding="utf-8"), re.M):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
    assert sorted(p.stem for p in (PACKAGE / "data").glob("*.py")) == [
        "__init__", "batch", "dataset", "interop", "manifest", "sampler"]


def test_the_model_contract_is_checked():
    """Registering a non-SpeechModel fails in one line; a model without subsampling_factor cannot be built."""
    import pytest
    import torch

    from hypersp.models.base import SpeechModel, check_model
    from hypersp.registry import MODELS

    with pytest.raises(TypeError, match="must subclass SpeechModel"):
        MODELS.register("not_a_speech_model")(type("Plain", (torch.nn.Module,), {}))

    class NoFactor(SpeechModel):
        pass

    with pytest.raises(TypeError, match="subsampling_factor"):
        check_model(NoFactor(), "nofactor")
    from hypersp.checkpoint import build_from_checkpoint, load_checkpoint

    model = build_from_checkpoint(load_checkpoint("demo_ko_16k")).model
    assert isinstance(model, SpeechModel) and model.subsampling_factor == 4 and not model.has_attention_decoder


def test_registration_mistakes_are_one_line_errors():
    from dataclasses import dataclass

    import pytest

    from hypersp.registry import APPS, TOKENIZERS

    @dataclass
    class NoName:
        size: int = 1

    with pytest.raises(TypeError, match="needs a 'name' field"):
        TOKENIZERS.register("no_name_tokenizer", config=NoName)(type("T", (), {}))
    with pytest.raises(TypeError, match="needs config="):
        APPS.register("configless_app")(type("A", (), {}))


def test_a_checkpoint_cannot_import_an_arbitrary_module():
    """Provenance naming a module that no installed hypersp plugin declares is refused before any import; the
    example plugin's own module is allowed, and provenance records distribution versions."""
    import pytest

    from hypersp.checkpoint import build_from_checkpoint, load_checkpoint
    from hypersp.plugins import PluginError, check_checkpoint_modules

    state = {"config": {}, "model": {}, "tokenizer": {},
             "provenance": {"model": {"name": "x", "module": "os", "distribution": "evil"}}}
    with pytest.raises(PluginError, match="not an installed hypersp plugin"):
        build_from_checkpoint(state)
    ok = {"model": {"name": "bilstm", "module": "hypersp_example_plugin.bilstm",
                    "distribution": "hypersp-example-plugin"}}
    assert check_checkpoint_modules(ok) == ["hypersp_example_plugin.bilstm"]
    from hypersp.checkpoint import component_provenance
    from hypersp.config import compose

    prov = component_provenance(compose(task="synthetic", arch="conformer_tiny"))
    assert prov["model"]["distribution"] == "hypersp" and prov["model"]["version"]
    assert load_checkpoint("demo_ko_16k")["provenance"]["model"]["module"].startswith("hypersp.")
