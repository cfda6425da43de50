"""Kaldi data dirs, WeNet data.list and lhotse manifests read wherever a manifest is accepted."""
import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from hypersp.audio.io import write_wav
from hypersp.data.interop import detect_format, read_entries
from hypersp.data.manifest import ManifestError, read_manifest

RATE = 16000
TEXTS = {"u1": "안녕하세요", "u2": "반갑습니다", "u3": "고객센터입니다"}
SECONDS = {"u1": 1.0, "u2": 1.5, "u3": 0.75}


@pytest.fixture()
def wavs(tmp_path):
    out = {}
    for k, sec in SECONDS.items():
        p = tmp_path / "audio" / f"{k}.wav"
        p.parent.mkdir(exist_ok=True)
        write_wav(p, 0.1 * np.sin(np.arange(int(sec * RATE)) / 10).astype(np.float32), RATE)
        out[k] = p
    return out


def kaldi_dir(tmp_path, wavs, segments=False):
    d = tmp_path / "kaldi"
    d.mkdir()
    if segments:  # one recording holding two utterances
        (d / "wav.scp").write_text(f"rec1 {wavs['u2']}\n", encoding="utf-8")
        (d / "segments").write_text("u1 rec1 0.00 0.60\nu2 rec1 0.60 -1\n", encoding="utf-8")
        (d / "text").write_text(f"u1 {TEXTS['u1']}\nu2 {TEXTS['u2']}\n", encoding="utf-8")
    else:
        (d / "wav.scp").write_text("".join(f"{k} {p}\n" for k, p in wavs.items()), encoding="utf-8")
        (d / "text").write_text("".join(f"{k} {t}\n" for k, t in TEXTS.items()), encoding="utf-8")
    (d / "utt2spk").write_text("u1 spkA\nu2 spkB\nu3 spkA\n", encoding="utf-8")
    return d


def test_kaldi_dir_whole_files(tmp_path, wavs):
    d = kaldi_dir(tmp_path, wavs)
    assert detect_format(d) == "kaldi"
    entries = read_manifest(d)  # the ordinary manifest reader takes the folder
    assert [e.utt_id for e in entries] == ["u1", "u2", "u3"]
    assert [e.text for e in entries] == list(TEXTS.values())
    assert [e.duration for e in entries] == pytest.approx(list(SECONDS.values()), abs=1e-3)
    assert entries[1].extra["speaker"] == "spkB" and entries[0].audio_filepath == str(wavs["u1"])


def test_kaldi_segments_and_minus_one_end(tmp_path, wavs):
    entries = read_manifest(kaldi_dir(tmp_path, wavs, segments=True))
    assert [(e.offset, e.duration) for e in entries] == [(0.0, 0.6), (0.6, pytest.approx(0.9, abs=1e-3))]
    assert {e.audio_filepath for e in entries} == {str(wavs["u2"])}


def test_kaldi_pipes_and_missing_files_are_named(tmp_path, wavs):
    d = kaldi_dir(tmp_path, wavs)
    (d / "wav.scp").write_text(f"u1 sox {wavs['u1']} -t wav - |\nu2 {wavs['u2']}\nu3 {wavs['u3']}\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"wav.scp:1: 'u1' is a pipe or ark entry"):
        read_manifest(d)
    (d / "text").unlink()
    with pytest.raises(ManifestError, match="not a Kaldi data dir: no text"):
        read_manifest(d)


def test_wenet_raw_list_and_shard_list(tmp_path, wavs):
    lst = tmp_path / "data.list"
    lst.write_text("".join(json.dumps({"key": k, "wav": str(p), "txt": TEXTS[k]}, ensure_ascii=False) + "\n"
                           for k, p in wavs.items()), encoding="utf-8")
    assert detect_format(lst) == "wenet"
    entries = read_manifest(lst)
    assert [(e.utt_id, e.text) for e in entries] == list(TEXTS.items())
    assert entries[2].duration == pytest.approx(0.75, abs=1e-3)
    shards = tmp_path / "shards.list"
    shards.write_text("/data/shards/shard_000000.tar\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="WeNet shard list"):
        read_manifest(shards)


def _gz_lines(path, items):
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")


def test_lhotse_cuts_and_supervisions(tmp_path, wavs):
    recs = [{"id": k, "sources": [{"type": "file", "channels": [0], "source": str(p)}], "sampling_rate": RATE,
             "num_samples": int(SECONDS[k] * RATE), "duration": SECONDS[k]} for k, p in wavs.items()]
    sups = [{"id": f"{k}-s", "recording_id": k, "start": 0.0, "duration": SECONDS[k], "channel": 0, "text": TEXTS[k],
             "speaker": "spk" + k} for k in wavs]
    cuts = [{"id": f"{k}-c", "start": 0.25, "duration": SECONDS[k] - 0.25, "channel": 0, "supervisions": [s],
             "recording": r, "type": "MonoCut"} for k, r, s in zip(wavs, recs, sups)]
    _gz_lines(tmp_path / "cuts_test.jsonl.gz", cuts)
    entries = read_manifest(tmp_path / "cuts_test.jsonl.gz")
    assert detect_format(tmp_path / "cuts_test.jsonl.gz") == "lhotse"
    assert [(e.utt_id, e.text, e.offset) for e in entries] == [(f"{k}-c", TEXTS[k], 0.25) for k in wavs]
    assert entries[0].extra["speaker"] == "spku1"
    _gz_lines(tmp_path / "supervisions_test.jsonl.gz", sups)
    with pytest.raises(ManifestError, match="needs its recordings manifest"):
        read_manifest(tmp_path / "supervisions_test.jsonl.gz")
    _gz_lines(tmp_path / "recordings_test.jsonl.gz", recs)
    entries = read_manifest(tmp_path / "supervisions_test.jsonl.gz")
    assert [(e.text, e.duration) for e in entries] == [(TEXTS[k], SECONDS[k]) for k in wavs]
    recs[0]["sources"] = [{"type": "url", "channels": [0], "source": "https://example.org/a.wav"}]
    _gz_lines(tmp_path / "recordings_test.jsonl.gz", recs)
    with pytest.raises(ManifestError, match="has no file source \\(url\\)"):
        list(read_entries(tmp_path / "supervisions_test.jsonl.gz"))


@pytest.mark.slow
def test_convert_command_and_eval_on_a_kaldi_dir(tmp_path, wavs):
    d = kaldi_dir(tmp_path, wavs)
    out = tmp_path / "conv" / "test.jsonl"
    proc = subprocess.run([sys.executable, "-m", "hypersp_cli.prepare", "manifest", "--from", str(d), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["utterances"] == 3 and json.loads(proc.stdout)["format"] == "kaldi"
    converted = read_manifest(out)
    assert [(e.utt_id, e.text, e.audio_filepath) for e in converted] == [(e.utt_id, e.text, e.audio_filepath)
                                                                          for e in read_manifest(d)]
    bad = subprocess.run([sys.executable, "-m", "hypersp_cli.prepare", "manifest", "--from", str(tmp_path / "nope"),
                          "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "does not exist" in bad.stderr and "Traceback" not in bad.stderr
    ev = subprocess.run([sys.executable, "-m", "hypersp_cli.eval", "--checkpoint", "demo_ko_16k", "--manifest", str(d),
                         "--output-json", str(tmp_path / "r.json"), "--no-progress"],
                        capture_output=True, text=True, timeout=300)  # eval reads the Kaldi dir as its manifest
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert json.loads((tmp_path / "r.json").read_text())["num_utterances"] == 3
