"""KtelSpeech (AIHub 상담 음성, TmaxSoft): call-center speech, domains D60–D62, **8 kHz**.

The audio is telephone-band 8 kHz mono WAV, and the task stays at 8 kHz end to end: the
manifest records each file's native rate, the task's ``sample_rate`` is 8000 and its log-mel
front end is designed for that band (64 mel bins up to 4 kHz, 25 ms / 10 ms windows). Files at
another rate are resampled to 8 kHz on load (counted in the report as
``sample_rate_differs_from_native``); nothing is upsampled to 16 kHz by accident.

Labels and audio usually come in separate trees (``라벨링데이터/KtelSpeech_train_D60_label_0/J91/
S00007727/0001.txt`` and ``원천데이터/KtelSpeech_train_D60_wav_0/J91/S00007727/0001.wav``); the
session JSON's ``audioPath`` (``KtelSpeech/D60/J91/...``) does not match the disk and is only used
for the speaker of each utterance (file-name stem) and its role ``speaker_type`` (상담원 agent /
고객 customer). Preparation is described in :mod:`hypersp.prepare.aihub`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypersp.audio.config import FeatureConfig, telephone_features
from hypersp.registry import register_task
from hypersp.tasks.corpora.aihub import AIHubTask, AIHubTaskConfig


@dataclass
class KtelSpeechConfig(AIHubTaskConfig):
    name: str = "ktelspeech"
    sample_rate: int = 8000
    features: FeatureConfig = field(default_factory=telephone_features)


@register_task("ktelspeech", config=KtelSpeechConfig)
class KtelSpeechTask(AIHubTask):
    """Call-center speech at 8 kHz, kept at 8 kHz end to end."""

    native_sample_rate = 8000
