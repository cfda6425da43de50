"""Mistakes a user makes on the command line end in one line on stderr and exit code 2, never a traceback."""
import json
import subprocess
import sys

import numpy as np
import pytest

from hypersp.audio.io import write_wav

pytestmark = pytest.mark.slow  # every test runs a CLI in a subprocess (a Python + torch start each)


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory):
    d = tmp_path_factory.mktemp("m")
    lines = []
    for i, text in enumerate(["안녕하세요", "감사합니다", "반갑습니다"]):
        write_wav(d / f"{i}.wav", 0.1 * np.sin(np.arange(16000) / (5 + i)).astype(np.float32), 16000)
        lines.append(json.dumps({"audio_filepath": f"{i}.wav", "duration": 1.0, "text": text}, ensure_ascii=False))
    (d / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return d / "train.jsonl"


def one_line_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in proc.stderr, proc.stderr


def test_sentencepiece_vocab_too_large(tmp_path, tiny_manifest):
    one_line_error(cli("hypersp_cli.prepare", "tokenizer", "--manifest", str(tiny_manifest), "--out", str(tmp_path / "spm"),
                       "type=unigram", "vocab_size=500"), "tokenizer.vocab_size=500", "lower tokenizer.vocab_size")


def test_lm_text_refuses_a_manifest(tmp_path, tiny_manifest):
    """--text takes plain sentences; a manifest there would become an LM of JSON syntax."""
    one_line_error(cli("hypersp_cli.prepare", "lm", "--text", str(tiny_manifest), "--out", str(tmp_path / "lm.arpa")),
                   f"--manifest {tiny_manifest}")
    assert not (tmp_path / "lm.arpa").exists()
    text = tmp_path / "sentences.txt"
    text.write_text("안녕하세요\n감사합니다\n", encoding="utf-8")
    ok = cli("hypersp_cli.prepare", "lm", "--text", str(text), "--out", str(tmp_path / "lm.arpa"), "--unit", "char")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "\\data\\" in (tmp_path / "lm.arpa").read_text(encoding="utf-8")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the machine has CUDA")
@pytest.mark.parametrize("override,fragment", [("trainer.precision=fp16", "fp16 needs CUDA"),
                                               ("trainer.device=cuda", "CUDA is not available")])
def test_cuda_only_settings_on_cpu(tmp_path, tiny_manifest, override, fragment):
    one_line_error(cli("hypersp_cli.train", "--task", "synthetic", "--arch", "conformer_tiny",
                       f"task.train_manifest={tiny_manifest}", f"task.valid_manifest={tiny_manifest}",
                       f"trainer.out_dir={tmp_path / 'run'}", "trainer.max_steps=1", override), fragment)


@pytest.mark.parametrize("command,argv,module,extra", [
    ("serve", ["--app", "minutes", "--no-ssl"], "sanic", "serve"),
    ("export", ["--checkpoint", "demo_ko_16k", "--out", "x.onnx"], "onnx", "export"),
])
def test_missing_extras_name_the_pip_line(monkeypatch, capsys, tmp_path, command, argv, module, extra):
    import importlib
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    monkeypatch.chdir(tmp_path)
    main = importlib.import_module(f"hypersp_cli.{command}").main
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"pip install 'hypersp[{extra}]'" in err and module in err and "Traceback" not in err


def test_prepare_from_an_empty_root_fails_instead_of_writing_nothing(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "readme.txt").write_text("not a corpus", encoding="utf-8")
    one_line_error(cli("hypersp_cli.prepare", "ksponspeech", "--root", str(tmp_path / "raw"), "--out", str(tmp_path / "out")),
                   "no utterances prepared from --root", "report.json")


# --- issue 15 part 7 -------------------------------------------------------------------------------

def test_weights_of_the_wrong_shape_for_the_config(tmp_path, tiny_manifest):
    import torch

    from hypersp.checkpoint import load_checkpoint, save_checkpoint

    state = load_checkpoint("demo_ko_16k")
    name = next(k for k, v in state["model"].items() if v.dim() == 2)
    state["model"][name] = torch.zeros(state["model"][name].shape[0] + 3, state["model"][name].shape[1])
    save_checkpoint(state, tmp_path / "wrong.pt")  # intact file (its hash verifies), weights unfit for its config
    one_line_error(cli("hypersp_cli.eval", "--checkpoint", str(tmp_path / "wrong.pt"), "--manifest", str(tiny_manifest)),
                   "weights do not fit the model its config builds", name)


def unwritable_folder(tmp_path):
    """A folder this process cannot create files in (a read-only one; /sys/kernel for root)."""
    import os
    import tempfile

    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    else:
        folder = "/sys/kernel"
    try:
        os.close(tempfile.mkstemp(dir=folder)[0])
    except OSError:
        return str(folder)
    pytest.skip("no unwritable folder on this machine")


@pytest.mark.parametrize("case", ["existing_file", "under_a_file", "unwritable"])
def test_prepare_out_that_cannot_be_an_output_folder(tmp_path, capsys, case):
    from hypersp_cli.prepare import main

    (tmp_path / "afile").write_text("x")
    out, fragment = {"existing_file": (tmp_path / "afile", "is an existing file"),
                     "under_a_file": (tmp_path / "afile" / "sub", "is a file, not a folder"),
                     "unwritable": (f"{unwritable_folder(tmp_path)}/out", "cannot write in")}[case]
    assert main(["synthetic", "--out", str(out), "hours=0.001"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hypersp-prepare: error: --out" in err and fragment in err, err


@pytest.mark.parametrize("case", ["existing_folder", "under_a_file", "unwritable"])
def test_export_out_that_cannot_be_written(tmp_path, capsys, case):
    from hypersp_cli.export import main

    (tmp_path / "afile").write_text("x")
    out, fragment = {"existing_folder": (tmp_path, "is a folder"),
                     "under_a_file": (tmp_path / "afile" / "m.onnx", "is a file, not a folder"),
                     "unwritable": (f"{unwritable_folder(tmp_path)}/m.onnx", "cannot write in")}[case]
    assert main(["--checkpoint", "demo_ko_16k", "--format", "torchscript", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hypersp-export: error: --out" in err and fragment in err, err


def test_prepare_corpus_without_root(tmp_path):
    one_line_error(cli("hypersp_cli.prepare", "ksponspeech", "--out", str(tmp_path / "out")),
                   "--root is required", "examples/ksponspeech/README.md")


def test_prepare_synthetic_negative_hours(tmp_path):
    proc = cli("hypersp_cli.prepare", "synthetic", "--out", str(tmp_path / "out"), "hours=-1")
    one_line_error(proc, "invalid synthetic corpus options", "hours=-1.0: must be > 0")
    assert proc.stderr.strip().count("\n") == 0
