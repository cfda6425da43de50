"""hypersp-transcribe: files, folders, manifests, formats, channels, bad inputs -- and the engine's own text.

Most tests call ``main()`` in-process (the shipped demo model loads in about a second); one runs the installed
console script.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import hypersp
from hypersp.audio.io import load_audio, resample
from hypersp_cli import transcribe as tx

RATE = 16000


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Two espeak utterances as a/utt.wav, b/utt.wav (same name), a/sub/deep.flac; both.wav (one after the
    other, 0.5 s apart); stereo.wav (one per channel); a manifest line for the second half of both.wav."""
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    root = tmp_path_factory.mktemp("tx")
    synth = EspeakSynthesizer()
    waves = []
    for i, text in enumerate(["안녕하세요 고객센터입니다", "내일 다시 연락드리겠습니다"]):
        x, rate = synth.synthesize(text, rate_wpm=160, seed=i)
        waves.append(resample(x.astype(np.float32) / 32768.0, rate, RATE))
    (root / "a" / "sub").mkdir(parents=True)
    (root / "b").mkdir()
    sf.write(root / "a" / "utt.wav", waves[0], RATE, subtype="PCM_16")
    sf.write(root / "a" / "sub" / "deep.flac", waves[1], RATE)
    (root / "a" / "notes.txt").write_text("not audio", encoding="utf-8")  # not an audio extension: skipped
    sf.write(root / "b" / "utt.wav", waves[1], RATE, subtype="PCM_16")  # same name in another folder
    n = max(w.size for w in waves)
    stereo = np.zeros((n, 2), np.float32)
    stereo[: waves[0].size, 0], stereo[: waves[1].size, 1] = waves[0], waves[1]
    sf.write(root / "stereo.wav", stereo, RATE, subtype="PCM_16")
    both = np.concatenate([waves[0], np.zeros(RATE // 2, np.float32), waves[1]])
    sf.write(root / "both.wav", both, RATE, subtype="PCM_16")
    offset, duration = round(waves[0].size / RATE + 0.4, 3), round(waves[1].size / RATE + 0.1, 3)
    lines = [{"audio_filepath": "both.wav", "offset": offset, "duration": duration, "text": "", "utt_id": "second"},
             {"audio_filepath": "a/utt.wav", "duration": round(waves[0].size / RATE, 3), "text": ""}]
    (root / "m.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    (root / "bad.wav").write_bytes(b"RIFF but not audio at all")
    return root


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread for this module (restored after): on a busy 2-core machine two threads wait on each
    other and a 4 s utterance takes seconds instead of 40 ms."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def asr():
    return hypersp.load("demo_ko_16k")


def cli(capsys, *args):
    """Run ``main`` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        code = tx.main(["--no-progress", *map(str, args)])
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_txt_is_the_python_api_text(audio, asr, capsys):
    files = [audio / "a" / "utt.wav", audio / "b" / "utt.wav", audio / "both.wav"]
    code, out, err = cli(capsys, *files)
    assert code == 0, err
    # txt shows the display form by default (the engine's own), --spoken the spoken form
    assert [line.split("\t") for line in out.strip().splitlines()] == [[str(f), asr.transcribe(f).display] for f in files]
    assert all(asr.transcribe(f).text for f in files)
    summary = err.strip().splitlines()[-1]
    assert re.search(r"3 of 3 inputs transcribed, [\d.]+ s audio in [\d.]+ s \(RTF [\d.]+", summary), summary
    code, out, err = cli(capsys, *files, "--spoken")
    assert [line.split("\t") for line in out.strip().splitlines()] == [[str(f), asr.transcribe(f).text] for f in files]
    assert any(asr.transcribe(f).display != asr.transcribe(f).text for f in files)  # the switch shows


def test_folders_are_searched_recursively_and_names_do_not_collide(audio, asr, capsys, tmp_path):
    code, out, err = cli(capsys, audio / "a", audio / "b", "--format", "json", "--output", tmp_path)
    assert code == 0 and out == "", err
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    # utt.wav exists in a/ and b/: each keeps its folder; the path under a given folder is kept
    assert written == ["a/utt.json", "b/utt.json", "sub/deep.json"]
    rec = json.loads((tmp_path / "sub" / "deep.json").read_text(encoding="utf-8"))
    assert rec["audio_filepath"] == str(audio / "a" / "sub" / "deep.flac")
    assert rec["text"] == asr.transcribe(audio / "a" / "sub" / "deep.flac").text
    words = [w for s in rec["segments"] for w in s["words"]]
    assert words and all(0 <= w["start"] <= w["end"] <= rec["duration"] and 0 < w["confidence"] <= 1 for w in words)
    assert " ".join(w["word"] for w in words).replace(" ", "") == rec["text"].replace(" ", "")


def test_output_names():
    def item(*parts, min_parts=1):
        return tx.Item(Path("/".join(parts)), "", ("/",) + parts, min_parts)

    items = [item("x", "a", "utt"), item("x", "b", "utt"), item("y", "a", "utt"), item("x", "one"),
             item("d", "s", "deep", min_parts=2), item("x", "one")]
    # parents are added only where they tell names apart; the same file twice gets a number
    assert tx.output_names(items) == ["x/a/utt", "b/utt", "y/a/utt", "one", "s/deep", "one-2"]


def test_jsonl_stdout_and_output_dir(audio, asr, capsys, tmp_path):
    files = [audio / "a" / "utt.wav", audio / "b" / "utt.wav"]
    code, out, err = cli(capsys, *files, "--format", "jsonl", "--no-words")
    recs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["audio_filepath"] for r in recs] == [str(f) for f in files]
    assert [r["text"] for r in recs] == [asr.transcribe(f).text for f in files]
    assert [r["display"] for r in recs] == [asr.transcribe(f).display for f in files]  # both forms in JSON
    assert all(s["display"] for r in recs for s in r["segments"])
    assert all("words" not in s for r in recs for s in r["segments"])
    code, out, err = cli(capsys, *files, "--format", "jsonl", "--output", tmp_path)
    assert code == 0 and out == ""
    lines = (tmp_path / "transcripts.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines] == [r["text"] for r in recs]
    cli(capsys, files[0], "--format", "jsonl", "--output", tmp_path)  # a new run starts the file afresh
    assert len((tmp_path / "transcripts.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def _cue_blocks(text):
    return [b.splitlines() for b in text.strip().split("\n\n")]


def test_srt_and_vtt_files(audio, capsys, tmp_path):
    time_line = r"\d\d:\d\d:\d\d[,.]\d\d\d --> \d\d:\d\d:\d\d[,.]\d\d\d"
    for fmt in ("srt", "vtt"):
        code, out, err = cli(capsys, audio / "both.wav", audio / "a", "--format", fmt, "--output", tmp_path)
        assert code == 0, err
    srt = _cue_blocks((tmp_path / "both.srt").read_text(encoding="utf-8"))
    assert len(srt) >= 2  # two utterances 0.5 s apart: two cues
    for i, block in enumerate(srt, 1):
        assert block[0] == str(i) and re.fullmatch(time_line.replace("[,.]", ","), block[1]) and block[2].strip()
    vtt = (tmp_path / "both.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT")
    cues = [b for b in _cue_blocks(vtt)[1:]]
    assert len(cues) == len(srt) and all(any(re.fullmatch(time_line.replace("[,.]", r"\."), x) for x in b) for b in cues)
    assert (tmp_path / "utt.srt").is_file() and (tmp_path / "sub" / "deep.vtt").is_file()
    shown = " ".join(" ".join(b[2:]) for b in srt)
    t = hypersp.load("demo_ko_16k").transcribe(audio / "both.wav")
    assert shown == t.display and shown != t.text  # subtitles show the display form ...
    code, out, err = cli(capsys, audio / "both.wav", "--format", "srt", "--spoken", "--output", tmp_path)
    spoken = _cue_blocks((tmp_path / "both.srt").read_text(encoding="utf-8"))
    assert " ".join(" ".join(b[2:]) for b in spoken) == t.text  # ... or, with --spoken, the spoken form
    code, out, err = cli(capsys, audio / "both.wav", "--format", "srt")  # subtitles need --output
    assert code == 2 and "--output" in err


def test_segments_and_no_segment(audio, capsys):
    code, out, _ = cli(capsys, audio / "both.wav", "--format", "jsonl")
    segs = json.loads(out)["segments"]
    assert len(segs) == 2 and segs[0]["end"] <= segs[1]["start"]
    code, out, _ = cli(capsys, audio / "both.wav", "--format", "jsonl", "--no-segment")
    rec = json.loads(out)
    assert [(s["start"], s["end"]) for s in rec["segments"]] == [(0.0, rec["duration"])]


def test_manifest_offset_duration_and_utt_id(audio, asr, capsys, tmp_path):
    code, out, err = cli(capsys, audio / "m.jsonl", "--format", "jsonl")
    assert code == 0, err
    second, first = [json.loads(line) for line in out.splitlines()]
    span = load_audio(audio / "both.wav", RATE, offset=second["offset"], duration=second["duration"])
    assert second["utt_id"] == "second" and second["audio_filepath"] == str(audio / "both.wav")
    assert abs(second["duration"] - span.size / RATE) < 1e-3 and second["duration"] < 3.0  # only the span was read
    assert second["text"] == asr.transcribe(span, sample_rate=RATE).text
    assert second["text"] != asr.transcribe(audio / "both.wav").text
    assert first["utt_id"] == "utt" and first["text"] == asr.transcribe(audio / "a" / "utt.wav").text
    code, out, err = cli(capsys, audio / "m.jsonl")  # txt: manifest lines are named by utt_id
    assert [line.split("\t")[0] for line in out.splitlines()] == ["second", "utt"]
    code, out, err = cli(capsys, audio / "m.jsonl", "--format", "json", "--output", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["second.json", "utt.json"]


def test_channels(audio, asr, capsys):
    code, out, err = cli(capsys, audio / "stereo.wav", "--channels", "--format", "jsonl")
    rec = json.loads(out)
    assert code == 0 and rec["channels"] == 2
    by_channel = {s["channel"]: s["text"] for s in rec["segments"]}
    assert set(by_channel) == {0, 1}
    assert by_channel[0] == asr.transcribe(audio / "a" / "utt.wav").text
    assert by_channel[1] == asr.transcribe(audio / "b" / "utt.wav").text
    code, out, err = cli(capsys, audio / "stereo.wav", "--format", "jsonl")  # mixed down by default
    rec = json.loads(out)
    assert rec["channels"] == 1 and {s["channel"] for s in rec["segments"]} == {0}


def test_bad_file_is_reported_and_the_others_transcribed(audio, capsys):
    code, out, err = cli(capsys, audio / "bad.wav", audio / "a" / "utt.wav", audio / "b" / "utt.wav")
    assert code == 1
    assert str(audio / "bad.wav") in err and "1 of 3 inputs could not be read" in err
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(audio / "a" / "utt.wav"), str(audio / "b" / "utt.wav")]


def test_nothing_to_do_is_an_error(audio, capsys, tmp_path, monkeypatch):
    loads = []
    monkeypatch.setattr(hypersp, "load", lambda *a, **k: loads.append(a))
    code, out, err = cli(capsys, audio / "a" / "utt.wav", tmp_path / "missing.wav")
    assert code == 2 and "no such file" in err and str(tmp_path / "missing.wav") in err
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    code, out, err = cli(capsys, tmp_path / "empty")
    assert code == 2 and "no audio files" in err
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    code, out, err = cli(capsys, tmp_path / "empty.jsonl")
    assert code == 2 and "no lines" in err
    code, out, err = cli(capsys)
    assert code == 2
    assert loads == [] and out == ""  # nothing was loaded or written


def test_beam_flags_and_overrides(audio, capsys):
    f = audio / "a" / "utt.wav"
    code, out, err = cli(capsys, f, "--format", "jsonl", "--decoding", "ctc_beam", "--beam-size", "4",
                         "--hotword", "안녕", "--hotword", "고객", "--nbest", "2")
    assert code == 0, err
    rec = json.loads(out)
    beam = hypersp.load("demo_ko_16k", decoding="ctc_beam", beam_size=4, hotwords=["안녕", "고객"], nbest=2)
    assert rec["text"] == beam.transcribe(f).text and "decoding ctc_beam" in err
    assert all(1 <= len(s["nbest"]) <= 2 and s["nbest"][0]["text"] == s["text"] for s in rec["segments"])
    code, out, err = cli(capsys, f, "vad.no_such_key=1")  # key=value reaches the checkpoint's config
    assert code == 2 and "no_such_key" in err


def test_decoding_flags_are_hypersp_evals():
    from hypersp_cli import eval as ev
    from hypersp_cli.common import decoding_settings

    def decoding_flags(parser):
        group = next(g for g in parser._action_groups if g.title.startswith("decoding"))
        return sorted(opt for a in group._group_actions for opt in a.option_strings)

    assert decoding_flags(tx.build_parser()) == decoding_flags(ev.build_parser())
    args = tx.build_parser().parse_args(["x.wav", "--lm", "lm.arpa", "--hotword", "가", "--hotword", "나",
                                         "--beam-size", "8"])
    assert decoding_settings(args) == {"lm_path": "lm.arpa", "hotwords": ["가", "나"], "beam_size": 8}
    assert decoding_settings(tx.build_parser().parse_args(["x.wav"])) == {}


@pytest.mark.slow
def test_console_script(audio):
    exe = shutil.which("hypersp-transcribe", path=str(Path(sys.executable).parent))
    assert exe, "hypersp-transcribe is not installed: pip install -e ."
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "default: demo_ko_16k" in proc.stdout
    proc = subprocess.run([exe, str(audio / "nope.wav")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("hypersp-transcribe: error:")
