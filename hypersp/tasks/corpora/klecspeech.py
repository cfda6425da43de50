"""KlecSpeech (AIHub 한국어 강의 음성, TmaxSoft): EBS and online lectures, domains D01–D19 and D99.

16 kHz WAV per utterance (the native rate is read from each header and recorded), one
UTF-8 ``.txt`` per utterance and one session JSON per folder. Preparation, pairing and the
session-level test carve-out are described in :mod:`hypersp.prepare.aihub`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypersp.registry import register_task
from hypersp.tasks.corpora.aihub import AIHubTask, AIHubTaskConfig


@dataclass
class KlecSpeechConfig(AIHubTaskConfig):
    name: str = "klecspeech"


@register_task("klecspeech", config=KlecSpeechConfig)
class KlecSpeechTask(AIHubTask):
    """Korean lecture speech at 16 kHz."""
