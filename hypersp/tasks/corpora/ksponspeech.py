"""KsponSpeech (AIHub 한국어 음성, ETRI) as a task: 16 kHz, jamo targets, the official .trn splits.

Raw layout, splits and transcript rules are described in :mod:`hypersp.prepare.ksponspeech`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

from hypersp.prepare.ksponspeech import KsponPrepareConfig, prepare_ksponspeech
from hypersp.registry import register_task
from hypersp.tasks.base import SpeechRecognitionConfig
from hypersp.tasks.speech_recognition import SpeechRecognitionTask


@dataclass
class KsponSpeechConfig(SpeechRecognitionConfig):
    name: str = "ksponspeech"
    sample_rate: int = 16000
    text_normalizer: str = "korean"
    scoring_normalizer: str = "korean_cer"


@register_task("ksponspeech", config=KsponSpeechConfig)
class KsponSpeechTask(SpeechRecognitionTask):
    """KsponSpeech: 16 kHz, jamo targets, ``korean`` normalizer, official .trn splits."""

    default_tokenizer = "jamo"
    prepare_config = KsponPrepareConfig

    @classmethod
    def prepare(cls, root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
        return prepare_ksponspeech(root, out_dir, jobs, options)
