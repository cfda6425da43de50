"""The training loop (single process).

``train(cfg)`` builds everything in order (tokenizer -> task -> datasets -> model -> criterion
-> optimizer -> trainer), then runs AdamW with warmup/decay, gradient clipping, validation
every ``trainer.val_every`` steps (greedy CER), and writes ``OUT_DIR/last.pt`` and
``OUT_DIR/best.pt`` (lowest validation CER). ``trainer.resume=auto`` continues from
``OUT_DIR/last.pt`` with the same batches. Bad utterances are skipped and counted, never fatal.
Logs go to stdout (a line every ``trainer.log_every`` steps), a tqdm bar, and TensorBoard
(``OUT_DIR/tensorboard``).
"""
from __future__ import annotations

import json
import logging
import math
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from hypersp.config import to_yaml
from hypersp.inference.evaluate import evaluate
from hypersp.text.normalize import get_scoring_normalizer
from hypersp.train.build import build_criterion, build_model, build_tokenizer_and_task, checkpoint_header
from hypersp.train.checkpoint import load_checkpoint, save_checkpoint
from hypersp.train.schedule import lr_lambda

log = logging.getLogger("hypersp.train")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"trainer.device={name} but CUDA is not available; use trainer.device=cpu")
    return torch.device(name)


def _rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
             "python": torch.tensor(random.getstate()[1], dtype=torch.int64)}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), 624, 0, 0.0))
    random.setstate((3, tuple(int(x) for x in state["python"].tolist()), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        tc = cfg.trainer
        self.out_dir = Path(tc.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if tc.num_threads:
            torch.set_num_threads(tc.num_threads)
        self.device = pick_device(tc.device)
        torch.manual_seed(tc.seed)
        random.seed(tc.seed)
        np.random.seed(tc.seed)

        resume_path = self._resume_path()
        resume_state = load_checkpoint(resume_path) if resume_path else None

        # tokenizer -> task -> datasets -> model -> criterion -> optimizer
        self.tokenizer, self.task = build_tokenizer_and_task(cfg)
        if resume_state is not None:
            self.tokenizer.load_state_dict(resume_state["tokenizer"])
        else:
            self.task.fit_tokenizer()
        self.train_set = self.task.dataset(cfg.task.train_manifest, train=True)
        self.valid_set = self.task.dataset(cfg.task.valid_manifest, train=False) if cfg.task.valid_manifest else None
        self.train_loader = self.task.dataloader(self.train_set, train=True, seed=tc.seed)
        self.valid_loader = self.task.dataloader(self.valid_set, train=False) if self.valid_set is not None else None
        self.model = build_model(cfg, self.task).to(self.device)
        self.criterion = build_criterion(cfg, self.task)
        oc = cfg.optim
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=oc.lr, betas=tuple(oc.betas), weight_decay=oc.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(oc.schedule, oc.warmup_steps, tc.max_steps, oc.min_lr_ratio)
        )
        self.scoring_normalizer = get_scoring_normalizer(cfg.task.scoring_normalizer)

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best_cer = math.inf
        self.skipped: Counter = Counter(self.train_set.dropped)
        self.audio_seconds = 0.0
        if resume_state is not None:
            self._restore(resume_state)
            log.info("resumed from %s at step %d (epoch %d, batch %d)", resume_path, self.step, self.epoch, self.batch_in_epoch)

        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        (self.out_dir / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")

    def _resume_path(self) -> Optional[str]:
        resume = self.cfg.trainer.resume
        if resume == "auto":
            last = self.out_dir / "last.pt"
            return str(last) if last.is_file() else None
        return resume or None

    def _restore(self, state: Dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = state["step"]
        self.epoch = state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.best_cer = state.get("best_metric", math.inf)
        self.skipped = Counter(state.get("skipped", {}))
        self.audio_seconds = state.get("audio_seconds", 0.0)
        _set_rng_state(state["rng"])

    def _state(self, metrics: Dict[str, Any]) -> Dict[str, Any]:
        state = checkpoint_header(self.cfg, self.tokenizer)
        state.update(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            step=self.step,
            epoch=self.epoch,
            batch_in_epoch=self.batch_in_epoch,
            best_metric=self.best_cer,
            metrics=metrics,
            skipped=dict(self.skipped),
            audio_seconds=self.audio_seconds,
            rng=_rng_state(),
        )
        return state

    def validate(self) -> Dict[str, Any]:
        if self.valid_loader is None:
            return {}
        return evaluate(self.model, self.task, self.valid_loader, self.device, self.scoring_normalizer,
                        max_utterances=self.cfg.trainer.max_valid_utterances)

    def checkpoint(self) -> Dict[str, Any]:
        metrics = self.validate()
        improved = bool(metrics) and metrics["cer"] < self.best_cer
        if improved:
            self.best_cer = metrics["cer"]
        state = self._state(metrics)
        save_checkpoint(state, self.out_dir / "last.pt")
        if improved or not metrics:
            save_checkpoint(state, self.out_dir / "best.pt")
        if metrics:
            for k in ("cer", "cer_with_spaces", "wer"):
                self.writer.add_scalar(f"valid/{k}", metrics[k], self.step)
            log.info("step %d validation: CER %.2f%% (best %.2f%%) WER %.2f%% on %d utterances",
                     self.step, metrics["cer"], self.best_cer, metrics["wer"], metrics["num_utterances"])
        return metrics

    def fit(self) -> Dict[str, Any]:
        tc = self.cfg.trainer
        deadline = time.monotonic() + tc.max_minutes * 60 if tc.max_minutes else math.inf
        n_params = sum(p.numel() for p in self.model.parameters())
        log.info("model %s: %.2f M parameters; %d training utterances (%.2f h); device %s",
                 self.cfg.model.name, n_params / 1e6, len(self.train_set), sum(self.train_set.durations) / 3600, self.device)
        bar = None
        if tc.progress_bar:
            from tqdm import tqdm

            bar = tqdm(total=tc.max_steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True)
        window = {"loss": 0.0, "n": 0, "audio": 0.0, "t": time.monotonic()}
        train_start = time.monotonic()
        metrics: Dict[str, Any] = {}
        stop_reason = "max_steps"
        self.model.train()
        while self.step < tc.max_steps:
            self.train_loader.batch_sampler.set_epoch(self.epoch, self.batch_in_epoch)
            for batch in self.train_loader:
                self.batch_in_epoch += 1
                for utt_id, reason in batch.skipped:
                    self.skipped[reason.split(":")[0]] += 1
                    log.warning("skipped utterance %s (%s)", utt_id, reason)
                if len(batch) == 0:
                    continue
                batch = self.task.augment(batch.to(self.device))
                loss, stats = self.criterion(self.model, batch)
                if not torch.isfinite(loss):
                    self.skipped["non-finite loss"] += len(batch)
                    log.warning("step %d: non-finite loss, batch of %d skipped", self.step, len(batch))
                    self.optimizer.zero_grad(set_to_none=True)
                    continue
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.cfg.optim.grad_clip > 0:
                    grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
                else:
                    grad_norm = torch.tensor(0.0)
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                seconds = float(sum(batch.durations))
                self.audio_seconds += seconds
                window["loss"] += loss.item()
                window["n"] += 1
                window["audio"] += seconds
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.3f}", best_cer=f"{self.best_cer:.2f}")
                if self.step % tc.log_every == 0:
                    elapsed = time.monotonic() - window["t"]
                    lr = self.scheduler.get_last_lr()[0]
                    throughput = window["audio"] / max(elapsed, 1e-9)
                    avg = window["loss"] / window["n"]
                    self.writer.add_scalar("train/loss", avg, self.step)
                    self.writer.add_scalar("train/lr", lr, self.step)
                    self.writer.add_scalar("train/grad_norm", float(grad_norm), self.step)
                    self.writer.add_scalar("train/audio_seconds_per_second", throughput, self.step)
                    msg = (f"step {self.step} epoch {self.epoch} loss {avg:.4f} lr {lr:.2e} "
                           f"grad_norm {float(grad_norm):.2f} audio_s/s {throughput:.1f} skipped {sum(self.skipped.values())}")
                    (bar.write(msg) if bar is not None else log.info(msg))
                    window = {"loss": 0.0, "n": 0, "audio": 0.0, "t": time.monotonic()}
                if self.step % tc.val_every == 0:
                    metrics = self.checkpoint()
                if self.step >= tc.max_steps:
                    break
                if time.monotonic() > deadline:
                    stop_reason = "max_minutes"
                    break
            else:
                self.epoch += 1
                self.batch_in_epoch = 0
                continue
            break
        if bar is not None:
            bar.close()
        if self.step % tc.val_every != 0 or not metrics:
            metrics = self.checkpoint()
        train_seconds = time.monotonic() - train_start
        summary = {
            "steps": self.step,
            "epochs": self.epoch + self.batch_in_epoch / max(1, len(self.train_loader)),
            "stop_reason": stop_reason,
            "train_seconds": round(train_seconds, 1),
            "audio_seconds_trained": round(self.audio_seconds, 1),
            "audio_seconds_per_second": round(self.audio_seconds / max(train_seconds, 1e-9), 1),
            "best_valid_cer": None if math.isinf(self.best_cer) else self.best_cer,
            "last_valid": {k: v for k, v in metrics.items() if k != "hypotheses"},
            "skipped": dict(self.skipped),
            "checkpoints": {"best": str(self.out_dir / "best.pt"), "last": str(self.out_dir / "last.pt")},
        }
        (self.out_dir / "train_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
        self.writer.close()
        return summary


def train(cfg: DictConfig) -> Dict[str, Any]:
    return Trainer(cfg).fit()
