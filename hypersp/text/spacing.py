"""Word-spacing correction for display, with kiwipiepy's Korean morphological analyzer (optional extra).

The acoustic model often splits a word before its particle or ending: ``오늘 도``, ``오전에 만``,
``정리해두 었습니다``. Korean spacing attaches particles (조사), endings (어미), the copula (이다) and
noun suffixes (들, 님) to the word before them, so the ``kiwi`` spacer joins a word to the one before it
when kiwipiepy analyses the word's first morpheme as one of those (tags ``J*``, ``E*``, ``VCP``, ``XSN``).
It never splits a word and never changes a character: only spaces are removed.

``mode="full"`` instead re-spaces the whole text with ``Kiwi.space`` (inserting and removing spaces).
Measured on hypersp's synthetic test sets (README, "Readable output"), ``full`` makes spacing worse: it
follows kiwipiepy's own conventions (``영업 팀``, ``해야하나요``, ``삼 십 이``), which are not the ones the
references and the ITN use. ``attach`` (the default) improves CER with spaces and WER on both sets.

Install: ``pip install 'hypersp[spacing]'`` (kiwipiepy; its model package kiwipiepy-model, about 100 MB,
Apache-2.0). The analyzer is loaded on first use (3-9 s on a 2-core VM; a process holding only the analyzer is about 340 MB resident) and shared by
every spacer in the process. :func:`spacing_available` says whether kiwipiepy is installed;
:func:`hypersp.text.display.display_form` uses the default spacer only when it is.
"""
from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, fields
from typing import Any, Optional, Tuple

from hypersp.registry import SPACERS, register_spacer

EXTRA_HINT = "pip install 'hypersp[spacing]'"


class SpacingUnavailable(ImportError):
    """The ``kiwi`` spacer was asked for but kiwipiepy is not installed."""


def spacing_available() -> bool:
    """True when kiwipiepy (the ``spacing`` extra) is installed; nothing is imported."""
    return importlib.util.find_spec("kiwipiepy") is not None


_KIWI: Any = None
_KIWI_LOCK = threading.Lock()   # loading
_CALL_LOCK = threading.Lock()   # one analysis at a time: the server calls from its stream and offline threads,
                                # and kiwipiepy does not document its objects as thread-safe (about 1 ms a call)


def _kiwi() -> Any:
    """The process's one ``kiwipiepy.Kiwi`` (loaded on first use; thread-safe)."""
    global _KIWI
    with _KIWI_LOCK:
        if _KIWI is None:
            try:
                from kiwipiepy import Kiwi
            except ImportError as err:
                raise SpacingUnavailable(f"spacing correction needs kiwipiepy: {EXTRA_HINT}") from err
            # one thread per call (the caller's); no typo or multi-word dictionaries: spacing only needs tags
            _KIWI = Kiwi(num_workers=-1, load_typo_dict=False, load_multi_dict=False)
        return _KIWI


@dataclass
class KiwiSpacerConfig:
    name: str = "kiwi"
    mode: str = "attach"   # "attach": join particles/endings to the previous word; "full": Kiwi.space
    attach_tags: Tuple[str, ...] = ("J", "E", "VCP", "XSN")  # tag prefixes of a first morpheme that attaches

    def __post_init__(self) -> None:
        if self.mode not in ("attach", "full"):
            raise ValueError(f"spacer mode={self.mode!r}; choose attach or full")
        self.attach_tags = tuple(self.attach_tags)


@register_spacer("kiwi", config=KiwiSpacerConfig)
class KiwiSpacer:
    """``__call__(text) -> text`` with corrected spaces; the characters are unchanged."""

    def __init__(self, cfg: Optional[KiwiSpacerConfig] = None):
        self.cfg = cfg or KiwiSpacerConfig()

    def __call__(self, text: str) -> str:
        words = text.split()
        if not words:
            return ""
        if self.cfg.mode == "attach" and len(words) < 2:
            return words[0]  # nothing to join to
        kiwi = _kiwi()
        if self.cfg.mode == "full":
            with _CALL_LOCK:
                spaced = kiwi.space(" ".join(words), reset_whitespace=False)
            return " ".join(spaced.split())
        joined = " ".join(words)
        starts, pos = [], 0
        for w in words:
            starts.append(pos)
            pos += len(w) + 1
        first = {}  # character offset of a word -> the first morpheme starting there
        with _CALL_LOCK:
            tokens = kiwi.tokenize(joined)
        for tok in tokens:
            first.setdefault(tok.start, tok)
        out = [words[0]]
        for w, s in zip(words[1:], starts[1:]):
            tok = first.get(s)
            if tok is not None and tok.tag.startswith(self.cfg.attach_tags):
                out[-1] += w
            else:
                out.append(w)
        return " ".join(out)


_DEFAULT: Optional[KiwiSpacer] = None


def get_spacer(name: str = "kiwi", **overrides) -> Any:
    """The registered spacer ``name`` built from its config with ``overrides`` (unknown keys raise)."""
    cls = SPACERS.get(name)
    cfg_cls = SPACERS.config_class(name)
    known = {f.name for f in fields(cfg_cls)}
    bad = set(overrides) - known
    if bad:
        raise TypeError(f"spacer {name!r} has no setting(s) {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
    return cls(cfg_cls(name=name, **overrides))


def correct_spacing(text: str) -> str:
    """Spacing correction with the default ``kiwi`` spacer (``attach``); raises :class:`SpacingUnavailable`
    without kiwipiepy."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = KiwiSpacer()
    return _DEFAULT(text)
