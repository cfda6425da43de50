"""examples/synthetic/model_card.py: every figure of a demo model's card comes from the recipe's own files.

run.sh writes the JSON files below (hypersp-eval, open_test.sh, bench/long_segments.py, the trainer); the card
must carry their numbers, not typed-in ones. Here the files are made up with distinctive values and the card is
checked for each of them.
"""
import dataclasses
import json
import runpy
import shutil
from pathlib import Path

import pytest

from hypersp.checkpoint import shipped_models
from hypersp.prepare.synthetic.generator import SyntheticConfig

ROOT = Path(__file__).resolve().parents[1]


def _eval(cer, wer, n=240, rtf=0.0123):
    return {"cer": cer, "cer_with_spaces": cer + 0.5, "wer": wer, "num_utterances": n, "audio_seconds": 971.6,
            "rtf": rtf, "scoring_normalizer": "basic"}


def _by_length(cers):
    rows = [{"target_s": t, "windows": 6, "engine": {"cer": c, "seconds": 1.0}, "parts": {"cer": c + 1.0},
             "mean_s": t + 2.5} for t, c in zip((5.0, 10.0, 20.0, 30.0), cers)]
    return {"by_length": rows}  # as bench/long_segments.py --output-json writes it


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj), encoding="utf-8")


def test_card_carries_the_recipe_figures(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    corpus = dataclasses.asdict(SyntheticConfig(hours=14, text="broad", broad_fraction=0.6, long_fraction=0.1,
                                                reverb_fraction=0.15, codec_fraction=0.15, babble_fraction=0.15,
                                                heldout_rate_band=[165, 185]))
    splits = {"train": {"utterances": 9545, "hours": 13.5, "speakers": ["m1", "f2"]},
              "dev": {"utterances": 271, "hours": 0.3, "speakers": ["m1"]},
              "test": {"utterances": 407, "hours": 0.5, "speakers": ["m8", "f5"]}}
    _write(data / "report.json", {"config": corpus, "splits": splits})
    _write(data / "train.jsonl", "".join(json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": t}) + "\n"
                                         for t in ("가방 하나", "가방 둘", "셋")))
    _write(run / "16k" / "train_summary.json", {"steps": 3517, "epochs": 9.1, "train_seconds": 6012.0,
                                                "stop_reason": "max_steps", "audio_seconds_per_second": 47.2,
                                                "skipped": {"longer than task.max_duration": 12}})
    _write(run / "demo_ko_16k.average.json", {"averaged_from": [{"step": 3500}, {"step": 3250}, {"step": 3000}]})
    _write(run / "demo_ko_16k_dev.json", _eval(3.33, 9.99, n=271))
    _write(run / "demo_ko_16k_test.json", _eval(1.11, 4.44, n=407))
    _write(run / "demo_ko_16k_test_default.json", _eval(0.77, 3.21, n=407))
    _write(run / "open_greedy" / "open_16k.json", _eval(8.76, 30.12))
    _write(run / "open_default" / "open_16k.json", _eval(6.54, 24.68))
    _write(run / "open_default" / "open_16k_unseen.json", {"tokens": 0.4321, "types": 0.5432, "num_tokens": 1450,
                                                           "num_types": 1163})
    _write(run / "demo_ko_16k_by_length_greedy.json", _by_length([9.01, 9.02, 9.03, 9.04]))
    _write(run / "demo_ko_16k_by_length_default.json", _by_length([7.01, 7.02, 7.03, 7.04]))
    shutil.copy(shipped_models()["demo_ko_16k"], run / "demo_ko_16k.pt")

    card = tmp_path / "card.md"
    main = runpy.run_path(str(ROOT / "examples" / "synthetic" / "model_card.py"))["main"]
    assert main("demo_ko_16k", str(data), str(run), str(card)) == 0
    text = card.read_text(encoding="utf-8")
    for figure in ("**6.54 %**", "8.76 %", "24.68 %", "43.2 %", "54.3 %", "1450", "3.33 %", "1.11 %", "0.77 %",
                   "7.01 %", "8.01 %", "9.04 %", "10.04 %", "3517 steps", "100.2 min", "3500, 3250, 3000",
                   "60 % of the sentences from the broad pool", "10 % are 10-30 s long", "4 distinct words", "9545",
                   "skipped 12 training utterances (longer than task.max_duration)"):
        assert figure in text, figure
    # the headline comes first: the open-vocabulary test, then lengths, model, data, training, in-vocabulary
    order = [text.index(h) for h in ("## Open-vocabulary test", "## By segment length", "## Model", "## Data",
                                     "## Training", "## In-vocabulary results")]
    assert order == sorted(order)


@pytest.mark.parametrize("rate", ["16k", "8k"])
def test_streaming_card_carries_the_recipe_figures(tmp_path, rate):
    """examples/synthetic/stream_card.py (stream_finetune.sh): the streaming model's card from its run's files."""
    from hypersp.checkpoint import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    _write(run / f"{rate}_stream" / "train_summary.json", {"steps": 987, "epochs": 2.3, "train_seconds": 1003.0,
                                                       "stop_reason": "max_steps", "skipped": {}})
    _write(run / f"demo_ko_{rate}_stream.average.json", {"averaged_from": [{"step": 987}, {"step": 800}, {"step": 600}]})
    for split, (greedy, default) in {"test": (6.21, 4.32), "open": (11.43, 8.54)}.items():
        _write(run / f"demo_ko_{rate}_stream_{split}_greedy.json", _eval(greedy, 30.0))
        _write(run / f"demo_ko_{rate}_stream_{split}_default.json", _eval(default, 20.0))
    _write(run / f"demo_ko_{rate}_stream_streaming_cost.json", {
        "utterances": 240, "audio_s": 972.4, "offline": {"cer": 8.66, "cpu_s": 4.71},
        "variants": {"streamed_final": {"cer": 11.28, "cpu_s": 16.2, "cpu_ratio_to_offline": 3.44, "same_text_as_offline": 78},
                     "window": {"cer": 8.45, "cpu_s": 28.1, "cpu_ratio_to_offline": 5.97, "same_text_as_offline": 200}}})
    _write(run / "open_default" / f"open_{rate}.json", _eval(7.36, 26.5))
    for dec, cer in (("greedy", 19.8), ("default", 15.35)):
        _write(run / f"demo_ko_{rate}_stream_by_length_{dec}.json", {"by_length": [
            {"target_s": 5.0, "mean_s": 8.0, "windows": 6, "engine": {"cer": cer}, "parts": {"cer": cer + 0.5}}]})
    state = load_checkpoint(f"demo_ko_{rate}")  # the fine-tuned model's config: what conf/demo_stream.yaml sets
    state["config"]["model"].update(att_context_left=64, att_context_right=0, conv_causal=True)
    state["config"]["task"]["features"]["normalize"] = "cumulative"
    state["config"]["task"].update(leading_silence_s=[0.0, 1.0], leading_silence_prob=0.5)
    state["config"]["streaming"].update(mode="cached", final_full_context=False)
    save_checkpoint(state, run / f"demo_ko_{rate}_stream.pt")

    card = tmp_path / "card.md"
    main = runpy.run_path(str(ROOT / "examples" / "synthetic" / "stream_card.py"))["main"]
    assert main(str(run), str(card), rate=rate) == 0
    text = card.read_text(encoding="utf-8")
    for figure in ("**11.28 %**", "8.54 %", "11.43 %", "7.36 %", "4.32 %", "6.21 %", "3.44x", "5.97x", "78 of 240",
                   "987 steps", "16.7 min", "987, 800, 600", "attention 64 frames (2.56 s) back and 0 ahead",
                   "`streaming.mode=cached`", "`streaming.final_full_context=false`", "normalization `cumulative`",
                   "final 40 ms after", "causal convolutions", "up to 1 s of quiet before 50% of",
                   "| 5 s (mean 8.0 s) | 15.35 % | 15.85 % | 19.80 % | 20.30 % |", f"# demo_ko_{rate}_stream:",
                   f"`demo_ko_{rate}` fine-tuned",
                   f"data/open_test/{rate}/test.jsonl"):
        assert figure in text, figure
