"""Shared preparation machinery: parallel = serial, resumable, accounting, CLI, OS junk."""
import json
import os

import pytest

from hypersp.registry import TASKS
from hypersp.prepare import framework
from hypersp.prepare.framework import decode_text, is_os_junk, read_transcript
from hypersp.testing.corpus_fixtures import assert_prepared, make_aihub, make_aihub_bulk, read_manifests

FAST = {"progress": False, "shards": 8}


def _lines(out):
    return {split: sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rs)
            for split, rs in read_manifests(out).items()}


def test_parallel_output_equals_serial(tmp_path):
    fx = make_aihub(tmp_path / "raw", "ktelspeech")
    r1 = TASKS.get("ktelspeech").prepare(fx.root, tmp_path / "a", 1, FAST)
    r2 = TASKS.get("ktelspeech").prepare(fx.root, tmp_path / "b", 2, {**FAST, "shards": 3})
    assert _lines(tmp_path / "a") == _lines(tmp_path / "b")
    assert r1["utterances"] == r2["utterances"] and r1["files_on_disk"] == r2["files_on_disk"]
    # manifests are written in a deterministic order
    TASKS.get("ktelspeech").prepare(fx.root, tmp_path / "c", 2, FAST)
    assert (tmp_path / "a/train.jsonl").read_bytes() == (tmp_path / "c/train.jsonl").read_bytes()
    assert not (tmp_path / "a/.work").exists()


def test_resume_skips_finished_shards(tmp_path, monkeypatch):
    make_aihub_bulk(tmp_path / "raw", "ktelspeech", utterances=120, per_session=4)
    out = tmp_path / "out"
    opts = {**FAST, "keep_work": True}
    calls = []
    real = framework._process_shard

    def crash_after_three(shard):
        calls.append(shard)
        if len(calls) > 3:
            raise KeyboardInterrupt("simulated interruption")
        return real(shard)

    monkeypatch.setattr(framework, "_process_shard", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        TASKS.get("ktelspeech").prepare(tmp_path / "raw", out, 1, opts)
    assert len(list((out / ".work").glob("shard-*.done.json"))) == 3
    assert not (out / "report.json").exists()

    calls.clear()
    monkeypatch.setattr(framework, "_process_shard", lambda s: (calls.append(s), real(s))[1])
    report = TASKS.get("ktelspeech").prepare(tmp_path / "raw", out, 1, opts)
    assert len(calls) == 8 - 3                                   # finished shards were not redone
    assert report["resumed"] == {"discovery": True, "shards_done_before": 3}
    assert report["utterances"]["kept"] == 120
    assert sum(len(v) for v in read_manifests(out).values()) == 120

    # a finished run is recognised and not redone; new options redo it
    calls.clear()
    again = TASKS.get("ktelspeech").prepare(tmp_path / "raw", out, 1, opts)
    assert again["resumed"] == "already complete" and calls == []
    redo = TASKS.get("ktelspeech").prepare(tmp_path / "raw", out, 1, {**opts, "keep_digits": True})
    assert redo["resumed"] is False and len(calls) == 8


def test_os_junk_and_decoding():
    for name in ("a/.DS_Store", "a/Thumbs.db", "a/0001.wav:Zone.Identifier", "a/._0001.wav", "__MACOSX/a/x.wav", "a/desktop.ini"):
        assert is_os_junk(name.replace("/", os.sep)), name
    assert not is_os_junk("a/0001.wav")
    assert decode_text("\ufeff안녕".encode("utf-8")) == ("안녕", "utf-8-sig")
    assert decode_text("안녕".encode("cp949")) == ("안녕", "cp949")
    assert decode_text("안녕".encode("utf-16")) == ("안녕", "utf-16")


def test_read_transcript_joins_lines(tmp_path):
    p = tmp_path / "x.txt"
    p.write_bytes("\ufeff첫 줄\r\n\r\n둘째 줄\r\n".encode("utf-8"))
    assert read_transcript(str(p)) == ("첫 줄 둘째 줄", "utf-8-sig")


def test_cli_prepare_with_key_value_options(tmp_path, capsys):
    from hypersp_cli.prepare import main

    fx = make_aihub(tmp_path / "raw", "krespspeech")
    rc = main(["krespspeech", "--root", str(fx.root), "--out", str(tmp_path / "out"), "--jobs", "2",
               "progress=false", "shards=4", "test_fraction=0.01"])
    assert rc == 0
    report = json.loads((tmp_path / "out/report.json").read_text(encoding="utf-8"))
    assert_prepared(fx, tmp_path / "out", report)
    assert report["jobs"] == 2 and report["shards"] == 4
    assert json.loads(capsys.readouterr().out)["utterances"]["kept"] == len(fx.kept)


def test_missing_root_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        TASKS.get("klecspeech").prepare(tmp_path / "nope", tmp_path / "out", 1, FAST)
