"""KconfSpeech (AIHub 회의 음성, TmaxSoft): meeting speech over 8 topics, domains D20–D27.

16 kHz WAV per utterance (the native rate is read from each header and recorded), one
UTF-8 ``.txt`` per utterance and one session JSON per folder. Preparation, pairing and the
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
class KconfSpeechConfig(SpeechRecognitionConfig):
    name: str = "kconfspeech"
    sample_rate: int = 16000
    text_normalizer: str = "korean"
    scoring_normalizer: str = "korean_cer"


@register_task("kconfspeech", config=KconfSpeechConfig)
class KconfSpeechTask(SpeechRecognitionTask):
    """Korean meeting speech: 16 kHz, jamo targets, ``korean`` normalizer; train/valid/test."""

    default_tokenizer = "jamo"
    prepare_config = AIHubPrepareConfig
    native_sample_rate = 16000

    @classmethod
    def prepare(cls, root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
        return prepare_aihub(cls.registered_name, cls.native_sample_rate, root, out_dir, jobs, options)
