"""The recognition engine: one path from audio to text behind the Python API, hypersp-transcribe,
POST /recognize and hypersp-eval; word timestamps; the Transcript's formats; per-call settings."""
import json
import os
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
import soundfile as sf

import hypersp
from hypersp.audio.io import resample

SENTENCES = ["안녕하세요 고객센터입니다", "오늘 회의는 세 시에 시작합니다", "주문하신 물건이 내일 도착합니다"]
BEAM = ["--decoding", "ctc_beam", "--beam-size", "4"]


@pytest.fixture(scope="module")
def utterances(tmp_path_factory):
    """Three eSpeak NG utterances at 16 kHz as wav files, plus a manifest of them."""
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    out = tmp_path_factory.mktemp("engine")
    synth = EspeakSynthesizer()
    paths, lines = [], []
    for i, text in enumerate(SENTENCES):
        x, rate = synth.synthesize(text, rate_wpm=160, seed=i)
        x = resample(x.astype(np.float32) / 32768.0, rate, 16000)
        path = out / f"utt{i}.wav"
        sf.write(path, x, 16000, subtype="PCM_16")
        paths.append(path)
        lines.append(json.dumps({"audio_filepath": path.name, "duration": len(x) / 16000, "text": text,
                                 "utt_id": f"utt{i}"}, ensure_ascii=False))
    manifest = out / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths, manifest


@pytest.fixture(scope="module")
def asr():
    return hypersp.load("demo_ko_16k", decoding="ctc_beam", beam_size=4, lm="")  # without the shipped default LM


def cli(name, *args):
    proc = subprocess.run([sys.executable, "-m", f"hypersp_cli.{name}", *map(str, args)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_python_cli_server_and_eval_give_identical_text(utterances, asr, tmp_path):
    from hypersp.testing import ServerProcess

    pytest.importorskip("sanic")
    paths, manifest = utterances
    python = [asr.transcribe(p).text for p in paths]
    assert all(python), python

    lines = cli("transcribe", "--checkpoint", "demo_ko_16k", *BEAM, "--format", "jsonl", "--no-progress", *paths)
    transcribed = [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]

    hyp_file = tmp_path / "hyps.jsonl"
    cli("eval", "--checkpoint", "demo_ko_16k", "--manifest", manifest, *BEAM, "--segment", "--no-progress",
        "--hypotheses", hyp_file)
    evaluated = {h["utt_id"]: h["hyp"] for h in map(json.loads, hyp_file.read_text(encoding="utf-8").splitlines())}

    served = []
    with ServerProcess("demo_ko_16k", "minutes", BEAM) as srv:
        for p in paths:
            x, _ = sf.read(p, dtype="int16")
            body = json.dumps({"uid": "u", "sid": "s", "data": x.tolist()}).encode()
            req = urllib.request.Request(srv.url + "/recognize", data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                served.append(json.loads(r.read())["text"])
        # per-request settings: n-best and no word times; the text stays the engine's
        x, _ = sf.read(paths[0], dtype="int16")
        body = json.dumps({"uid": "u", "data": x.tolist(), "nbest": 2, "words": False}).encode()
        req = urllib.request.Request(srv.url + "/recognize", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        assert answer["final"] is True and answer["text"] == python[0]
        assert len(answer["segments"][0]["nbest"]) == 2 and "words" not in answer["segments"][0]
        # WebSocket: one settings message first, then audio; the final carries words and the n-best list
        from websockets.sync.client import connect

        with connect(srv.ws_url + "/recognize") as ws:
            ws.send(json.dumps({"settings": {"nbest": 2, "hotwords": ["고객센터"]}}))
            assert json.loads(ws.recv(timeout=30))["settings"]["nbest"] == 2
            for i in range(0, x.size, 3200):
                ws.send(json.dumps({"state": 1, "data": x[i:i + 3200].tolist()}))
            ws.send(json.dumps({"state": 0}))
            while True:
                ev = json.loads(ws.recv(timeout=30))
                if ev.get("final"):
                    break
        # no silent loss: the whole utterance as ONE binary message, or as one JSON message, gives POST's text
        for whole in (x.astype("<i2").tobytes(), json.dumps({"state": 1, "data": x.tolist()})):
            with connect(srv.ws_url + "/recognize", max_size=None) as ws2:
                ws2.send(whole)
                ws2.send(json.dumps({"state": 0}))
                texts = []
                while True:
                    e2 = json.loads(ws2.recv(timeout=30))
                    if e2.get("final"):
                        texts.append(e2["text"])
                        if e2.get("reason") == "client":
                            break
            assert " ".join(t for t in texts if t) == python[0]
        # n-best of the utterance: up to 2 (the Hangul grammar may leave fewer complete hypotheses in a beam of 4)
        assert ev["text"] and ev["words"] and 1 <= len(ev["nbest"]) <= 2 and ev["nbest"][0]["text"] == ev["text"]
    assert transcribed == python
    assert [evaluated[f"utt{i}"] for i in range(len(paths))] == python
    assert served == python


def test_words_have_times_near_the_truth(utterances):
    """Utterances joined with known silences: each utterance's first word starts within 0.2 s of its
    speech onset and its last word ends within 0.2 s of its speech offset."""
    from hypersp.inference.vad import frame_energies_db

    asr = hypersp.load("demo_ko_16k")
    paths, _ = utterances
    rate = 16000
    pieces, truth, t = [], [], 0.0
    for i, p in enumerate(paths):
        x, _ = sf.read(p, dtype="float32")
        e = frame_energies_db(x, rate)
        speech = np.flatnonzero(e > e.max() - 35)
        onset, offset = speech[0] * 0.01, speech[-1] * 0.01 + 0.03
        gap = np.zeros(int((1.0 + 0.5 * i) * rate), dtype=np.float32)
        pieces += [gap, x]
        t += gap.size / rate
        truth.append((t + onset, t + offset))
        t += x.size / rate
    pieces.append(np.zeros(rate, dtype=np.float32))
    result = asr.transcribe(np.concatenate(pieces), sample_rate=rate)
    assert len(result.segments) == len(paths), [s.text for s in result.segments]
    for seg, (start, end) in zip(result.segments, truth):
        assert seg.words, seg
        assert abs(seg.words[0].start - start) < 0.2, (seg.words[0], start)
        assert abs(seg.words[-1].end - end) < 0.2, (seg.words[-1], end)
        for a, b in zip(seg.words, seg.words[1:]):
            assert a.start < a.end <= b.start + 1e-6
        assert all(0.0 < w.confidence <= 1.0 for w in seg.words)
        assert " ".join(w.word for w in seg.words) == seg.text


def test_inputs_formats_and_channels(utterances, asr):
    paths, _ = utterances
    from_path = asr.transcribe(paths[0])
    assert asr.transcribe(paths[0].read_bytes()).text == from_path.text
    x, rate = sf.read(paths[0], dtype="float32")
    assert asr.transcribe(x, sample_rate=rate).text == from_path.text
    # any rate is resampled
    assert asr.transcribe(resample(x, rate, 22050), sample_rate=22050).text
    # stereo: each channel on its own
    y, _ = sf.read(paths[1], dtype="float32")
    n = max(x.size, y.size)
    stereo = np.zeros((2, n), dtype=np.float32)
    stereo[0, : x.size], stereo[1, : y.size] = x, y
    t = asr.transcribe(stereo, sample_rate=rate, channels=True)
    assert {s.channel for s in t.segments} == {0, 1}
    assert t.channels == 2
    d = from_path.to_dict()
    assert d["text"] == from_path.text and d["segments"][0]["words"][0]["word"]
    assert from_path.to_srt().startswith("1\n00:00:") and " --> " in from_path.to_srt()
    assert from_path.to_vtt().startswith("WEBVTT")
    with pytest.raises(ValueError, match="channels first"):
        asr.transcribe(np.zeros((16000, 2), dtype=np.float32))


def test_per_call_settings_and_decoder_cache(utterances, asr):
    paths, _ = utterances
    t = asr.transcribe(paths[0], nbest=3)
    nbest = t.segments[0].nbest
    # up to 3: the beam may hold fewer distinct texts than asked when the model is sure
    assert 2 <= len(nbest) <= 3 and nbest[0]["text"] == t.segments[0].text
    assert len({h["text"] for h in nbest}) == len(nbest)
    assert asr.decoder_for(nbest=3) is asr.decoder_for(nbest=3)
    assert asr.decoder_for() is asr.decoder
    default = hypersp.load("demo_ko_16k")  # a shipped model: ctc_beam with the shipped LM (its .decoding.yaml)
    assert default.decoding.name == "ctc_beam" and default.decoding.lm_path.endswith("ko_jamo6.arpa.gz")
    assert hypersp.load("demo_ko_16k", decoding="greedy").decoding.name == "greedy"
    assert hypersp.load("demo_ko_16k", hotwords=["고객센터"]).decoding.name == "ctc_beam"
    with pytest.raises(ValueError, match="unknown decoding setting"):
        hypersp.load("demo_ko_16k", beam_sise=4)


def test_stream_session_gives_partials_and_a_final_with_words(utterances, asr):
    paths, _ = utterances
    x, rate = sf.read(paths[0], dtype="int16")
    s = asr.stream(input_rate=rate)
    events = []
    for i in range(0, x.size, 1600):  # 0.1 s messages of PCM16
        events += s.accept(x[i:i + 1600].tobytes())
    events += s.finish()
    finals = [e for e in events if e["final"]]
    assert finals and finals[-1]["text"]
    assert any(not e["final"] for e in events)
    assert finals[-1]["words"] and finals[-1]["words"][0]["start"] >= 0


@pytest.mark.slow
def test_serve_settings_compose_like_training(tmp_path):
    """serve.*, streaming.*, vad.* and decoding.* come from one config: checkpoint < YAML < key=value < flags."""
    yaml = tmp_path / "serve.yaml"
    yaml.write_text("streaming:\n  endpoint_silence_s: 0.6\nvad:\n  max_segment_s: 12\n", encoding="utf-8")
    out = cli("serve", "--checkpoint", "demo_ko_16k", "--print-config", "-c", yaml, "streaming.chunk_s=0.16",
              "serve.max_streams=7", "--decoding", "ctc_beam", "--hotword", "고객센터")
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(out)
    assert cfg.streaming.endpoint_silence_s == 0.6 and cfg.streaming.chunk_s == 0.16
    assert cfg.vad.max_segment_s == 12 and cfg.serve.max_streams == 7
    assert cfg.decoding.name == "ctc_beam" and list(cfg.decoding.hotwords) == ["고객센터"]
    proc = subprocess.run([sys.executable, "-m", "hypersp_cli.serve", "--checkpoint", "demo_ko_16k", "--print-config",
                           "streaming.chunk_sec=1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "streaming.chunk_s" in proc.stderr


def test_transcript_carries_the_spoken_and_the_display_form(utterances, asr):
    from hypersp.text.display import display_form

    t = asr.transcribe(utterances[0][1])
    assert t.text == "오늘 회의는 세 시에 시작합니다"              # spoken form: what the model writes, scored
    assert t.display == "오늘 회의는 3시에 시작합니다."             # written number, sentence-final mark
    assert t.display == " ".join(display_form(s.text) for s in t.segments)
    d = t.to_dict(words=False)
    assert (d["text"], d["display"]) == (t.text, t.display)
    assert [s["display"] for s in d["segments"]] == [s.display for s in t.segments]
    assert "3시에 시작합니다." in t.to_srt() and "세 시에" in t.to_srt(display=False)
    assert "3시에" in t.to_vtt() and "세 시에" in t.to_vtt(display=False)
    seg = t.segments[0]
    seg.text = "다섯 명 왔습니다"  # the display form follows the text it was made from
    assert seg.display == "5명 왔습니다."


def test_eval_scores_the_display_form_against_written_references(utterances, asr, tmp_path, capsys):
    from hypersp.inference.evaluate import evaluate_manifest
    from hypersp.text.normalize import get_text_normalizer
    from hypersp_cli import eval as eval_cli

    paths, manifest = utterances
    written = ["안녕하세요 고객센터입니다.", "오늘 회의는 3시에 시작합니다.", "주문하신 물건이 내일 도착합니다."]
    lines = [dict(json.loads(x), audio_filepath=str(p), text=w)
             for x, p, w in zip(manifest.read_text(encoding="utf-8").splitlines(), paths, written)]
    wm = tmp_path / "written.jsonl"
    wm.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    basic = get_text_normalizer("basic")
    display = evaluate_manifest(asr, str(wm), basic, score_display=True, keep_hypotheses=True)
    spoken = evaluate_manifest(asr, str(wm), basic)
    assert [h["hyp"] for h in display["hypotheses"]] == [asr.transcribe(p).display for p in paths]
    assert [h["ref"] for h in display["hypotheses"]] == written  # written references are not read out
    assert display["cer_with_spaces"] < spoken["cer_with_spaces"]  # the spoken form misses 3 and the marks
    assert eval_cli.main(["--checkpoint", "demo_ko_16k", "--manifest", str(wm), "--score-display", "--no-progress",
                          "--decoding", "ctc_beam", "--beam-size", "4", "--lm", ""]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["scored_form"] == "display" and result["cer"] == display["cer"]
