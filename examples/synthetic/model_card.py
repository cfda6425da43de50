"""Write the model card of a demo model from what its recipe run produced (no number is typed in).

    python examples/synthetic/model_card.py NAME DATA_DIR RUN_DIR OUT.md

Reads, all written by ``examples/synthetic/run.sh``:

- DATA_DIR/report.json and DATA_DIR/train.jsonl (the corpus and its training text),
- RUN_DIR/<rate>/train_summary.json (training), RUN_DIR/NAME.average.json (the averaged checkpoints),
  RUN_DIR/NAME.pt (the shipped file),
- RUN_DIR/NAME_{dev,test}.json (hypersp-eval, greedy) and RUN_DIR/NAME_test_default.json (default decoding):
  the in-vocabulary splits,
- RUN_DIR/open_{greedy,default}/open_<rate>.json and open_<rate>_unseen.json (open_test.sh): the open-vocabulary
  test and the share of its words never in the training text,
- RUN_DIR/NAME_by_length_{greedy,default}.json (bench/long_segments.py on the open test): CER by segment length,
- hypersp/pretrained/NAME.decoding.yaml (the default decoding).
"""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def live_streaming(name: str) -> list:
    """The card's "Live streaming" section when the model ships streaming defaults (NAME.streaming.yaml)."""
    sidecar = ROOT / "hypersp" / "pretrained" / f"{name}.streaming.yaml"
    if not sidecar.is_file():
        return [""]
    from omegaconf import OmegaConf

    first = OmegaConf.load(sidecar).get("first_pass_model", "")
    if not first:
        return [""]
    return ["", "## Live streaming", "",
            f"`hypersp-serve` and `hypersp.load(\"{name}\").stream()` stream this model two-pass "
            f"(`hypersp/pretrained/{name}.streaming.yaml`): the streaming model `{first}` runs the live steps (partials "
            "and the endpoint rules' CTC evidence, cached: each step only the new audio) and this model's full pass "
            "over each utterance makes its final, so the finals are as accurate as streaming this model in `window` mode "
            "(the same open-test CER) at about half of its CPU; `streaming.mode=window` streams with this model alone. Measurements: README, "
            "\"Two-pass streaming\".", ""]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def by_length_rows(by_length: dict) -> list:
    """Table rows (window | default decoding | its utterances alone | greedy | its utterances alone) from
    ``{"greedy": [...], "default": [...]}``, each bench/long_segments.py's ``by_length`` list."""
    return [f"| {g['target_s']:.0f} s (mean {g['mean_s']:.1f} s) | {d['engine']['cer']:.2f} % | "
            f"{d['parts']['cer']:.2f} % | {g['engine']['cer']:.2f} % | {g['parts']['cer']:.2f} % |"
            for g, d in zip(by_length["greedy"], by_length["default"])]


def main(name: str, data_dir: str, run_dir: str, out: str) -> int:
    import torch
    from omegaconf import OmegaConf

    from hypersp.checkpoint import load_checkpoint
    from hypersp.data.manifest import iter_manifest

    data, run = Path(data_dir), Path(run_dir)
    rate = name.rsplit("_", 1)[1]  # demo_ko_16k -> 16k
    report = read_json(data / "report.json")
    train = read_json(run / rate / "train_summary.json")
    averaged = read_json(run / f"{name}.average.json")["averaged_from"]
    dev, test = (read_json(run / f"{name}_{s}.json") for s in ("dev", "test"))
    test_default = read_json(run / f"{name}_test_default.json")
    open_greedy = read_json(run / "open_greedy" / f"open_{rate}.json")
    open_default = read_json(run / "open_default" / f"open_{rate}.json")
    unseen = read_json(run / "open_default" / f"open_{rate}_unseen.json")
    by_length = {d: read_json(run / f"{name}_by_length_{d}.json")["by_length"] for d in ("greedy", "default")}
    decoding = OmegaConf.to_container(OmegaConf.load(ROOT / "hypersp" / "pretrained" / f"{name}.decoding.yaml"))
    state = load_checkpoint(run / f"{name}.pt")
    cfg, corpus = state["config"], report["config"]
    params = sum(v.numel() for v in state["model"].values() if v.dtype.is_floating_point)
    size_mb = (run / f"{name}.pt").stat().st_size / 2**20
    splits = report["splits"]
    telephone = corpus["telephone"]
    train_words = {w for e in iter_manifest(data / "train.jsonl") for w in e.text.split()}
    channel = "through the 8 kHz telephone channel" if telephone else "at 16 kHz"
    default_label = (f"default: CTC beam {decoding['beam_size']} + the shipped LM `ko_jamo6` "
                     f"(weight {decoding['lm_weight']})")

    def row(label: str, r: dict, bold: bool = False) -> str:
        cer = f"**{r['cer']:.2f} %**" if bold else f"{r['cer']:.2f} %"
        return f"| {label} | {cer} | {r['cer_with_spaces']:.2f} % | {r['wer']:.2f} % | {r['rtf']:.4f} |"

    length_rows = by_length_rows(by_length)

    lines = [
        f"# {name}: hypersp demo model, {'8 kHz telephone' if telephone else '16 kHz'} Korean (synthetic speech)",
        "",
        "**What it is for.** Trying hypersp at once, without a GPU or a corpus download: the demo servers "
        f"(`hypersp-serve --app {'online_tel' if telephone else 'online_resp'}` uses it by default), "
        f"`hypersp-eval --checkpoint {name}`, export and the benchmarks. **What it is not.** It was trained only on "
        "speech synthesized by eSpeak NG (a formant synthesizer), from text that is partly real Korean and partly "
        "lexicon words in hand-written frames. It recognizes eSpeak NG voices; it recognizes human speech poorly, "
        "and its error rates below say nothing about real recordings, real conversation or names it has not read. "
        "For those, train on a real corpus (`examples/<corpus>/run.sh`).",
        "",
        "## Open-vocabulary test (headline)",
        "",
        "240 sentences written independently of hypersp's sentence generator and never in any training text "
        "(lecture, meeting, customer-service and call-center register; `hypersp/prepare/synthetic/open_test_text.py`): "
        f"**{100 * unseen['tokens']:.1f} % of their {unseen['num_tokens']} running words "
        f"({100 * unseen['types']:.1f} % of the {unseen['num_types']} distinct words) never occur in this model's "
        "training text**. Spoken by the 8 held-out eSpeak NG voices (Andrea, aunty, benjamin, f5, iven3, klatt4, m8, "
        f"steph2; never in training) at 125-195 wpm {channel}; {open_default['audio_seconds']:.0f} s of audio.",
        "",
        "| decoding | CER (spaces removed) | CER with spaces | WER | RTF (CPU) |",
        "|---|---|---|---|---|",
        row(f"**{default_label}**", open_default, bold=True),
        row("greedy (`--decoding greedy`)", open_greedy),
        "",
        f"Reproduce: `bash examples/synthetic/open_test.sh` makes `data/open_test/{rate}/test.jsonl`, then "
        f"`hypersp-eval --checkpoint {name} --manifest data/open_test/{rate}/test.jsonl` (the default decoding, from "
        f"`hypersp/pretrained/{name}.decoding.yaml`, used by `hypersp.load`, hypersp-eval, hypersp-transcribe and "
        "hypersp-serve; streaming partials stay greedy) and the same with `--decoding greedy`. The LM "
        "(`hypersp/pretrained/ko_jamo6.arpa.gz`, CC BY-SA 4.0; its card is `ko_jamo6.md`) is a jamo 6-gram of "
        "the broad text pool, built by the same recipe. RTF: one run each on the 2 CPU cores below.",
        *live_streaming(name),
        "## By segment length (open-vocabulary test)",
        "",
        "Open-test utterances joined with 0.15 s pauses into windows of about 5, 10, 20 and 30 s "
        f"({by_length['default'][0]['windows']} windows each, different sentences per length, so compare across a "
        "row, not down a column), each recognized as one input by the engine (`transcribe(..., segment=False)`: cut "
        "at pauses above its split length, then overlapping chunks), against recognizing its utterances one by one. "
        "CER with spaces removed.",
        "",
        "| window | default decoding | its utterances alone | greedy | its utterances alone |",
        "|---|---|---|---|---|",
        *length_rows,
        "",
        f"Command: `python bench/long_segments.py --manifest data/open_test/{rate}/test.jsonl --checkpoint {name} "
        "--variants engine` (and `--decoding greedy`).",
        "",
        "## Model",
        "",
        f"- `{cfg['model']['name']}` (preset `conformer_tiny`): {cfg['model']['n_layers']} layers, d_model "
        f"{cfg['model']['d_model']}, {cfg['model']['subsampling_factor']}x subsampling; {params / 1e6:.2f} M parameters; "
        f"CTC over {cfg['tokenizer']['name']} tokens ({len(state['tokenizer']['tokens'])} with blank).",
        f"- Input: {cfg['task']['sample_rate']} Hz mono, {cfg['task']['features']['n_mels']} log-mel bins "
        f"({cfg['task']['features']['f_min']:.0f}-{cfg['task']['features']['f_max'] or cfg['task']['sample_rate'] / 2:.0f} Hz), "
        "per-utterance normalization; audio at other rates is resampled.",
        f"- File: `hypersp/pretrained/{name}.pt`, {size_mb:.1f} MB, weights stored as float16 "
        f"(computed in float32), mean of the {len(averaged)} best checkpoints by dev CER "
        f"(steps {', '.join(str(a['step']) for a in averaged)}).",
        "",
        "## Data",
        "",
        f"The demo corpus of `examples/synthetic/run.sh` ({'8 kHz telephone channel: 300-3400 Hz band, mu-law' if telephone else '16 kHz'}), "
        f"generated by `hypersp-prepare {'synthetic_tel' if telephone else 'synthetic'}` with `text={corpus['text']}`: "
        + (f"{round(corpus['broad_fraction'] * 100)} % of the sentences from the broad pool of real Korean text and "
           "lexicons (`hypersp/prepare/synthetic/broad_text.py`: KoNLPy's constitution and bill corpora, the JHannanum, "
           "wordfreq and Kiwi lexicons; sources and licences in `examples/synthetic/README.md`), the rest from "
           "hypersp's template generator (lecture, meeting, customer-service and call-center registers)"
           if corpus["text"] == "broad" else "hypersp's template generator (lecture, meeting, customer-service and "
           "call-center registers)")
        + f"; {len(train_words):,} distinct words in the training text. "
        f"{round(corpus['babble_fraction'] * 100)} % of training utterances are random Hangul syllables for phonetic "
        f"coverage, {round(corpus.get('long_fraction', 0) * 100)} % are "
        f"{corpus.get('long_seconds', [10, 30])[0]:.0f}-{corpus.get('long_seconds', [10, 30])[1]:.0f} s long "
        f"(sentences joined with pauses), {round(corpus.get('reverb_fraction', 0) * 100)} % are in a synthetic room "
        f"and {round(corpus.get('codec_fraction', 0) * 100)} % pass through a lossy codec.",
        "",
        "| split | utterances | hours | voices | speaking rate (wpm) |",
        "|---|---|---|---|---|",
        f"| train | {splits['train']['utterances']} | {splits['train']['hours']:.2f} | {len(splits['train']['speakers'])} eSpeak NG variants | "
        f"{corpus['min_rate']}-{corpus['max_rate']} except {corpus['heldout_rate_band'][0]}-{corpus['heldout_rate_band'][1]} |",
        f"| dev | {splits['dev']['utterances']} | {splits['dev']['hours']:.2f} | training voices | same as train |",
        f"| test (held out) | {splits['test']['utterances']} | {splits['test']['hours']:.2f} | "
        f"{', '.join(splits['test']['speakers'])} (never in train) | {corpus['heldout_rate_band'][0]}-{corpus['heldout_rate_band'][1]} (never in train) |",
        "",
        f"No dev or test sentence is spoken in train. Pitch {corpus['min_pitch']}-{corpus['max_pitch']}, intonation "
        f"range {corpus['min_pitch_range']}-{corpus['max_pitch_range']} (eSpeak 0-100 scales), noise at "
        f"{corpus['noise_snr_db_min']:.0f}-{corpus['noise_snr_db_max']:.0f} dB SNR. Training adds speed perturbation "
        f"{cfg['task']['speed_perturb']}, noise at {cfg['task']['noise_snr_db']} dB SNR on {cfg['task']['noise_prob']:.0%} "
        f"of utterances, SpecAugment" + (f" and the telephone channel on {cfg['task']['telephone_prob']:.0%}" if cfg['task']['telephone_prob'] else "") + ".",
        "",
        "## Training",
        "",
        f"`make demo-models` (= `bash examples/synthetic/run.sh`) trains both demo models at once. This one: "
        f"{train['steps']} steps ({train['epochs']:.1f} epochs, batches of {cfg['task']['batch_seconds']:.0f} s of audio) in "
        f"{train['train_seconds'] / 60:.1f} min, stopped by `{train['stop_reason']}`; "
        f"{train['audio_seconds_per_second']:.0f} audio seconds per second; AdamW lr {cfg['optim']['lr']}, "
        f"warmup {cfg['optim']['warmup_steps']}, {cfg['optim']['schedule']} schedule over {cfg['trainer']['max_steps']} steps."
        + "".join(f" The trainer skipped {n} training utterance{'s' if n != 1 else ''} ({why})."
                  for why, n in sorted(train.get("skipped", {}).items()) if n),
        f"Hardware: {cpu_name()}, {os.cpu_count()} logical CPUs shared by the two trainings "
        f"({cfg['trainer']['num_threads']} thread + 1 loader worker each), no GPU; PyTorch {torch.__version__}, "
        f"Python {platform.python_version()}.",
        "",
        "## In-vocabulary results (text from the same generator as training)",
        "",
        "| set | decoding | utterances | CER (spaces removed) | CER with spaces | WER | RTF (CPU) |",
        "|---|---|---|---|---|---|---|",
        f"| dev: unseen sentences, training voices | greedy | {dev['num_utterances']} | {dev['cer']:.2f} % | "
        f"{dev['cer_with_spaces']:.2f} % | {dev['wer']:.2f} % | {dev['rtf']:.4f} |",
        f"| test: unseen sentences, voices and speaking rates | greedy | {test['num_utterances']} | {test['cer']:.2f} % | "
        f"{test['cer_with_spaces']:.2f} % | {test['wer']:.2f} % | {test['rtf']:.4f} |",
        f"| test | default (beam + LM) | {test_default['num_utterances']} | {test_default['cer']:.2f} % | "
        f"{test_default['cer_with_spaces']:.2f} % | {test_default['wer']:.2f} % | {test_default['rtf']:.4f} |",
        "",
        f"Scoring normalizer: `{test['scoring_normalizer']}`. These sentences come from the same generator as the "
        "training text, so they measure far less than the open-vocabulary test above. Reproduce: "
        f"`hypersp-eval --checkpoint {name} --manifest data/demo/{rate}/test.jsonl [--decoding greedy]` after "
        "`examples/synthetic/run.sh` has generated the corpus.",
        "",
    ]
    Path(out).write_text("\n".join(lines), encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(1)
    sys.exit(main(*sys.argv[1:]))
