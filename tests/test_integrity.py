"""Integrity of checkpoints and exports (issue 15 part 2): a content hash recorded at save/export time is
checked at load; a damaged file is refused in one line naming it (CLI: exit 2, no traceback)."""
import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from hypersp.audio.io import write_wav
from hypersp.checkpoint import (INTEGRITY_KEY, CheckpointError, content_hash, load_checkpoint, save_checkpoint,
                                shipped_models, verify_content_hash)
from hypersp.export.sidecar import ExportError, file_sha256, integrity_record, sidecar_path, verify_export


def flip_middle(path, n=4096):
    """XOR ``n`` bytes in the middle of ``path`` with 0xFF (the fault of issue 15)."""
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2 - n // 2)
        block = f.read(n)
        f.seek(size // 2 - n // 2)
        f.write(bytes(b ^ 0xFF for b in block))


@pytest.fixture()
def demo_copy(tmp_path):
    dst = tmp_path / "demo.pt"
    shutil.copy(shipped_models()["demo_ko_16k"], dst)
    return dst


def test_shipped_models_carry_a_content_hash_that_verifies():
    models = shipped_models()
    assert {"demo_ko_16k", "demo_ko_8k"} <= set(models)
    for name, path in models.items():
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert state[INTEGRITY_KEY]["algorithm"] == "hypersp-content-sha256-v1", name
        assert verify_content_hash(state, path) is True, name
        load_checkpoint(name)


def test_flipped_4kb_in_the_middle_is_refused_in_one_line(demo_copy):
    load_checkpoint(demo_copy)  # the intact copy loads
    flip_middle(demo_copy)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(demo_copy)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{demo_copy} is damaged")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "zip_header"])
def test_unreadable_files_are_one_line_errors_naming_the_file(demo_copy, damage):
    data = demo_copy.read_bytes()
    if damage == "truncated":
        demo_copy.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        demo_copy.write_bytes(np.random.default_rng(0).bytes(50_000))
    else:
        demo_copy.write_bytes(b"\0" * 64 + data[64:])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(demo_copy)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{demo_copy} is damaged")


def test_hash_round_trip_and_sensitivity(tmp_path):
    state = {"config": {"a": 1, "name": "x"}, "model": {"w": torch.arange(6, dtype=torch.float16).reshape(2, 3),
                                                        "n": torch.tensor(3)}, "step": 7}
    save_checkpoint(state, tmp_path / "c.pt")
    assert INTEGRITY_KEY not in state  # the caller's dict is not modified
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded[INTEGRITY_KEY]["sha256"] == content_hash(state) == content_hash(loaded)
    assert oct((tmp_path / "c.pt").stat().st_mode & 0o777) != oct(0o600)  # a normal file mode, not mkstemp's
    for change in (lambda s: s["model"]["w"].__setitem__((0, 0), 1.0),        # one tensor value
                   lambda s: s["model"].__setitem__("w", s["model"]["w"].float()),  # dtype
                   lambda s: s["model"].__setitem__("w", s["model"]["w"].reshape(3, 2)),  # shape
                   lambda s: s["config"].__setitem__("name", "y"),             # a plain value
                   lambda s: s["model"].__setitem__("v", s["model"].pop("w"))):  # a name
        other = torch.load(tmp_path / "c.pt", weights_only=True)
        change(other)
        assert content_hash(other) != loaded[INTEGRITY_KEY]["sha256"]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "c.pt"]
    assert not leftovers  # the temporary file was renamed, nothing left beside it


def test_legacy_checkpoint_without_hash_loads_with_a_warning(tmp_path, caplog):
    state = {"config": {}, "model": {"w": torch.ones(2)}}
    torch.save(state, tmp_path / "old.pt")
    with caplog.at_level(logging.WARNING, logger="hypersp.checkpoint"):
        assert torch.equal(load_checkpoint(tmp_path / "old.pt")["model"]["w"], torch.ones(2))
    assert "no content hash" in caplog.text and "old.pt" in caplog.text


@pytest.mark.slow
def test_eval_on_a_damaged_model_exits_2_with_one_line(demo_copy, tmp_path):
    write_wav(tmp_path / "a.wav", (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000)
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "안녕"},
                                                 ensure_ascii=False) + "\n", encoding="utf-8")
    flip_middle(demo_copy)
    proc = subprocess.run([sys.executable, "-m", "hypersp_cli.eval", "--checkpoint", str(demo_copy),
                           "--manifest", str(tmp_path / "m.jsonl")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == [f"hypersp-eval: error: {errors[0].split('error: ', 1)[1]}"] and f"{demo_copy} is damaged" in errors[0]


def test_export_hashes_are_checked(tmp_path):
    """The checks without an exporter: a model file and sidecar written as hypersp-export writes them."""
    model = tmp_path / "m.ts"
    model.write_bytes(np.random.default_rng(1).bytes(20_000))
    meta = {"format": "hypersp-export", "version": 1, "model_format": "torchscript", "vocab_size": 5}
    meta["integrity"] = integrity_record(model, meta)
    assert verify_export(model, meta) is True
    with pytest.raises(ExportError, match="sidecar|m.ts.json"):
        verify_export(model, {**meta, "vocab_size": 6})
    flip_middle(model, 64)
    with pytest.raises(ExportError) as err:
        verify_export(model, meta)
    assert str(err.value).startswith(f"{model} is damaged") and "\n" not in str(err.value)
    assert verify_export(model, {k: v for k, v in meta.items() if k != "integrity"}) is False  # older export


def test_onnx_export_sidecar_hash_catches_flipped_bytes(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from hypersp.export import export_checkpoint
    from hypersp.inference.backends import open_exported

    out = tmp_path / "demo.onnx"
    meta = export_checkpoint("demo_ko_16k", "onnx", out)
    assert set(meta["integrity"]) == {"algorithm", "model_sha256", "sidecar_sha256"}
    open_exported(out)  # intact: opens
    flip_middle(out)
    with pytest.raises(ExportError) as err:
        open_exported(out)
    assert str(err.value).startswith(f"{out} is damaged") and "\n" not in str(err.value)
    # a changed tokenizer state in the sidecar is caught too (model hash made to match the flipped file)
    side = json.loads(sidecar_path(out).read_text(encoding="utf-8"))
    side["integrity"]["model_sha256"] = file_sha256(out)
    side["tokenizer"]["state"] = {**side["tokenizer"]["state"], "tampered": True}
    sidecar_path(out).write_text(json.dumps(side, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ExportError, match="is damaged"):
        open_exported(out)
