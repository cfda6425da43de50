"""Shared command-line plumbing: plugins, --list, logging, and one-line errors."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Callable, List, Optional, Sequence


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE to register its components (repeatable); it must be installed/importable")
    parser.add_argument("--list", action="store_true",
                        help="print every registered component and the package it came from, then exit")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)


def print_components(kinds: Optional[List[str]] = None) -> None:
    from hypersp.registry import ALL_REGISTRIES

    for kind, registry in ALL_REGISTRIES.items():
        if kinds and kind not in kinds:
            continue
        print(f"{kind}s:")
        entries = registry.entries()
        if not entries:
            print("  (none)")
        for e in entries:
            print(f"  {e.name:<22} {e.cls.__module__}.{e.cls.__qualname__}  [{e.distribution}]")
    from hypersp.models.presets import list_presets

    if not kinds or "model" in kinds:
        print("model presets (--arch):")
        from hypersp.models.presets import preset_distribution

        for name, path in list_presets().items():
            print(f"  {name:<22} {path}  [{preset_distribution(path)}]")


def user_errors():
    """Exception types that are the user's to fix: reported in one line, exit code 2."""
    from hypersp.audio.io import AudioReadError
    from hypersp.config import ConfigError
    from hypersp.data.manifest import ManifestError
    from hypersp.plugins import PluginError
    from hypersp.registry import RegistryError
    from hypersp.checkpoint import CheckpointError
    from hypersp.export.sidecar import ExportError

    # OSErrors about a path the user named (their message names it): missing, unwritable, a file where a
    # folder is needed or the reverse.
    path_errors = (FileNotFoundError, PermissionError, FileExistsError, IsADirectoryError, NotADirectoryError)
    return (ConfigError, ManifestError, RegistryError, PluginError, CheckpointError, ExportError, AudioReadError,
            *path_errors)


def _writable_folder(path: Path, flag: str, given: str) -> None:
    """``path`` (an existing folder) accepts new files: try to create one, as the command will."""
    import os
    import tempfile

    from hypersp.config import ConfigError

    try:
        fd, probe = tempfile.mkstemp(prefix=".hypersp-write-test-", dir=path)
    except OSError as err:
        raise ConfigError(f"{flag} {given}: cannot write in {path} ({err.strerror or err}); "
                          "choose a folder you can write to") from None
    os.close(fd)
    os.unlink(probe)


def _nearest_existing(path: Path, flag: str, given: str) -> Path:
    """The closest existing folder at or above ``path`` (where the command would create it)."""
    from hypersp.config import ConfigError

    probe = path.absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{flag} {given}: {probe} is a file, not a folder")
    return probe


def check_output_dir(out: str, flag: str = "--out") -> None:
    """Fail in one line (exit 2) before any work when ``out`` cannot be an output folder: it is an existing
    file, lies under a file, or is not writable (it is created if missing)."""
    from hypersp.config import ConfigError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {out}: is an existing file; name a folder (it is created if missing)")
    _writable_folder(_nearest_existing(path, flag, out), flag, out)


def check_output_file(out: str, flag: str = "--out") -> None:
    """Fail in one line (exit 2) before any work when ``out`` cannot be written as a file: it is a folder,
    lies under a file, or its folder is not writable (an existing file is replaced)."""
    from hypersp.config import ConfigError

    path = Path(out)
    if path.is_dir():
        raise ConfigError(f"{flag} {out}: is a folder; name the file to write, e.g. {path / 'model.onnx'}")
    _writable_folder(_nearest_existing(path.parent, flag, out), flag, out)


def require_extra(prog: str, extra: str, modules: Sequence[str]) -> None:
    """Fail in one line (exit 2) when an optional dependency group is not installed, naming the pip line."""
    import importlib.util

    from hypersp.config import ConfigError

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"{prog} needs the '{extra}' extra ({', '.join(missing)} not installed): "
                          f"pip install 'hypersp[{extra}]'")


def run(prog: str, body: Callable[[], int]) -> int:
    try:
        return body()
    except user_errors() as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def load_requested_plugins(args) -> None:
    from hypersp.plugins import load_all, load_plugins

    load_all()
    load_plugins(args.plugin)


def add_decoding_args(parser: argparse.ArgumentParser) -> None:
    """The decoding flags shared by hypersp-eval, hypersp-transcribe and hypersp-serve. Each one left out
    keeps the value from the checkpoint's ``decoding`` group (greedy by default; the shipped demo models:
    ctc_beam with the shipped LM, from ``hypersp/pretrained/NAME.decoding.yaml``)."""
    d = parser.add_argument_group("decoding (default: the checkpoint's decoding config, greedy; the shipped demo "
                                  "models: ctc_beam with the shipped Korean LM)")
    d.add_argument("--decoding", help="decoder: greedy | ctc_beam | attention (or a plugin's registered decoder)")
    d.add_argument("--beam-size", type=int, help="beam width (ctc_beam, attention)")
    d.add_argument("--nbest", type=int, help="hypotheses kept per utterance/segment (with scores)")
    d.add_argument("--lm", metavar="LM.arpa", help="ARPA n-gram LM (.arpa or .arpa.gz) for ctc_beam shallow fusion "
                                                   "(hypersp-prepare lm); --lm '' decodes without one")
    d.add_argument("--lm-weight", type=float, help="LM weight (ctc_beam)")
    d.add_argument("--word-bonus", type=float, help="score added per word (ctc_beam)")
    d.add_argument("--lm-partial-word-penalty", type=float,
                   help="penalty for a partial word that starts no LM word (ctc_beam; 0 = off)")
    d.add_argument("--hotword", action="append", default=[], metavar="WORD", help="word/phrase to boost (repeatable)")
    d.add_argument("--hotword-weight", type=float, help="bonus per matched hotword token")
    d.add_argument("--ctc-weight", type=float, help="CTC prefix-score weight (attention)")


def add_runtime_arg(parser: argparse.ArgumentParser) -> None:
    """``--runtime`` and ``--precision``, shared by hypersp-eval, hypersp-transcribe and hypersp-serve
    (``hypersp.load(runtime=, precision=)``)."""
    parser.add_argument("--runtime", choices=("torch", "onnxruntime", "torchscript"), default="torch",
                        help="what runs a checkpoint's model: torch (PyTorch eager, default), onnxruntime or "
                             "torchscript (exported once to ~/.cache/hypersp/exports/, then reused; CPU; same "
                             "text). onnxruntime needs the export extra")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                        help="arithmetic of the model's forward pass (runtime torch): fp32 (default), bf16 "
                             "(autocast; on a CPU with AMX it pays only for large batches, see README 'Inference "
                             "precision'; the text can differ a little) or fp16 (CUDA)")


def decoding_settings(args) -> dict:
    """The decoding flags that were given, as ``DecodingConfig`` field names (``--lm`` -> ``lm_path``)."""
    given = {"name": args.decoding, "beam_size": args.beam_size, "nbest": args.nbest, "lm_path": args.lm,
             "lm_weight": args.lm_weight, "word_bonus": args.word_bonus, "hotword_weight": args.hotword_weight,
             "ctc_weight": args.ctc_weight, "lm_partial_word_penalty": args.lm_partial_word_penalty}
    out = {k: v for k, v in given.items() if v is not None}
    if args.hotword:
        out["hotwords"] = list(args.hotword)
    return out
