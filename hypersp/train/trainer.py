"""The training loop: one process or N ranks under torchrun (DistributedDataParallel).

``train(cfg)`` builds everything in order (tokenizer -> task -> datasets -> model -> criterion
-> optimizer -> trainer), then runs AdamW with warmup/decay, optional mixed precision
(``trainer.precision``), gradient accumulation, gradient clipping, an EMA of the weights,
validation every ``trainer.val_every`` steps (greedy CER, split over ranks and reduced) and early
stopping. Rank 0 alone writes files:

* ``OUT_DIR/last.pt`` after every validation, ``OUT_DIR/best.pt`` (lowest validation CER), and
  ``OUT_DIR/ckpt_step{N}.pt`` for the last ``keep_last_n`` / best ``keep_best_n`` validations;
  all written atomically (temp file + fsync + rename);
* ``OUT_DIR/train_log.jsonl``: one line per optimizer step (loss averaged over ranks and
  micro-batches, lr, grad norm, audio seconds), plus ``{"valid": ...}`` lines;
* TensorBoard scalars under ``OUT_DIR/tensorboard``, a tqdm bar, and a plain log line every
  ``trainer.log_every`` steps.

``trainer.resume=auto`` continues from ``OUT_DIR/last.pt`` with the same batches and, on CPU,
bit-identical losses: the sampler position (epoch, batch), model, optimizer, scheduler, grad
scaler, EMA and RNG states are restored, and the randomness of each item and each step is
derived from ``(seed, epoch, index)`` / ``(seed, step, micro-batch)`` (see ``distributed``).
Bad utterances are skipped and counted, never fatal.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from omegaconf import DictConfig

from hypersp.config import ConfigError
from hypersp.config import to_yaml
from hypersp.config.schema import PRECISIONS
from hypersp.inference.evaluate import evaluate
from hypersp.metrics import ErrorRates
from hypersp.text.normalize import get_scoring_normalizer
from hypersp.train import distributed as D
from hypersp.checkpoint import build_criterion, build_model, build_tokenizer_and_task, checkpoint_header, load_weights
from hypersp.checkpoint import load_checkpoint, save_checkpoint
from hypersp.train.ema import ModelEMA
from hypersp.train.schedule import lr_lambda

log = logging.getLogger("hypersp.train")


@dataclass
class StepGroup:
    """This rank's micro-batches of the optimizer step being accumulated (zero-weight passes not counted)."""

    loss: float = 0.0        # sum of the micro-batch losses
    batches: int = 0
    audio: float = 0.0       # seconds
    utterances: int = 0

    def add(self, loss: float, batch) -> None:
        self.loss += loss
        self.batches += 1
        self.audio += float(sum(batch.durations))
        self.utterances += len(batch)


@dataclass
class LogWindow:
    """The optimizer steps since the last log line (losses and audio already summed over ranks)."""

    loss: float = 0.0        # sum of the step losses
    steps: int = 0
    audio: float = 0.0       # seconds
    start: float = field(default_factory=time.monotonic)

    def add(self, step_loss: float, audio: float) -> None:
        self.loss += step_loss
        self.steps += 1
        self.audio += audio


@dataclass
class FitSession:
    """What one ``Trainer.fit`` call carries from step to step (the run's own state lives on the Trainer
    and in its checkpoints)."""

    start: float                                  # time.monotonic() at the session's start
    deadline: float                               # trainer.max_minutes as a monotonic time (inf: none)
    params: List[torch.nn.Parameter]              # what the gradient norm is clipped over
    bar: Any = None                               # tqdm bar (rank 0 with trainer.progress_bar)
    window: LogWindow = field(default_factory=LogWindow)
    group: StepGroup = field(default_factory=StepGroup)
    micro: int = 0                                # micro-batches in the current accumulation group
    last_batch: Any = None                        # repeated with weight 0 for an empty batch (distributed)
    data_wait: float = 0.0                        # seconds spent waiting for batches
    checkpoint_seconds: float = 0.0               # seconds spent validating and saving in the loop
    audio: float = 0.0                            # audio seconds trained in this session, all ranks
    metrics: Dict[str, Any] = field(default_factory=dict)  # the last validation's
    stop_reason: str = "max_steps"


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
        if tc.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision={tc.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if tc.accumulate_grad < 1:
            raise ValueError(f"trainer.accumulate_grad={tc.accumulate_grad}: must be >= 1")
        self.dist = D.init_distributed(tc.device)
        self.device = self.dist.device
        self.is_main = self.dist.is_main
        if tc.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("trainer.precision=fp16 needs CUDA (loss scaling); on CPU use trainer.precision=bf16 or fp32")
        if not self.is_main:
            log.setLevel(logging.WARNING)
        self.out_dir = Path(tc.out_dir)
        if self.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if tc.num_threads:
            torch.set_num_threads(tc.num_threads)
        D.seed_all(tc.seed)

        resume_path = self._resume_path()
        resume_state = load_checkpoint(resume_path) if resume_path else None
        init_state = load_checkpoint(tc.init_from) if tc.init_from and resume_state is None else None

        # tokenizer -> task -> datasets -> model -> criterion -> optimizer
        self.tokenizer, self.task = build_tokenizer_and_task(cfg)
        if resume_state is not None:
            self.tokenizer.load_state_dict(resume_state["tokenizer"])
        elif init_state is not None:  # the output layer is tied to the source model's vocabulary
            source = init_state["config"].get("tokenizer", {}).get("name")
            if source != cfg.tokenizer.name:
                raise ConfigError(f"trainer.init_from={tc.init_from} was trained with tokenizer.name={source}; "
                                 f"this run asks for tokenizer.name={cfg.tokenizer.name} (set it to {source})")
            self.tokenizer.load_state_dict(init_state["tokenizer"])
        else:
            self.task.fit_tokenizer()  # deterministic: every rank builds the same vocabulary
        rank, world = self.dist.rank, self.dist.world_size
        self.train_set = self.task.dataset(cfg.task.train_manifest, train=True)
        self.train_loader = D.seeded_loader(
            self.task.dataloader(self.train_set, train=True, seed=tc.seed, rank=rank, world_size=world), tc.seed)
        self.valid_loader = None
        if cfg.task.valid_manifest:
            valid_set = self.task.dataset(cfg.task.valid_manifest, train=False)
            if world > 1:
                valid_set = D.Shard(valid_set, rank, world)
            self.valid_loader = self.task.dataloader(valid_set, train=False)
        self.model = build_model(cfg, self.task)
        if init_state is not None:
            load_weights(self.model, init_state["model"], cfg, overrides=[f"trainer.init_from={tc.init_from}"])
            log.info("model weights and vocabulary from %s (fine-tuning from step 0)", tc.init_from)
        self.model.to(self.device)
        self.net: torch.nn.Module = self.model  # what the criterion calls: the DDP wrapper when distributed
        if self.dist.distributed:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=tc.find_unused_parameters)
        self.criterion = build_criterion(cfg, self.task)
        oc = cfg.optim
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=oc.lr, betas=tuple(oc.betas), weight_decay=oc.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(oc.schedule, oc.warmup_steps, tc.max_steps, oc.min_lr_ratio)
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=tc.precision == "fp16")
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(tc.precision)
        self.ema = ModelEMA(self.model, tc.ema_decay) if tc.ema_decay > 0 else None
        self.scoring_normalizer = get_scoring_normalizer(cfg.task.scoring_normalizer)

        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0  # micro-batches of this rank's epoch already consumed
        self.best_cer = math.inf
        self.bad_validations = 0  # consecutive validations without a better CER (early stopping)
        self.step_checkpoints: List[Dict[str, Any]] = []  # [{"step", "cer", "path"}] kept on disk
        self.skipped: Counter = Counter(self.train_set.dropped)
        self.audio_seconds = 0.0
        self.earlier_train_seconds = 0.0  # wall time of the sessions before a resume
        self.session_start = time.monotonic()
        if resume_state is not None:
            self._restore(resume_state)
            log.info("resumed from %s at step %d (epoch %d, batch %d)", resume_path, self.step, self.epoch, self.batch_in_epoch)

        self.writer = None
        self.jsonl = None
        if self.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))
            (self.out_dir / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")
            self.jsonl = self._open_jsonl()

    # ---- state ---------------------------------------------------------------------------------
    def _resume_path(self) -> Optional[str]:
        resume = self.cfg.trainer.resume
        if resume == "auto":
            last = self.out_dir / "last.pt"
            return str(last) if last.is_file() else None
        return resume or None

    def _open_jsonl(self):
        """Append to train_log.jsonl, first dropping steps after the resumed one (a killed run's tail)."""
        path = self.out_dir / "train_log.jsonl"
        if path.is_file():
            kept = []
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:  # a line cut short by a kill
                    continue
                if record.get("step", 0) <= self.step:
                    kept.append(line)
            path.write_text("".join(l + "\n" for l in kept), encoding="utf-8")
        return open(path, "a", encoding="utf-8")

    def _log_jsonl(self, record: Dict[str, Any]) -> None:
        if self.jsonl is not None:
            self.jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.jsonl.flush()

    def _restore(self, state: Dict[str, Any]) -> None:
        # With EMA, "model" holds the EMA weights (what eval uses) and "train_model" the raw ones.
        self.model.load_state_dict(state.get("train_model", state["model"]))
        if self.ema is not None:
            if "train_model" in state:
                self.ema.load_state_dict(state["model"], state.get("ema_updates", 0))
            else:  # EMA switched on for a run that had none: start the average from the weights
                self.ema.load_state_dict(state["model"], 0)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.step = state["step"]
        self.epoch = state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.best_cer = state.get("best_metric", math.inf)
        self.bad_validations = state.get("bad_validations", 0)
        self.step_checkpoints = [dict(c) for c in state.get("step_checkpoints", [])]
        self.skipped = Counter(state.get("skipped", {}))
        self.audio_seconds = state.get("audio_seconds", 0.0)
        self.earlier_train_seconds = state.get("train_seconds", 0.0)
        saved_world = state.get("world_size", 1)
        if saved_world != self.dist.world_size:
            log.warning("resuming a run saved with %d rank(s) on %d: the sampler position is kept per rank, so the "
                        "remaining batches of this epoch differ from an uninterrupted run", saved_world, self.dist.world_size)
        _set_rng_state(state["rng"])

    def _state(self, metrics: Dict[str, Any]) -> Dict[str, Any]:
        state = checkpoint_header(self.cfg, self.tokenizer)
        state.update(
            model=self.ema.state_dict() if self.ema is not None else self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            step=self.step,
            epoch=self.epoch,
            batch_in_epoch=self.batch_in_epoch,
            best_metric=self.best_cer,
            bad_validations=self.bad_validations,
            metrics={k: v for k, v in metrics.items() if k != "hypotheses"},
            skipped=dict(self.skipped),
            audio_seconds=self.audio_seconds,
            train_seconds=self.earlier_train_seconds + time.monotonic() - self.session_start,
            world_size=self.dist.world_size,
            step_checkpoints=[dict(c) for c in self.step_checkpoints],
            rng=_rng_state(),
        )
        if self.ema is not None:
            state.update(train_model=self.model.state_dict(), ema_updates=self.ema.updates, ema_decay=self.ema.decay)
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        return state

    # ---- validation and checkpoints --------------------------------------------------------------
    def validate(self) -> Dict[str, Any]:
        """Greedy CER on the validation set (each rank decodes its shard; counts are pooled)."""
        if self.valid_loader is None:
            return {}
        model = self.ema.module if self.ema is not None else self.model
        limit = self.cfg.trainer.max_valid_utterances
        world = self.dist.world_size
        result = evaluate(model, self.task, self.valid_loader, self.device, self.scoring_normalizer,
                          max_utterances=math.ceil(limit / world) if limit else 0, keep_hypotheses=True)
        result["loss"] = self._validation_loss(model, math.ceil(limit / world) if limit else 0)
        if world == 1:
            return result
        parts = D.all_gather_objects({"hyps": result.pop("hypotheses"), "audio": result["audio_seconds"],
                                      "seconds": result["decode_seconds"], "skipped": result["skipped"]}, self.dist)
        scores = ErrorRates(normalize=self.scoring_normalizer)
        for part in parts:
            for h in part["hyps"]:
                scores.update(h["ref"], h["hyp"])  # ref is already task-normalized, as in evaluate()
        audio = sum(p["audio"] for p in parts)
        seconds = max(p["seconds"] for p in parts)
        pooled: Dict[str, Any] = scores.result()
        losses = D.all_gather_objects(result["loss"], self.dist)
        pooled["loss"] = float(np.mean([x for x in losses if np.isfinite(x)])) if any(np.isfinite(losses)) else float("nan")
        pooled["hypotheses"] = [h for part in parts for h in part["hyps"]]
        pooled.update(audio_seconds=round(audio, 2), decode_seconds=round(seconds, 3),
                      rtf=round(seconds / max(audio, 1e-9), 5), skipped=sum(p["skipped"] for p in parts))
        return pooled

    def _validation_loss(self, model: torch.nn.Module, max_utterances: int = 0) -> float:
        """The training criterion on this rank's validation shard (mean over utterances, no gradients)."""
        was_training = model.training
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for batch in self.valid_loader:
                if len(batch) == 0:
                    continue
                _, stats = self.criterion(model, batch.to(self.device))
                if np.isfinite(stats["loss"]):
                    total += stats["loss"] * len(batch)
                    count += len(batch)
                if max_utterances and count >= max_utterances:
                    break
        model.train(was_training)
        return total / count if count else float("nan")

    def _log_validation_pictures(self, model: torch.nn.Module, hyps: List[Dict[str, Any]]) -> None:
        """TensorBoard: a few reference/hypothesis pairs and the first validation utterance's features with
        its CTC posteriors (hypersp.train.pictures)."""
        from hypersp.train.pictures import alignment_image

        if hyps:
            rows = "\n".join(f"| {h['utt_id']} | {h['ref']} | {h['hyp']} |" for h in hyps[:5])
            self.writer.add_text("valid/samples", "| utterance | reference | hypothesis |\n|---|---|---|\n" + rows,
                                 self.step)
        batch = next((b for b in self.valid_loader if len(b)), None)
        if batch is None:
            return
        was_training = model.training
        model.eval()
        with torch.no_grad():
            b = batch.to(self.device)
            out = model(b.features[:1], b.feature_lengths[:1])
        model.train(was_training)
        log_probs, out_lengths = out[0], out[1]
        if log_probs.dim() != 3:
            return
        n, m = int(b.feature_lengths[0]), int(out_lengths[0])
        feats = b.features[0].float().cpu().numpy()
        feats = feats[:n] if feats.shape[0] >= n else feats[:, :n].T  # (T, F) whichever layout the batch uses
        self.writer.add_image("valid/features_and_ctc_posteriors",
                              alignment_image(feats, log_probs[0, :m].float().cpu().numpy()), self.step)

    def checkpoint(self) -> Dict[str, Any]:
        metrics = self.validate()  # every rank (collective); identical results everywhere
        samples = metrics.pop("hypotheses", None) if metrics else None  # for TensorBoard, not the checkpoint
        improved = bool(metrics) and metrics["cer"] < self.best_cer
        if improved:
            self.best_cer = metrics["cer"]
            self.bad_validations = 0
        elif metrics:
            self.bad_validations += 1
        if not self.is_main:
            return metrics
        tc = self.cfg.trainer
        if tc.keep_last_n > 0 or tc.keep_best_n > 0:
            self.step_checkpoints.append({"step": self.step, "cer": metrics.get("cer", math.inf),
                                          "path": f"ckpt_step{self.step}.pt"})
            self.step_checkpoints = self._prune_step_checkpoints(self.step_checkpoints)
        state = self._state(metrics)
        last = self.out_dir / "last.pt"
        if self.step_checkpoints and self.step_checkpoints[-1]["step"] == self.step:
            # The step file first, so last.pt never lists a step checkpoint that is not on disk.
            step_path = self.out_dir / self.step_checkpoints[-1]["path"]
            save_checkpoint(state, step_path)
            self._publish(step_path, last)
        else:
            save_checkpoint(state, last)
        if improved or not metrics:
            self._publish(last, self.out_dir / "best.pt")
        if metrics:
            for k in ("cer", "cer_with_spaces", "wer", "loss"):
                if k in metrics:
                    self.writer.add_scalar(f"valid/{k}", metrics[k], self.step)
            if self.is_main:
                self._log_validation_pictures(self.ema.module if self.ema is not None else self.model, samples or [])
            self._log_jsonl({"step": self.step, "valid": {k: metrics[k] for k in ("cer", "cer_with_spaces", "wer", "loss",
                                                                                  "num_utterances") if k in metrics}})
            log.info("step %d validation: CER %.2f%% (best %.2f%%) WER %.2f%% on %d utterances",
                     self.step, metrics["cer"], self.best_cer, metrics["wer"], metrics["num_utterances"])
        return metrics

    def _prune_step_checkpoints(self, entries: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Keep the last ``keep_last_n`` and the best ``keep_best_n`` step checkpoints; delete the rest."""
        tc = self.cfg.trainer
        keep = {e["step"] for e in entries[-tc.keep_last_n:]} if tc.keep_last_n > 0 else set()
        if tc.keep_best_n > 0:
            keep |= {e["step"] for e in sorted(entries, key=lambda e: (e["cer"], -e["step"]))[: tc.keep_best_n]}
        kept = []
        for e in entries:
            if e["step"] in keep:
                kept.append(e)
            else:
                (self.out_dir / e["path"]).unlink(missing_ok=True)
        return kept

    @staticmethod
    def _publish(src: Path, dst: Path) -> None:
        """Make ``dst`` the checkpoint ``src`` atomically: a hard link renamed over ``dst`` (no second
        write; later replacing ``src`` leaves ``dst`` alone), or an atomic copy where links fail."""
        tmp = dst.with_name(f".{dst.name}.link.tmp")
        tmp.unlink(missing_ok=True)
        try:
            os.link(src, tmp)
            os.replace(tmp, dst)
        except OSError:
            tmp.unlink(missing_ok=True)
            save_checkpoint(load_checkpoint(src), dst)

    # ---- training ------------------------------------------------------------------------------
    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def fit(self) -> Dict[str, Any]:
        """Train until ``max_steps``, early stopping or ``max_minutes``; validate and checkpoint at the end."""
        run = self._start_session()
        while self.step < self.cfg.trainer.max_steps and run.stop_reason == "max_steps":
            if not self._train_epoch(run):
                break
        return self._end_session(run)

    def _start_session(self) -> FitSession:
        tc = self.cfg.trainer
        n_params = sum(p.numel() for p in self.model.parameters())
        log.info("model %s: %.2f M parameters; %d training utterances (%.2f h); device %s; %d rank(s); precision %s; "
                 "accumulate_grad %d", self.cfg.model.name, n_params / 1e6, len(self.train_set),
                 sum(self.train_set.durations) / 3600, self.device, self.dist.world_size, tc.precision,
                 tc.accumulate_grad)
        bar = None
        if tc.progress_bar and self.is_main:
            from tqdm import tqdm

            bar = tqdm(total=tc.max_steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True)
        window = LogWindow()
        self.session_start = time.monotonic()
        run = FitSession(start=self.session_start,
                         deadline=self.session_start + tc.max_minutes * 60 if tc.max_minutes else math.inf,
                         params=[p for p in self.model.parameters() if p.requires_grad], bar=bar, window=window)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        return run

    def _train_epoch(self, run: FitSession) -> bool:
        """This rank's remaining batches of the epoch. True: the epoch ended; False: training stops."""
        # Accumulation groups never straddle epochs: the group is aligned to this rank's batch index.
        self.train_loader.batch_sampler.set_epoch(self.epoch, self.batch_in_epoch)
        run.micro = 0
        run.group = StepGroup()
        fetch_start = time.monotonic()
        for batch in self.train_loader:
            run.data_wait += time.monotonic() - fetch_start
            if self._accumulate(run, batch) and self._step(run):
                return False
            fetch_start = time.monotonic()
        # Epoch done; a trailing incomplete accumulation group is dropped (as DDP drops the
        # remainder batches), so N ranks x A micro-batches always equal one rank x N*A.
        self.optimizer.zero_grad(set_to_none=True)
        self.epoch += 1
        self.batch_in_epoch = 0
        return True

    def _accumulate(self, run: FitSession, batch) -> bool:
        """Forward and backward of one micro-batch; True when it completes an accumulation group."""
        self.batch_in_epoch += 1
        for utt_id, reason in batch.skipped:
            self.skipped[reason.split(":")[0]] += 1
            log.warning("skipped utterance %s (%s)", utt_id, reason)
        batch, weight = self._usable_batch(run, batch)
        if batch is None:
            return False
        tc = self.cfg.trainer
        accum = tc.accumulate_grad
        D.seed_step(tc.seed, self.step, self.dist.rank * accum + run.micro)
        batch = self.task.augment(batch)
        sync = run.micro == accum - 1
        no_sync = self.net.no_sync() if (self.dist.distributed and not sync) else contextlib.nullcontext()
        with no_sync:
            with self._autocast():
                loss, _stats = self.criterion(self.net, batch)
            self.scaler.scale(loss * (weight / accum)).backward()
        if weight:
            run.group.add(float(loss.detach()), batch)
        run.micro += 1
        return sync

    def _usable_batch(self, run: FitSession, batch):
        """``(batch on the device, weight)``; ``(None, 0)`` for an empty batch in a single process (not a
        micro-batch). Distributed, an empty batch repeats the last one with weight 0, keeping ranks in lockstep."""
        if len(batch) > 0:
            run.last_batch = batch.to(self.device)
            return run.last_batch, 1.0
        if not self.dist.distributed:
            return None, 0.0
        if run.last_batch is None:
            raise RuntimeError("the first training batch of this rank has no usable utterance; "
                               "check the manifest (see the skipped-utterance warnings above)")
        return run.last_batch, 0.0

    def _step(self, run: FitSession) -> bool:
        """One optimizer step after a full accumulation group, then its metrics, logs and validation.
        True when training stops here."""
        tc = self.cfg.trainer
        grad_norm = self._optimizer_step(run)
        # metrics, reduced over ranks (one small all-reduce per step)
        out_of_time = 1.0 if time.monotonic() > run.deadline else 0.0
        group = run.group
        loss_sum, n, audio, out_of_time = D.all_reduce_sum([group.loss, group.batches, group.audio, out_of_time],
                                                           self.dist)
        run.group = StepGroup()
        step_loss = loss_sum / max(n, 1)
        self.audio_seconds += audio
        run.audio += audio
        run.window.add(step_loss, audio)
        lr = self.scheduler.get_last_lr()[0]
        self._log_jsonl({"step": self.step, "epoch": self.epoch, "loss": step_loss, "lr": lr,
                         "grad_norm": grad_norm, "audio_seconds": audio,
                         "seconds": round(time.monotonic() - run.start, 4),  # since this session's start
                         "data_wait_seconds": round(run.data_wait, 4)})      # cumulative, this session
        if run.bar is not None:
            run.bar.update(1)
            run.bar.set_postfix(loss=f"{step_loss:.3f}", best_cer=f"{self.best_cer:.2f}")
        if self.step % tc.log_every == 0:
            self._log_window(run, lr, grad_norm)
        if self.step % tc.val_every == 0:
            self._validate_in_loop(run)
        if self.step >= tc.max_steps or run.stop_reason != "max_steps":
            return True
        if out_of_time:
            run.stop_reason = "max_minutes"
            return True
        return False

    def _optimizer_step(self, run: FitSession) -> float:
        """Clip, step (grads are identical on every rank after DDP's all-reduce), schedule, EMA. Returns the
        gradient norm before clipping."""
        self.scaler.unscale_(self.optimizer)
        max_norm = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(run.params, max_norm))
        finite = math.isfinite(grad_norm)
        if self.scaler.is_enabled():
            self.scaler.step(self.optimizer)  # skips the update itself on inf/NaN
            self.scaler.update()
        elif finite:
            self.optimizer.step()
        if not finite and not self.scaler.is_enabled():
            self.skipped["non-finite loss"] += run.group.utterances
            log.warning("step %d: non-finite loss/gradient, update skipped", self.step)
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        run.micro = 0
        return grad_norm

    def _log_window(self, run: FitSession, lr: float, grad_norm: float) -> None:
        """TensorBoard scalars and one log line for the steps since the last one; starts a new window."""
        window = run.window
        elapsed = time.monotonic() - window.start
        throughput = window.audio / max(elapsed, 1e-9)
        avg = window.loss / window.steps
        if self.writer is not None:
            self.writer.add_scalar("train/loss", avg, self.step)
            self.writer.add_scalar("train/lr", lr, self.step)
            self.writer.add_scalar("train/grad_norm", grad_norm, self.step)
            self.writer.add_scalar("train/audio_seconds_per_second", throughput, self.step)
            self.writer.add_scalar("train/data_wait_fraction",
                                   run.data_wait / max(time.monotonic() - run.start, 1e-9), self.step)
            if self.device.type == "cuda":
                self.writer.add_scalar("train/gpu_max_memory_gb",
                                       torch.cuda.max_memory_allocated(self.device) / 2**30, self.step)
        msg = (f"step {self.step} epoch {self.epoch} loss {avg:.4f} lr {lr:.2e} "
               f"grad_norm {grad_norm:.2f} audio_s/s {throughput:.1f} skipped {sum(self.skipped.values())}")
        if self.is_main:
            (run.bar.write(msg) if run.bar is not None else log.info(msg))
        run.window = LogWindow()

    def _validate_in_loop(self, run: FitSession) -> None:
        t0 = time.monotonic()
        run.metrics = self.checkpoint()
        run.checkpoint_seconds += time.monotonic() - t0
        patience = self.cfg.trainer.early_stopping_patience
        if patience and self.bad_validations >= patience:
            run.stop_reason = "early_stopping"
            log.info("early stopping: no better validation CER in %d validations", self.bad_validations)

    def _end_session(self, run: FitSession) -> Dict[str, Any]:
        """The final validation and checkpoint (unless this step just had one), then the summary."""
        if run.bar is not None:
            run.bar.close()
        loop_seconds = time.monotonic() - run.start
        if self.step % self.cfg.trainer.val_every != 0 or not run.metrics:
            run.metrics = self.checkpoint()
        summary = self._summary(run, loop_seconds, time.monotonic() - run.start)
        if self.is_main:
            (self.out_dir / "train_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
            self.writer.close()
            self.jsonl.close()
            from hypersp.train.pictures import write_training_curves

            write_training_curves(self.out_dir / "train_log.jsonl", self.out_dir / "curves.png")
        return summary

    def _summary(self, run: FitSession, loop_seconds: float, train_seconds: float) -> Dict[str, Any]:
        tc = self.cfg.trainer
        compute_seconds = max(loop_seconds - run.checkpoint_seconds, 1e-9)
        return {
            "steps": self.step,
            "epochs": self.epoch + self.batch_in_epoch / max(1, len(self.train_loader)),
            "stop_reason": run.stop_reason,
            "world_size": self.dist.world_size,
            "precision": tc.precision,
            # whole run, resumed sessions included (audio_seconds_trained counts them too)
            "train_seconds": round(self.earlier_train_seconds + train_seconds, 1),
            "session_seconds": round(train_seconds, 1),
            "audio_seconds_trained": round(self.audio_seconds, 1),
            "audio_seconds_per_second": round(self.audio_seconds / max(self.earlier_train_seconds + train_seconds, 1e-9), 1),
            # this session only, validation/checkpoint time excluded (what bench/train_throughput.py reads)
            "loop_seconds_without_validation": round(compute_seconds, 3),
            "loop_audio_seconds_per_second": round(run.audio / compute_seconds, 2),
            "data_wait_fraction": round(run.data_wait / compute_seconds, 4),
            "best_valid_cer": None if math.isinf(self.best_cer) else self.best_cer,
            "last_valid": {k: v for k, v in run.metrics.items() if k != "hypotheses"},
            "skipped": dict(self.skipped),
            "checkpoints": {"best": str(self.out_dir / "best.pt"), "last": str(self.out_dir / "last.pt"),
                            "steps": [str(self.out_dir / c["path"]) for c in self.step_checkpoints]},
        }


def train(cfg: DictConfig) -> Dict[str, Any]:
    try:
        summary = Trainer(cfg).fit()
    except BaseException:
        D.cleanup(wait_for_peers=False)
        raise
    D.cleanup()
    return summary
