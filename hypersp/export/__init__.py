"""Export CTC models to ONNX or TorchScript, with a JSON sidecar that makes them self-contained.

    from hypersp.export import export_checkpoint
    export_checkpoint("runs/quickstart/best.pt", "onnx", "model.onnx")   # writes model.onnx + model.onnx.json

The exported graph maps ``features (B, T, F) float32`` and ``lengths (B,) int64`` to
``log_probs (B, T', V) float32`` and ``out_lengths (B,) int64`` with dynamic B and T.
``hypersp.inference.onnx_recognizer.OnnxRecognizer`` runs an ONNX export without the checkpoint.
"""
from hypersp.export.export import (
    FORMATS,
    ExportError,
    export_checkpoint,
    export_model,
    load_sidecar,
    sidecar_path,
)

__all__ = ["FORMATS", "ExportError", "export_checkpoint", "export_model", "load_sidecar", "sidecar_path"]
