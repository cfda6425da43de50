"""hypersp-transcribe: files, folders, manifests, formats, channels, bad inputs; the engine's text."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import hypersp
from hypersp.audio.io import resample


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    from hypersp.data.espeak import EspeakSynthesizer

    root = tmp_path_factory.mktemp("tx")
    synth = EspeakSynthesizer()
    waves = []
    for i, text in enumerate(["안녕하세요 고객센터입니다", "내일 다시 연락드리겠습니다"]):
        x, rate = synth.synthesize(text, rate_wpm=160, seed=i)
        waves.append(resample(x.astype(np.float32) / 32768.0, rate, 16000))
    (root / "a").mkdir()
    (root / "b").mkdir()
    sf.write(root / "a" / "utt.wav", waves[0], 16000, subtype="PCM_16")
    sf.write(root / "b" / "utt.wav", waves[1], 16000, subtype="PCM_16")  # same name in another folder
    n = max(w.size for w in waves)
    stereo = np.zeros((n, 2), np.float32)
    stereo[: waves[0].size, 0], stereo[: waves[1].size, 1] = waves[0], waves[1]
    sf.write(root / "stereo.wav", stereo, 16000, subtype="PCM_16")
    both = np.concatenate([waves[0], np.zeros(8000, np.float32), waves[1]])
    sf.write(root / "both.wav", both, 16000, subtype="PCM_16")
    manifest = root / "m.jsonl"
    d0 = waves[0].size / 16000
    manifest.write_text(json.dumps({"audio_filepath": "both.wav", "offset": d0 + 0.5, "duration": waves[1].size / 16000,
                                    "text": "", "utt_id": "second"}) + "\n", encoding="utf-8")
    (root / "bad.wav").write_bytes(b"not audio at all")
    return root


def cli(*args, ok=(0,)):
    proc = subprocess.run([sys.executable, "-m", "hypersp_cli.transcribe", "--no-progress", *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in ok, proc.stderr[-3000:]
    return proc


def test_txt_json_and_folders_match_the_python_api(audio, tmp_path):
    asr = hypersp.load("demo_ko_16k")
    files = [audio / "a" / "utt.wav", audio / "b" / "utt.wav"]
    lines = cli(*files).stdout.strip().splitlines()
    assert [line.split("\t") for line in lines] == [[str(f), asr.transcribe(f).text] for f in files]
    cli(audio / "a", audio / "b", "--format", "json", "--output", tmp_path)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert written == ["a/utt.json", "b/utt.json"]  # no collision between the two utt.wav
    rec = json.loads((tmp_path / "a" / "utt.json").read_text(encoding="utf-8"))
    assert rec["text"] == asr.transcribe(files[0]).text and rec["segments"][0]["words"][0]["word"]


def test_manifest_span_subtitles_and_channels(audio, tmp_path):
    out = cli(audio / "m.jsonl", "--format", "jsonl").stdout.strip().splitlines()
    rec = json.loads(out[0])
    assert rec["utt_id"] == "second" and rec["text"].startswith("내일"), rec["text"]
    cli(audio / "both.wav", "--format", "srt", "--output", tmp_path)
    cli(audio / "both.wav", "--format", "vtt", "--output", tmp_path)
    srt = (tmp_path / "both.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n") and "\n2\n" in srt and " --> " in srt
    assert (tmp_path / "both.vtt").read_text(encoding="utf-8").startswith("WEBVTT")
    rec = json.loads(cli(audio / "stereo.wav", "--channels", "--format", "jsonl").stdout)
    assert rec["channels"] == 2 and {s["channel"] for s in rec["segments"]} == {0, 1}


def test_bad_inputs(audio, tmp_path):
    proc = cli(audio / "bad.wav", audio / "a" / "utt.wav", ok=(1,))
    assert "bad.wav" in proc.stderr and "1 could not be read" in proc.stderr
    assert "utt.wav\t" in proc.stdout  # the readable file is still transcribed
    proc = cli(tmp_path / "missing.wav", ok=(2,))
    assert "no such file" in proc.stderr
    (tmp_path / "empty").mkdir()
    assert "no audio files" in cli(tmp_path / "empty", ok=(2,)).stderr
    assert "--output" in cli(audio / "both.wav", "--format", "srt", ok=(2,)).stderr
    out = cli(audio / "a" / "utt.wav", "--decoding", "ctc_beam", "--beam-size", "4", "--hotword", "안녕").stdout
    assert out.strip().split("\t")[1]
