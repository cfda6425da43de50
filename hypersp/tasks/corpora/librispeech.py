"""LibriSpeech (OpenSLR 12) as a task: 16 kHz, English characters, the standard split names.

Raw layout and text rules are described in :mod:`hypersp.prepare.librispeech`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

from hypersp.prepare.librispeech import LibriPrepareConfig, prepare_librispeech
from hypersp.registry import register_task
from hypersp.tasks.base import SpeechRecognitionConfig
from hypersp.tasks.speech_recognition import SpeechRecognitionTask


@dataclass
class LibriSpeechConfig(SpeechRecognitionConfig):
    name: str = "librispeech"
    sample_rate: int = 16000
    text_normalizer: str = "english"
    scoring_normalizer: str = "english"


@register_task("librispeech", config=LibriSpeechConfig)
class LibriSpeechTask(SpeechRecognitionTask):
    """LibriSpeech: 16 kHz, English characters, ``english`` normalizer, standard split names."""

    default_tokenizer = "english_char"
    prepare_config = LibriPrepareConfig

    @classmethod
    def prepare(cls, root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
        return prepare_librispeech(root, out_dir, jobs, options)
