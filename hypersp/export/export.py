"""Export a CTC model (any registered family) to ONNX or TorchScript.

Contract of the exported graph (both formats)::

    inputs:  features (B, T, F) float32   log-mel features as the task computes them
             lengths  (B,)      int64     valid frames per utterance
    outputs: log_probs   (B, T', V) float32  log-softmax over the vocabulary, blank id 0
             out_lengths (B,)       int64    valid output frames, T' ~ ceil(T / subsampling_factor)

B and T are dynamic. The graph is the model's ``forward`` in eval mode; for ``transformer`` (CTC +
attention) that is the CTC head only: the attention decoder and its beam search are not exported.

Beside the model file ``FILE`` a JSON sidecar ``FILE.json`` (:func:`sidecar_path`) holds what a
recognizer needs to run the export without the checkpoint: the task's sample rate and feature
config, the subsampling factor, the tokenizer's config, state (vocabulary) and module, the text
normalizer's name, where the export came from and ``integrity`` (SHA-256 of the model file and
of the sidecar, checked when a backend opens the export: ``verify_export``). ``load_sidecar``
reads and checks it; it, ``verify_export`` and ``build_tokenizer`` live in the torch-free
``hypersp.export.sidecar`` (re-exported here).

Both formats are produced by tracing (``torch.jit.trace``; ONNX through PyTorch's TorchScript-based
exporter, ``dynamo=False``, which needs neither ``onnx`` nor ``onnxscript``). Tracing fixes Python
control flow to the example's path, so the example batch has two utterances of different lengths
(the padded path is the one that is recorded) and every export is checked against PyTorch on
other shapes by ``tests/test_export.py``.
"""
from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import nn

from hypersp.export.sidecar import (  # noqa: F401  (torch-free; re-exported here where they used to live)
    FORMATS,
    INTEGRITY_KEY,
    SIDECAR_FORMAT,
    SIDECAR_VERSION,
    ExportError,
    build_tokenizer,
    integrity_record,
    load_sidecar,
    sidecar_path,
    tokenizer_origin,
    verify_export,
)

INPUT_NAMES = ["features", "lengths"]
OUTPUT_NAMES = ["log_probs", "out_lengths"]
DEFAULT_OPSET = 17  # LayerNormalization is a native op from 17 on; onnxruntime >= 1.14 runs it


class Conv1dAs2d(nn.Module):
    """An ``nn.Conv1d`` computed as a ``(1, k)`` Conv2d over ``(B, C, 1, T)``: same weights, same result.

    Why: onnxruntime runs 2-D convolutions through its blocked NCHWc kernels (vectorized across
    channels), but a 1-D grouped convolution through a generic im2col path. QuartzNet's depthwise
    convolutions (kernel 33-87, one group per channel) took ~64% of onnxruntime's time as 1-D and
    ran ~1.4x faster end to end as 2-D (``bench/cpu_rtf.py``). ``channels_last`` (TorchScript
    exports) runs the 2-D convolution in channels-last layout, where oneDNN has vectorized depthwise
    kernels: QuartzNet 15x5 ran ~2x faster than PyTorch's own 1-D convolutions.
    """

    def __init__(self, conv: nn.Conv1d, channels_last: bool = False):
        super().__init__()
        self.channels_last = bool(channels_last)
        if isinstance(conv.padding, str):
            raise ExportError(f"Conv1d with padding={conv.padding!r} is not supported by the export rewrite")
        self.conv = nn.Conv2d(conv.in_channels, conv.out_channels, (1, conv.kernel_size[0]),
                              stride=(1, conv.stride[0]), padding=(0, conv.padding[0]),
                              dilation=(1, conv.dilation[0]), groups=conv.groups, bias=conv.bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(conv.weight.unsqueeze(2))
            if conv.bias is not None:
                self.conv.bias.copy_(conv.bias)

        if self.channels_last:
            self.conv.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(2)  # (B, C, 1, T)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.conv(x).squeeze(2)


def conv1d_as_conv2d(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """A deep copy of ``model`` with every ``nn.Conv1d`` (padding_mode zeros) replaced by :class:`Conv1dAs2d`."""
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Conv1d) and child.padding_mode == "zeros":
                setattr(module, name, Conv1dAs2d(child, channels_last))
    return model


class CTCGraph(nn.Module):
    """The exported function: ``(features (B,T,F) float, lengths (B,) long) -> (log_probs, out_lengths long)``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        log_probs, out_lengths = self.model(features, lengths)
        return log_probs.float(), out_lengths.to(torch.long)


def example_inputs(input_dim: int, subsampling_factor: int = 4, batch: int = 2, frames: int = 0
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """A traced example: ``batch`` utterances, the first ``frames`` long, the others shorter (padded path)."""
    frames = frames or 16 * max(int(subsampling_factor), 1) + 3  # not a multiple of the stride on purpose
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(batch, frames, input_dim, generator=g)
    lengths = torch.tensor([frames - (i * frames) // (2 * batch) for i in range(batch)], dtype=torch.long)
    return feats, lengths


def export_model(model: nn.Module, fmt: str, out: str | Path, input_dim: Optional[int] = None,
                 opset: int = DEFAULT_OPSET, conv_as_2d: bool = True,
                 graph: Callable[[nn.Module], nn.Module] = CTCGraph) -> Path:
    """Export ``model`` (eval mode is set here) to ``out`` in ``fmt`` (``onnx`` | ``torchscript``).

    ``input_dim`` defaults to ``model.input_dim``. ``conv_as_2d`` exports a copy whose 1-D
    convolutions run as 2-D ones (:class:`Conv1dAs2d`; faster in onnxruntime, identical results);
    ``model`` itself is never modified. ``graph`` wraps the model into the traced module, with
    :class:`CTCGraph`'s inputs and outputs (the sherpa-onnx export adds normalization in front).
    Returns ``out``. No sidecar is written here (see :func:`export_checkpoint`).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    input_dim = int(input_dim if input_dim is not None else getattr(model, "input_dim", 0))
    if input_dim <= 0:
        raise ExportError(f"{type(model).__name__} has no input_dim attribute; pass input_dim=F")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    module = graph(conv1d_as_conv2d(model, channels_last=fmt == "torchscript") if conv_as_2d else model).eval()
    args = example_inputs(input_dim, int(model.subsampling_factor))
    with torch.no_grad(), warnings.catch_warnings():
        # Tracer warnings flag the input-shape checks and length arithmetic, which are data-independent
        # here; the exporter's deprecation notice is about dynamo=False, chosen on purpose (see module doc).
        warnings.simplefilter("ignore")
        if fmt == "torchscript":
            traced = torch.jit.trace(module, args, check_trace=False)
            traced = torch.jit.freeze(traced)  # parameters become constants: fewer lookups per call
            torch.jit.save(traced, str(out))
        else:
            torch.onnx.export(
                module, args, str(out), dynamo=False, opset_version=opset,
                input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                dynamic_axes={"features": {0: "batch", 1: "frames"}, "lengths": {0: "batch"},
                              "log_probs": {0: "batch", 1: "out_frames"}, "out_lengths": {0: "batch"}},
                do_constant_folding=True,
            )
    return out


def _provenance(cfg: Any) -> Dict[str, Any]:
    """Who provided each component (name, module, distribution, version), as checkpoints record it."""
    from hypersp.checkpoint import component_provenance

    try:
        return component_provenance(cfg)
    except Exception:  # a component missing from this process: the export still works, provenance is partial
        return {}


def build_sidecar(comp: Any, fmt: str, model_file: str | Path, source: str = "") -> Dict[str, Any]:
    """The JSON-able description of an export of ``comp`` (``hypersp.checkpoint.Components``)."""
    from omegaconf import OmegaConf

    from hypersp import __version__

    cfg = OmegaConf.to_container(comp.cfg, resolve=True)
    tokenizer_cfg = dict(cfg["tokenizer"])
    if "model_path" in tokenizer_cfg:
        tokenizer_cfg["model_path"] = ""  # the trained model travels in the state, not as a file path
    task_cfg = cfg["task"]
    model = comp.model
    return {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "hypersp_version": __version__,
        "model_format": fmt,
        "model_file": Path(model_file).name,
        "inputs": {"features": ["batch", "frames", int(comp.task.input_dim)], "lengths": ["batch"]},
        "outputs": {"log_probs": ["batch", "out_frames", int(comp.task.vocab_size)], "out_lengths": ["batch"]},
        "model": cfg["model"],
        "provenance": _provenance(comp.cfg),
        "ctc_only": bool(getattr(model, "has_attention_decoder", False)),
        "subsampling_factor": int(model.subsampling_factor),
        "input_dim": int(comp.task.input_dim),
        "vocab_size": int(comp.task.vocab_size),
        "blank_id": 0,
        "sample_rate": int(comp.task.sample_rate),
        "features": dict(task_cfg["features"]),
        "task": task_cfg.get("name", ""),
        "text_normalizer": task_cfg.get("text_normalizer", ""),
        "tokenizer": {"config": tokenizer_cfg, "state": comp.tokenizer.state_dict(),
                      **tokenizer_origin(comp.tokenizer)},  # module + class: rebuilt without the registry
        "source_checkpoint": str(source),
    }


def export_checkpoint(checkpoint: str | Path, fmt: str, out: str | Path, overrides=(), opset: int = DEFAULT_OPSET
                      ) -> Dict[str, Any]:
    """Rebuild the model of ``checkpoint`` (path or shipped name), export it to ``out`` and write the
    sidecar ``out.json``. Returns the sidecar dict (plus ``"sidecar"``: its path)."""
    from hypersp.checkpoint import build_from_checkpoint
    from hypersp.checkpoint import load_checkpoint

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    comp = build_from_checkpoint(load_checkpoint(checkpoint), overrides=overrides, device="cpu")
    return export_components(comp, fmt, out, source=str(checkpoint), opset=opset)


def export_components(comp: Any, fmt: str, out: str | Path, source: str = "", opset: int = DEFAULT_OPSET
                      ) -> Dict[str, Any]:
    """Export already built components (tokenizer, task, model) and write the sidecar."""
    out = Path(out)
    export_model(comp.model, fmt, out, input_dim=comp.task.input_dim, opset=opset)
    meta = build_sidecar(comp, fmt, out, source=source)
    meta[INTEGRITY_KEY] = integrity_record(out, meta)  # checked by the backends when the export is opened
    side = sidecar_path(out)
    side.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return {**meta, "sidecar": str(side)}
