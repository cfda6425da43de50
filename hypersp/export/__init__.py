"""Export CTC models to ONNX or TorchScript, with a JSON sidecar that makes them self-contained.

    from hypersp.export import export_checkpoint
    export_checkpoint("runs/quickstart/best.pt", "onnx", "model.onnx")   # writes model.onnx + model.onnx.json

The exported graph maps ``features (B, T, F) float32`` and ``lengths (B,) int64`` to
``log_probs (B, T', V) float32`` and ``out_lengths (B,) int64`` with dynamic B and T.
``hypersp.inference.backends.OnnxBackend`` runs an ONNX export without the checkpoint and without torch.

Importing this package does not import torch: the sidecar helpers come from the torch-free
``hypersp.export.sidecar``; ``export_checkpoint`` and ``export_model`` (``hypersp.export.export``,
which needs torch) are imported on first use.
"""
from hypersp.export.sidecar import FORMATS, ExportError, load_sidecar, sidecar_path

_TORCH_NAMES = ("export_checkpoint", "export_model")


def __getattr__(name):
    if name in _TORCH_NAMES:
        from hypersp.export import export

        return getattr(export, name)
    raise AttributeError(f"module 'hypersp.export' has no attribute {name!r}")


__all__ = ["FORMATS", "ExportError", "export_checkpoint", "export_model", "load_sidecar", "sidecar_path"]
