"""The embedded default corpus: synthetic Korean speech from eSpeak NG (no download).

``hypersp-prepare synthetic --out data/synthetic [hours=1.5 seed=0]`` writes 16 kHz audio and
train/dev/test manifests; ``synthetic_tel`` is the 8 kHz telephone variant (band-limited,
mu-law), trained and evaluated at 8 kHz end to end. See ``hypersp.prepare.synthetic.generator``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from hypersp.audio.config import FeatureConfig, telephone_features
from hypersp.prepare.synthetic.generator import SyntheticConfig, generate_corpus
from hypersp.registry import register_task
from hypersp.tasks.base import SpeechRecognitionConfig
from hypersp.tasks.speech_recognition import SpeechRecognitionTask


@dataclass
class SyntheticTaskConfig(SpeechRecognitionConfig):
    name: str = "synthetic"


@dataclass
class SyntheticTelTaskConfig(SpeechRecognitionConfig):
    name: str = "synthetic_tel"
    sample_rate: int = 8000
    features: FeatureConfig = field(default_factory=telephone_features)




@dataclass
class SyntheticTelPrepareConfig(SyntheticConfig):
    """``hypersp-prepare synthetic_tel`` defaults: the 8 kHz telephone channel."""

    sample_rate: int = 8000
    telephone: bool = True


@register_task("synthetic", config=SyntheticTaskConfig)
class SyntheticTask(SpeechRecognitionTask):
    default_tokenizer = "jamo"
    prepare_config = SyntheticConfig

    @classmethod
    def prepare(cls, root: Optional[Path], out_dir: Path, jobs: int, options: Any) -> Dict[str, Any]:
        return generate_corpus(Path(out_dir), options, jobs=jobs)


@register_task("synthetic_tel", config=SyntheticTelTaskConfig)
class SyntheticTelTask(SyntheticTask):
    prepare_config = SyntheticTelPrepareConfig
