"""The error breakdown of hypersp-eval: S/D/I from one alignment, CER by speaker/domain/length, worst first."""
import json
import random
import subprocess
import sys

import editdistance
import numpy as np

import pytest

from hypersp.audio.io import write_wav
from hypersp.metrics import ErrorBreakdown, edit_ops, format_breakdown


def test_edit_ops_sum_to_the_edit_distance():
    rng = random.Random(0)
    for _ in range(500):
        a = "".join(rng.choice("가나다") for _ in range(rng.randint(0, 9)))
        b = "".join(rng.choice("가나다라") for _ in range(rng.randint(0, 9)))
        ops = edit_ops(a, b)
        assert sum(ops.values()) == editdistance.eval(a, b)
        assert len(a) - ops["deletions"] + ops["insertions"] == len(b)
    assert edit_ops("안녕하세요", "안녕하셰요요") == {"substitutions": 1, "deletions": 0, "insertions": 1}
    assert edit_ops("가나다", "") == {"substitutions": 0, "deletions": 3, "insertions": 0}


def test_breakdown_groups_and_worst():
    b = ErrorBreakdown(worst=2)
    b.update("가나다라", "가나다라", "u1", "spkA", "lecture", 1.5)
    b.update("가나 다라", "가나마", "u2", "spkB", "lecture", 3.0)  # 1 substitution + 1 deletion over 4 chars
    b.update("가나다라마바", "가나다라마바사", "u3", "spkA", "call", 12.0)
    r = b.result()
    assert r["char_ops"] == {"substitutions": 1, "deletions": 1, "insertions": 1}
    assert r["by_speaker"] == {"spkA": {"cer": 10.0, "utterances": 2}, "spkB": {"cer": 50.0, "utterances": 1}}
    assert r["by_domain"]["call"]["cer"] == round(100 / 6, 3)
    assert set(r["by_length"]) == {"0-2 s", "2-5 s", "10-20 s"}
    assert [w["utt_id"] for w in r["worst"]] == ["u2", "u3"]  # the perfect u1 is never "worst"
    text = format_breakdown(r)
    assert "substitutions 1, deletions 1, insertions 1" in text and "spkB" in text and "hyp: 가나마" in text


@pytest.mark.slow
def test_hypersp_eval_reports_breakdown_and_skipped_audio(tmp_path):
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    synth = EspeakSynthesizer()
    lines = []
    for i, (text, spk) in enumerate([("안녕하세요", "m1"), ("감사합니다", "f2")]):
        x, r = synth.synthesize(text, variant=spk, seed=i)
        write_wav(tmp_path / f"{i}.wav", x.astype(np.float32) / 32768.0, r)
        lines.append({"audio_filepath": f"{i}.wav", "duration": x.size / r, "text": text, "speaker": spk,
                      "domain": "greeting"})
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    lines.append({"audio_filepath": "bad.wav", "duration": 1.0, "text": "없음"})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(l, ensure_ascii=False) + "\n" for l in lines), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "hypersp_cli.eval", "--checkpoint", "demo_ko_16k", "--manifest",
                           str(tmp_path / "m.jsonl"), "--no-progress", "--breakdown"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert set(result["breakdown"]["by_speaker"]) == {"m1", "f2"}
    assert result["breakdown"]["by_domain"]["greeting"]["utterances"] == 2
    assert result["skipped"] == 1
    assert "WARNING: 1 utterance(s) skipped" in proc.stderr and "character errors:" in proc.stderr
