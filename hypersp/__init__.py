"""hypersp: a PyTorch toolkit for Korean speech recognition.

Importing ``hypersp`` is cheap: no models are imported and CUDA is not touched. Components
are found through the registries in ``hypersp.registry``. The one-line entry point is
:func:`load`::

    import hypersp
    asr = hypersp.load("demo_ko_16k")
    print(asr.transcribe("call.wav").text)
"""
__version__ = "0.1.0"


def load(name_or_path, *, device: str = "cpu", decoding=None, vad=None, threads=None, overrides=(),
         batch_seconds=None, runtime: str = "torch", precision: str = "fp32", **decoding_settings):
    """The recognition engine (:class:`hypersp.inference.recognizer.Recognizer`) for a model.

    ``name_or_path``: a shipped model name (``demo_ko_16k``, ``demo_ko_8k``), a checkpoint file, or an
    exported model with its sidecar (``.onnx``: onnxruntime and numpy features, no torch needed; TorchScript).
    ``decoding``: a decoder name (``greedy``, ``ctc_beam``, ``attention``), a ``DecodingConfig`` or a dict;
    further keywords set decoding fields (``beam_size=16, lm="lm.arpa", lm_weight=0.5,
    hotwords=["고객센터"], nbest=4``; giving an LM, hotwords or a beam size selects ``ctc_beam``).
    A checkpoint's own ``decoding`` group is the starting point; the shipped demo models start from ctc_beam
    with the shipped Korean LM (``hypersp/pretrained/NAME.decoding.yaml``; ``decoding="greedy"`` for greedy).
    ``vad``: a ``VadConfig`` for segmenting long input; ``overrides``: ``key=value`` config overrides for a
    checkpoint; ``threads``: onnxruntime intra-op threads for an ONNX model; ``batch_seconds``: audio seconds per
    forward pass (None: 32 on a CPU, 120 on a GPU).
    ``runtime`` (checkpoints): ``torch`` (eager PyTorch, the default), ``onnxruntime`` or ``torchscript``: the
    checkpoint is exported once into a cache folder (``~/.cache/hypersp/exports/<content hash>/``) and that
    export runs the forward pass (CPU, ``threads`` threads) in the same engine: same decoding, same text.
    ``precision`` (runtime ``torch``): ``fp32`` (default), ``bf16`` (autocast; on a CPU with AMX faster only for
    large batches, README "Inference precision"; the text can differ a little) or ``fp16`` (CUDA).
    """
    from dataclasses import asdict, is_dataclass

    from hypersp.inference.recognizer import Recognizer, make_decoding_config

    if isinstance(decoding, str):
        decoding_settings = {"name": decoding, **decoding_settings}
        decoding = None
    elif decoding is not None and not is_dataclass(decoding):
        decoding_settings = {**dict(decoding), **decoding_settings}
        decoding = None
    from pathlib import Path

    if str(name_or_path).endswith(".onnx") or Path(str(name_or_path) + ".json").is_file():  # an export + sidecar
        from hypersp.export.sidecar import ExportError
        from hypersp.inference.runtimes import runtime_of_export

        if precision != "fp32":
            raise ExportError(f"{name_or_path} is an export: it runs float32 (precision={precision!r} applies to "
                              "checkpoints on runtime 'torch')")
        if runtime != "torch" and runtime != runtime_of_export(name_or_path):
            raise ExportError(f"{name_or_path} is an export for {runtime_of_export(name_or_path)}; runtime={runtime!r} "
                             "applies to checkpoints (leave it unset for an export)")
        cfg = make_decoding_config(decoding, **decoding_settings)
        return Recognizer.from_exported(str(name_or_path), threads=threads, decoding=cfg, vad=vad,
                                        batch_seconds=batch_seconds)
    given = dict(asdict(decoding)) if decoding is not None else {}
    given.update({k: v for k, v in decoding_settings.items() if v is not None})
    return Recognizer.from_checkpoint(str(name_or_path), device=device, overrides=overrides, vad=vad,
                                      batch_seconds=batch_seconds, decoding=given or None, runtime=runtime,
                                      threads=threads, precision=precision)
