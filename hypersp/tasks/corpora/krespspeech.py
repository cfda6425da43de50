"""KrespSpeech (AIHub 고객 응대 음성, TmaxSoft): kiosk and store customer service, domains D50–D52.

16-bit mono 16 kHz WAV. Folders usually hold a single utterance (one ``.wav``, one ``.txt``,
one ``.json``); when their stems differ they are paired by folder (``notes.paired_by_folder``).
The speaker's role (``type``) is carried into the manifest where the JSON has it. Preparation, pairing and the
session-level test carve-out are described in :mod:`hypersp.tasks.corpora.aihub`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

from hypersp.registry import register_task
from hypersp.tasks.base import SpeechRecognitionConfig
from hypersp.tasks.corpora.aihub import AIHubPrepareConfig, prepare_aihub
from hypersp.tasks.speech_recognition import SpeechRecognitionTask


@dataclass
class KrespSpeechConfig(SpeechRecognitionConfig):
    name: str = "krespspeech"
    sample_rate: int = 16000
    text_normalizer: str = "korean"
    scoring_normalizer: str = "korean_cer"


@register_task("krespspeech", config=KrespSpeechConfig)
class KrespSpeechTask(SpeechRecognitionTask):
    """Customer-response speech: 16 kHz, jamo targets, ``korean`` normalizer; train/valid/test."""

    default_tokenizer = "jamo"
    prepare_config = AIHubPrepareConfig
    native_sample_rate = 16000

    @classmethod
    def prepare(cls, root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
        return prepare_aihub(cls.registered_name, cls.native_sample_rate, root, out_dir, jobs, options)
