"""The AIHub sets built by TmaxSoft in 2020 as tasks: klecspeech, kconfspeech, krespspeech, ktelspeech.

What the four share at training time: jamo targets, the ``korean`` normalizer, train/dev/test splits.
Raw layouts, pairing and the session-level test carve-out are described in :mod:`hypersp.prepare.aihub`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

from hypersp.prepare.aihub import AIHubPrepareConfig, prepare_aihub
from hypersp.tasks.base import SpeechRecognitionConfig
from hypersp.tasks.speech_recognition import SpeechRecognitionTask


@dataclass
class AIHubTaskConfig(SpeechRecognitionConfig):
    """Defaults shared by klecspeech, kconfspeech, krespspeech and ktelspeech."""

    text_normalizer: str = "korean"
    scoring_normalizer: str = "korean_cer"


class AIHubTask(SpeechRecognitionTask):
    """Base of the four TmaxSoft AIHub tasks: jamo targets, ``korean`` normalizer, train/dev/test
    (test carved by session), prepared by ``prepare_aihub``."""

    default_tokenizer = "jamo"
    prepare_config = AIHubPrepareConfig
    native_sample_rate = 16000  # Hz the corpus ships at; recorded in the manifests

    @classmethod
    def prepare(cls, root: Path, out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
        return prepare_aihub(cls.registered_name, cls.native_sample_rate, root, out_dir, jobs, options)
