"""examples/synthetic/quickstart.sh end to end at toy size: a step budget with a time cap, and a summary
that reports the open-vocabulary test and says when the cap, not the budget, ended training."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_reports_open_vocabulary_cer_and_a_time_cap_cut(tmp_path):
    env = dict(os.environ, HOURS="0.02", STEPS="1000", MINUTES="0.1", JOBS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(["bash", str(ROOT / "examples/synthetic/quickstart.sh"), str(tmp_path / "data"),
                           str(tmp_path / "run")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["stop_reason"] == "max_minutes" and summary["steps"] < 1000  # 6 s cannot reach 1000 steps
    assert "WARNING       : the time cap stopped training at step" in proc.stdout
    assert "open-vocab CER:" in proc.stdout and "on 240 sentences" in proc.stdout
    assert json.loads((tmp_path / "run" / "open_result.json").read_text())["num_utterances"] == 240
    assert "conformer_tiny" in proc.stdout  # the fastest-learning preset is the default
