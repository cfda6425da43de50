"""KrespSpeech (AIHub 고객 응대 음성, TmaxSoft): kiosk and store customer service, domains D50–D52.

16-bit mono 16 kHz WAV. Folders usually hold a single utterance (one ``.wav``, one ``.txt``,
one ``.json``); when their stems differ they are paired by folder (``notes.paired_by_folder``).
The speaker's role (``type``) is carried into the manifest where the JSON has it. Preparation, pairing and the
session-level test carve-out are described in :mod:`hypersp.prepare.aihub`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypersp.registry import register_task
from hypersp.tasks.corpora.aihub import AIHubTask, AIHubTaskConfig


@dataclass
class KrespSpeechConfig(AIHubTaskConfig):
    name: str = "krespspeech"


@register_task("krespspeech", config=KrespSpeechConfig)
class KrespSpeechTask(AIHubTask):
    """Customer-response speech at 16 kHz."""
