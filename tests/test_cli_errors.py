"""Mistakes a user makes on the command line end in one line on stderr and exit code 2, never a traceback."""
import json
import subprocess
import sys

import numpy as np
import pytest

from hypersp.audio.io import write_wav


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
