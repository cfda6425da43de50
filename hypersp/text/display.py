"""The display form of a transcript: corrected spacing, written-form numbers (ITN) and sentence-final punctuation.

``display_form("교재 삼십이 쪽을 펴 주세요")`` -> ``"교재 32쪽을 펴 주세요."``. The spoken form stays
what is scored; this is what subtitles, minutes and live pages show.

Steps, in order: spacing (:mod:`hypersp.text.spacing`; joins split-off particles and endings, so that
``삼십이 쪽 을`` reaches ITN as ``삼십이 쪽을``), ITN (:mod:`hypersp.text.itn`), punctuation
(:mod:`hypersp.text.punctuation`). Spacing needs the optional ``spacing`` extra (kiwipiepy): by default it
runs when kiwipiepy is installed and is skipped otherwise, so the display form depends on that extra.
"""
from __future__ import annotations

from typing import Callable, Optional, Union

from hypersp.text.itn import get_itn, itn as _itn
from hypersp.text.punctuation import get_punctuator, punctuate as _punctuate

Step = Union[bool, str, Callable[[str], str]]


def _default_spacing(text: str) -> str:
    from hypersp.text.spacing import correct_spacing, spacing_available

    return correct_spacing(text) if spacing_available() else text


def _get_spacer(name: str) -> Callable[[str], str]:
    from hypersp.text.spacing import get_spacer

    return get_spacer(name)


def display_form(text: str, itn: Step = True, punctuation: Step = True, spacing: Step = True) -> str:
    """Spoken -> display form. Each of ``spacing`` / ``itn`` / ``punctuation`` is True (the default:
    ``kiwi`` spacing when kiwipiepy is installed, ``korean`` ITN, ``korean_endings`` punctuation), False
    (skip), a registered name (``spacing="kiwi"`` raises ``SpacingUnavailable`` without kiwipiepy), or
    any ``str -> str`` callable."""
    text = " ".join(text.split())
    step: Optional[Callable[[str], str]]
    for option, default, build in ((spacing, _default_spacing, _get_spacer), (itn, _itn, get_itn),
                                   (punctuation, _punctuate, get_punctuator)):
        if option is False or option is None:
            continue
        step = default if option is True else build(option) if isinstance(option, str) else option
        text = step(text)
    return text
