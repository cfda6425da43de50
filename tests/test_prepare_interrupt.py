"""Exact resume of ``hypersp-prepare`` (synthetic and corpora) after Ctrl-C (issue 15 part 3).

Ctrl-C reaches the whole process group (parent and workers), as in a terminal. After each interrupt the run
is repeated to completion and every file must equal, byte for byte, the files of an uninterrupted run.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hypersp.prepare.atomic import TMP_SUFFIX, publish, remove_temporaries, temporary_name

HOURS = 0.08  # ~85 utterances: with 2 workers, synthesis spans roughly 0.5-3 s after the start
DRIVER = """
import signal, sys
try:
    from hypersp.prepare.synthetic.generator import SyntheticConfig, generate_corpus
    generate_corpus(sys.argv[1], SyntheticConfig(hours=float(sys.argv[2]), seed=3), jobs=int(sys.argv[3]),
                    progress=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # done: a Ctrl-C during interpreter exit changes nothing
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
"""


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn``: the child gets SIGINT's default action. A runner started in the background by a
    non-interactive shell (``cmd &``, nohup) ignores SIGINT, and an ignored signal stays ignored across exec,
    so without this Python would install no KeyboardInterrupt handler and every interrupt here would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def generate(out: Path, jobs: int = 2, interrupt_after: float = 0.0):
    """Run the generator in its own process group; with ``interrupt_after``, send SIGINT to the group then.
    Returns (exit code, stderr, whether the signal was sent before the run ended)."""
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(out), str(HOURS), str(jobs)], start_new_session=True,
                            preexec_fn=sigint_as_in_a_terminal, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    sent = False
    if interrupt_after:
        time.sleep(interrupt_after)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            sent = True
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, err, sent


def snapshot(folder: Path):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_interrupted_runs_resume_to_byte_identical_output(tmp_path):
    ref = tmp_path / "ref"
    code, err, _ = generate(ref)
    assert code == 0, err[-3000:]
    expected = snapshot(ref)
    n_wavs = sum(name.startswith("wavs/") for name in expected)
    assert n_wavs > 40 and "report.json" in expected
    rng = random.Random(15)
    trials = []
    for trial in range(10):
        out = tmp_path / f"run{trial}"
        delay = rng.uniform(0.3, 3.0)
        code, err, sent = generate(out, interrupt_after=delay)
        assert code in (0, 130) and "Traceback" not in err, err[-3000:]
        assert code == 130 or not sent or (out / "report.json").exists(), err[-3000:]
        left = snapshot(out) if out.exists() else {}
        partial = {k: v for k, v in left.items() if not k.endswith(TMP_SUFFIX)}
        # whatever is there under a final name is already identical to the uninterrupted run's file
        # (the manifests and the config stamp aside: they are rewritten by the rerun)
        for name, data in partial.items():
            if name.startswith("wavs/") or name in ("report.json", ".synthetic_config_hash"):
                assert data == expected[name], (trial, name)
        code2, err2, _ = generate(out)
        assert code2 == 0, err2[-3000:]
        assert snapshot(out) == expected, trial
        trials.append({"delay_s": round(delay, 2), "exit": code, "wavs_before_rerun": sum(k.startswith("wavs/") for k in partial),
                       "temporaries_left": len(left) - len(partial)})
    print(json.dumps(trials))
    assert any(0 < t["wavs_before_rerun"] < n_wavs for t in trials)  # some interrupts landed mid-synthesis


@pytest.mark.slow
def test_ctrl_c_on_the_cli_is_one_line_and_resumes(tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "hypersp_cli.prepare", "synthetic", "--out", str(out), "--jobs", "2", f"hours={HOURS}"]
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=sigint_as_in_a_terminal, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not any((out / "wavs").glob("synth-*.wav")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)  # until synthesis is under way (the CLI imports torch first)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "hypersp-prepare: interrupted" in err
    assert not (out / "report.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert not list(out.rglob(f".*{TMP_SUFFIX}"))


def test_publish_leaves_nothing_or_the_complete_file(tmp_path):
    target = tmp_path / "a.txt"
    with publish(target, "w") as f:
        f.write("one")
    assert target.read_text() == "one"
    with pytest.raises(RuntimeError):
        with publish(target, "w") as f:
            f.write("partial")
            raise RuntimeError("stopped")
    assert target.read_text() == "one" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    temporary_name(tmp_path / "b.wav").write_bytes(b"half")  # what a killed process leaves
    assert remove_temporaries(tmp_path) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_incomplete_wavs_are_made_again(tmp_path):
    from hypersp.prepare.synthetic.generator import SyntheticConfig, generate_corpus

    cfg = SyntheticConfig(hours=0.003, seed=4)
    generate_corpus(tmp_path / "ref", cfg, progress=False)
    expected = snapshot(tmp_path / "ref")
    out = tmp_path / "out"
    generate_corpus(out, cfg, progress=False)
    (out / "report.json").unlink()  # an interrupted run: no report yet
    wavs = sorted((out / "wavs").glob("synth-*.wav"))
    wavs[0].write_bytes(wavs[0].read_bytes()[:-100])  # truncated (e.g. a power cut before the data reached disk)
    wavs[1].write_bytes(b"")
    temporary_name(wavs[2]).write_bytes(b"RIFF")
    generate_corpus(out, cfg, progress=False)
    assert snapshot(out) == expected


CORPUS_DRIVER = """
import signal, sys, time
try:
    from hypersp.prepare import framework
    from hypersp.tasks.corpora.ktelspeech import KtelSpeechTask

    real = framework._process_shard

    def slow(shard):  # spread the work over ~1 s so that interrupts land inside it
        time.sleep(0.2)
        return real(shard)

    framework._process_shard = slow
    KtelSpeechTask.prepare(sys.argv[1], sys.argv[2], 2, {"progress": False, "shards": 8})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
"""


@pytest.mark.slow
def test_interrupted_corpus_preparation_resumes_to_identical_manifests(tmp_path):
    from hypersp.testing.corpus_fixtures import make_aihub_bulk

    make_aihub_bulk(tmp_path / "raw", "ktelspeech", utterances=120, per_session=4)

    def prepare(out, interrupt_after=0.0):
        proc = subprocess.Popen([sys.executable, "-c", CORPUS_DRIVER, str(tmp_path / "raw"), str(out)],
                                start_new_session=True, preexec_fn=sigint_as_in_a_terminal, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if interrupt_after:
            deadline = time.time() + 60
            while not (out / ".work" / "fingerprint").exists() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.02)  # until the preparation is under way (imports done)
            time.sleep(interrupt_after)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode, err

    code, err = prepare(tmp_path / "ref")
    assert code == 0, err[-3000:]
    expected = {p.name: p.read_bytes() for p in (tmp_path / "ref").glob("*.jsonl")}
    counts = json.loads((tmp_path / "ref" / "report.json").read_text())["utterances"]
    assert sum(len(v.splitlines()) for v in expected.values()) == 120
    rng = random.Random(3)
    interrupted = 0
    for trial in range(4):
        out = tmp_path / f"run{trial}"
        code, err = prepare(out, interrupt_after=rng.uniform(0.0, 1.2))
        assert code in (0, 130) and "Traceback" not in err, err[-3000:]
        interrupted += code == 130
        assert not list(out.rglob(f"*{TMP_SUFFIX}")) or code == 130
        code, err = prepare(out)
        assert code == 0, err[-3000:]
        assert {p.name: p.read_bytes() for p in out.glob("*.jsonl")} == expected, trial
        assert json.loads((out / "report.json").read_text())["utterances"] == counts
        assert not list(out.rglob(f"*{TMP_SUFFIX}"))
    assert interrupted >= 2
