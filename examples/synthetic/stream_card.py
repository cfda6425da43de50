"""Write the model card of the streaming demo model from what stream_finetune.sh produced (no number is typed in).

    python examples/synthetic/stream_card.py RUN_DIR OUT.md [--shipped]

``--shipped``: the card of the copy in hypersp/pretrained/ (commands name the model ``demo_ko_16k_stream``
instead of the run's file). ``--rate 8k``: the card of ``demo_ko_8k_stream`` (``RATE=8k stream_finetune.sh``);
below, 16k stands for the rate.

Reads, all written by ``examples/synthetic/stream_finetune.sh`` (and run.sh before it):
RUN_DIR/16k_stream/train_summary.json (the fine-tuning run), RUN_DIR/demo_ko_16k_stream.average.json,
RUN_DIR/demo_ko_16k_stream.pt, RUN_DIR/demo_ko_16k_stream_{test,open}_{greedy,default}.json (hypersp-eval),
RUN_DIR/demo_ko_16k_stream_streaming_cost.json (bench/streaming_cost.py on the open test),
RUN_DIR/demo_ko_16k_stream_by_length_{greedy,default}.json (bench/long_segments.py on the open test), and
RUN_DIR/open_default/open_16k.json (run.sh: demo_ko_16k, the model it was fine-tuned from, on the same test).
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_card import by_length_rows, cpu_name, read_json  # noqa: E402

def main(run_dir: str, out: str, shipped: bool = False, rate: str = "16k") -> int:
    import torch

    from hypersp.checkpoint import build_from_checkpoint, load_checkpoint
    from hypersp.models.base import StreamContext

    run = Path(run_dir)
    name, base = f"demo_ko_{rate}_stream", f"demo_ko_{rate}"
    audio = "16 kHz" if rate == "16k" else "8 kHz telephone-channel"
    ckpt = name if shipped else run / f"{name}.pt"
    train = read_json(run / f"{rate}_stream" / "train_summary.json")
    averaged = read_json(run / f"{name}.average.json")["averaged_from"]
    ev = {(s, d): read_json(run / f"{name}_{s}_{d}.json") for s in ("test", "open") for d in ("greedy", "default")}
    cost = read_json(run / f"{name}_streaming_cost.json")
    by_length = {d: read_json(run / f"{name}_by_length_{d}.json")["by_length"] for d in ("greedy", "default")}
    parent = read_json(run / "open_default" / f"open_{rate}.json")
    state = load_checkpoint(run / f"{name}.pt")
    cfg = state["config"]
    model = build_from_checkpoint(state).model
    left, right, _ = model.att_context
    causal = bool(cfg["model"].get("conv_causal", False))
    lead = list(cfg["task"].get("leading_silence_s") or [])
    lookahead_s = (model.stream_lookahead_frames(StreamContext(left, right)) + 1) * 0.01
    params = sum(v.numel() for v in state["model"].values() if v.dtype.is_floating_point)
    size_mb = (run / f"{name}.pt").stat().st_size / 2**20
    streamed = cost["variants"]["streamed_final"]
    window = cost["variants"].get("window")
    st = cfg["streaming"]

    def row(label, r, bold=False):
        cer = f"**{r['cer']:.2f} %**" if bold else f"{r['cer']:.2f} %"
        return f"| {label} | {cer} | {r['cer_with_spaces']:.2f} % | {r['wer']:.2f} % |"

    lines = [
        f"# {name}: hypersp demo model for live streaming, {audio} Korean (synthetic speech)",
        "",
        "**What it is for.** Live recognition with cached streaming: `hypersp-serve --checkpoint "
        f"{ckpt}` (or `hypersp.load(\"{ckpt}\").stream()`) runs each new piece of audio once through the encoder's "
        "cached state and takes the final from the streamed frames, with no second full-context pass. It is "
        f"`{base}` fine-tuned to recognize with only what a stream has: attention "
        f"{left} frames ({left * 0.04:.2f} s) back and {right} ahead, and features normalized by the statistics of "
        "the frames so far (`cumulative`; per-utterance statistics are not known before the utterance ends); "
        + ("depthwise convolutions over past frames only (`conv_causal`), " if causal else "")
        + (f"with up to {max(lead):g} s of quiet before {cfg['task'].get('leading_silence_prob', 0.5):.0%} of the "
           "training utterances (`task.leading_silence_s`), as a stream's pre-roll puts there. " if lead else "")
        + f"**What it is not.** Like `{base}` "
        "it was trained only on eSpeak NG speech: it recognizes eSpeak NG voices, human speech poorly; its error "
        "rates say nothing about real recordings. It sees no audio after a frame "
        + (f"beyond {lookahead_s * 1000:.0f} ms" if lookahead_s < 0.5 else f"beyond {lookahead_s:.2f} s")
        + f", so it is less accurate offline than `{base}` (below): for uploads and files use `{base}`.",
        "",
        "## Open-vocabulary test (headline)",
        "",
        f"The same 240-sentence open-vocabulary test as `{base}` (sentences never in any training text, 8 "
        f"held-out voices, {audio}; see `{base}.md`). CER with spaces removed.",
        "",
        "| how it is recognized | CER | CER with spaces | WER |",
        "|---|---|---|---|",
        f"| **streamed: 0.1 s messages, cached encoder, final = beam 16 + `ko_jamo6` over the streamed frames** | "
        f"**{streamed['cer']:.2f} %** | - | - |",
        row("offline, default decoding (beam 16 + `ko_jamo6`, weight 0.5)", ev[("open", "default")]),
        row("offline, greedy", ev[("open", "greedy")]),
        row(f"`{base}` (full context), offline default decoding, for comparison", parent),
        "",
        f"Streamed: `python bench/streaming_cost.py --manifest data/open_test/{rate}/test.jsonl --checkpoint {ckpt} "
        "--threads 1 --decoding ctc_beam --beam-size 16 --lm hypersp/pretrained/ko_jamo6.arpa.gz --lm-weight 0.5 "
        "--variant \"streamed_final:mode=cached,final_full_context=false\" --variant window:mode=window` (each "
        "utterance streamed after 0.5 s of silence, one stream at a time; the finals of each utterance joined). "
        f"CPU seconds of that process: streamed {streamed['cpu_s']} s, {streamed['cpu_ratio_to_offline']}x the "
        f"{cost['offline']['cpu_s']} s of recognizing the same {cost['audio_s']:.0f} s offline (display form included "
        "on both sides)"
        + (f"; the window scheme with this model: CER {window['cer']:.2f} %, {window['cpu_ratio_to_offline']}x."
           if window else ".")
        + f" {streamed['same_text_as_offline']} of {cost['utterances']} streamed texts equal the offline text.",
        "",
        "## By segment length (open-vocabulary test, offline)",
        "",
        f"As in `{base}.md`: open-test utterances joined with 0.15 s pauses into windows of about 5, 10, 20 and "
        f"30 s ({by_length['default'][0]['windows']} windows each; compare across a row), each recognized as one "
        "upload by the engine, against its utterances one by one. CER with spaces removed.",
        "",
        "| window | default decoding | its utterances alone | greedy | its utterances alone |",
        "|---|---|---|---|---|",
        *by_length_rows(by_length),
        "",
        f"Command: `python bench/long_segments.py --manifest data/open_test/{rate}/test.jsonl --checkpoint {ckpt} "
        "--variants engine` (and `--decoding greedy`). A live stream cuts long speech at its endpoints and at "
        "`streaming.max_utterance_s` instead.",
        "",
        "## Streaming settings saved with the model",
        "",
        f"`streaming.mode={st['mode']}`, `streaming.final_full_context={str(st['final_full_context']).lower()}`, "
        f"`streaming.chunk_s={st['chunk_s']}` (a partial every {st['chunk_s']} s). hypersp-serve and "
        "`hypersp.load(...).stream()` read them from the checkpoint; `streaming.KEY=VALUE` overrides win. "
        f"Frames become final {lookahead_s * 1000:.0f} ms after their audio starts"
        + (" (the subsampling's receptive field), so partials need no peek at a tentative rest."
           if lookahead_s < 0.1 else "; partials peek at the rest (`streaming.cached_peek`)."),
        "",
        "## Model",
        "",
        f"- `{cfg['model']['name']}` (preset `conformer_tiny`), {params / 1e6:.2f} M parameters, CTC over "
        f"{cfg['tokenizer']['name']} tokens; attention context {left} / {right} frames"
        f"{', causal convolutions' if causal else ''}; input {audio}, "
        f"{cfg['task']['features']['n_mels']} log-mel bins, normalization `{cfg['task']['features']['normalize']}`.",
        f"- File: `{'hypersp/pretrained/' + name + '.pt' if shipped else run / (name + '.pt')}`, {size_mb:.1f} MB, float16, mean of the {len(averaged)} best "
        f"checkpoints by dev CER (steps {', '.join(str(a['step']) for a in averaged)}).",
        "",
        "## Training",
        "",
        f"`{'RATE=8k ' if rate == '8k' else ''}bash examples/synthetic/stream_finetune.sh` (after `make demo-models`): "
        f"from `{base}`'s weights "
        f"(`trainer.init_from`), {train['steps']} steps on the same demo corpus and augmentation "
        f"(`conf/demo.yaml` + `conf/demo_stream.yaml`) in {train['train_seconds'] / 60:.1f} min, stopped by "
        f"`{train['stop_reason']}`; AdamW lr {cfg['optim']['lr']}, warmup {cfg['optim']['warmup_steps']}, "
        f"{cfg['optim']['schedule']} over {cfg['trainer']['max_steps']} steps."
        + "".join(f" The trainer skipped {n} training utterance{'s' if n != 1 else ''} ({why})."
                  for why, n in sorted(train.get("skipped", {}).items()) if n),
        f"Hardware: {cpu_name()}, {os.cpu_count()} logical CPUs ({cfg['trainer']['num_threads']} threads + 1 loader "
        f"worker), no GPU; PyTorch {torch.__version__}, Python {platform.python_version()}.",
        "",
        "## In-vocabulary test (text from the training mix)",
        "",
        "| decoding | CER | CER with spaces | WER |",
        "|---|---|---|---|",
        row("default (beam 16 + `ko_jamo6`)", ev[("test", "default")]),
        row("greedy", ev[("test", "greedy")]),
        "",
        f"`hypersp-eval --checkpoint {name} --manifest data/demo/{rate}/test.jsonl [--decoding greedy]` "
        f"({ev[('test', 'greedy')]['num_utterances']} utterances).",
        "",
    ]
    Path(out).write_text("\n".join(lines), encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("out")
    p.add_argument("--shipped", action="store_true")
    p.add_argument("--rate", choices=["16k", "8k"], default="16k")
    a = p.parse_args()
    sys.exit(main(a.run_dir, a.out, shipped=a.shipped, rate=a.rate))
