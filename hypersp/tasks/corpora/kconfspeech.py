"""KconfSpeech (AIHub 회의 음성, TmaxSoft): meeting speech over 8 topics, domains D20–D27.

16 kHz WAV per utterance (the native rate is read from each header and recorded), one
UTF-8 ``.txt`` per utterance and one session JSON per folder. Preparation, pairing and the
session-level test carve-out are described in :mod:`hypersp.prepare.aihub`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypersp.registry import register_task
from hypersp.tasks.corpora.aihub import AIHubTask, AIHubTaskConfig


@dataclass
class KconfSpeechConfig(AIHubTaskConfig):
    name: str = "kconfspeech"


@register_task("kconfspeech", config=KconfSpeechConfig)
class KconfSpeechTask(AIHubTask):
    """Korean meeting speech at 16 kHz."""
