"""The display form of a transcript: written-form numbers (ITN) and sentence-final punctuation.

``display_form("교재 삼십이 쪽을 펴 주세요")`` -> ``"교재 32쪽을 펴 주세요."``. The spoken form stays
what is scored; this is what subtitles, minutes and live pages show.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

from hypersp.text.itn import get_itn, itn as _itn
from hypersp.text.punctuation import get_punctuator, punctuate as _punctuate


def display_form(text: str, itn: Union[bool, str, Callable[[str], str]] = True,
                 punctuation: Union[bool, str, Callable[[str], str]] = True) -> str:
    """Spoken -> display form. ``itn`` / ``punctuation``: True (the defaults ``korean`` and
    ``korean_endings``), False (skip), a registered name, or any ``str -> str`` callable."""
    text = " ".join(text.split())
    step: Optional[Callable[[str], str]]
    for option, default, build in ((itn, _itn, get_itn), (punctuation, _punctuate, get_punctuator)):
        if option is False or option is None:
            continue
        step = default if option is True else build(option) if isinstance(option, str) else option
        text = step(text)
    return text
