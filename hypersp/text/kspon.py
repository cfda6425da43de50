"""ETRI transcription rules (KsponSpeech, and the AIHub TmaxSoft sets that reuse them).

The raw transcripts carry annotations that are not speech text:

=================  =====================================  ==========================================
notation           meaning                                what :func:`clean_etri` does
=================  =====================================  ==========================================
``(A)/(B)``        dual form: A spelling, B pronunciation  keeps A (``side="spelling"``, the default,
                                                           as ESPnet, SpeechBrain, icefall) or B
                                                           (``side="pronunciation"``, as KoSpeech);
                                                           with ``keep_digits=False`` a spelling side
                                                           containing digits takes B, the
                                                           transcriber's reading (3가지 -> 세 가지)
``b/ l/ o/ n/``    breath, laughter, overlap, noise        deleted (only at the start of a token, so
                                                           the last letter of ``PC/`` is safe)
``u/``             unintelligible word                     deleted, or replaced by ``unk``
``word/``          filler (어/ 아/ 음/)                     ``/`` dropped (``fluent=True`` drops the word)
``word+``          repetition (전+ 전)                      ``+`` dropped (``fluent=True`` drops the word)
``*``              unclear pronunciation                   deleted
``@웃음 /(noise)``  AIHub noise events                      deleted
``@이름1`` ...       AIHub anonymization placeholder         deleted (the audio is masked)
``@김철수``          AIHub pseudonym actually spoken          ``@`` dropped, word kept
=================  =====================================  ==========================================

Known malformations are repaired and reported (``repairs``): spaces around the dual slash
``(A) / (B)``, the missing slash ``(A)(B)``, a flipped bracket ``(A)/)B)``, ``w1 +w2`` and mid-word
``w1+w2``. Whatever still has a bracket afterwards raises :class:`MalformedTranscript`; the
preparers count it under ``malformed_tag`` instead of guessing (a lone ``(`` used to make other
toolkits keep or delete the rest of the sentence wholesale).

Full-width forms (``／ ＋ ｌ``, common in AIHub text) are folded to ASCII first.
"""
from __future__ import annotations

import re
from typing import List, Tuple

SIDES = ("spelling", "pronunciation")


class MalformedTranscript(ValueError):
    """An ETRI annotation that cannot be resolved (unbalanced or unpaired brackets)."""


_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def fold_fullwidth(text: str) -> str:
    """Full-width ASCII (U+FF01..U+FF5E) -> ASCII, ideographic space -> space. Hangul untouched."""
    return text.translate(_FULLWIDTH)


_NOISE_EVENTS = re.compile(r"@(?:웃음|목청|박수|노래|잡음|기침)|(?<!\))/\((?:noise|bgm|music)\)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"@(?:이름|상호명|전화번호|카드번호|주민번호|주소|정당|계좌번호|회사명)\d*")
_AT = re.compile(r"@")
_SLASH_SPACES = re.compile(r"\)\s*/\s*\(")
_FLIPPED = re.compile(r"\(([^()]*)\)/\)([^()]*)\)")          # (60)/)육십)
_MISSING_SLASH = re.compile(r"\(([^()]*)\)\(([^()]*)\)")     # (100%)(백 프로)
_DUAL = re.compile(r"\(([^()]*)\)/\(([^()]*)\)")
_SPACE_PLUS = re.compile(r"(?<=\S) \+(?=\S)")                # w1 +w2 -> w1+ w2
_TAG = re.compile(r"(?<!\S)([bnoul])/")
_FILLER = re.compile(r"(\S+)/(?=\s|$)")
_REPEAT = re.compile(r"(\S+)\+(?=\s|$)")
_DIGIT = re.compile(r"[0-9]")
_SPACES = re.compile(r"\s+")


def clean_etri(
    raw: str,
    side: str = "spelling",
    keep_digits: bool = True,
    unk: str = "",
    fluent: bool = False,
) -> Tuple[str, List[str]]:
    """Resolve ETRI annotations in one transcript.

    Returns ``(text, repairs)``: the text with annotations resolved (punctuation, digits and
    case untouched; see :func:`hypersp.text.normalize.normalize_korean` for those) and the
    names of the malformations that were repaired. Raises :class:`MalformedTranscript`.
    """
    if side not in SIDES:
        raise ValueError(f"transcript side {side!r}; choose one of {', '.join(SIDES)}")
    repairs: List[str] = []
    text = fold_fullwidth(raw)
    text = _NOISE_EVENTS.sub(" ", text)
    text = _PLACEHOLDER.sub(" ", text)
    text = _AT.sub("", text)

    fixed = _SLASH_SPACES.sub(")/(", text)
    if fixed != text:
        repairs.append("spaces_around_dual_slash")
        text = fixed
    fixed = _FLIPPED.sub(r"(\1)/(\2)", text)
    if fixed != text:
        repairs.append("flipped_dual_bracket")
        text = fixed
    fixed = _MISSING_SLASH.sub(r"(\1)/(\2)", text)
    if fixed != text:
        repairs.append("missing_dual_slash")
        text = fixed

    def pick(m: re.Match) -> str:
        spelling, pronunciation = m.group(1), m.group(2)
        if side == "pronunciation":
            return pronunciation
        if not keep_digits and _DIGIT.search(spelling):
            return pronunciation  # the transcriber's reading beats a rule (세 가지, not 삼가지)
        return spelling

    # Resolve dual forms before deleting x/ tags, else ")/(" would look like a tag.
    text = _DUAL.sub(pick, text)
    for bracket in "()":
        col = text.find(bracket)
        if col >= 0:
            raise MalformedTranscript(f"unresolved {bracket!r} at column {col} after dual-notation repair: {text!r}")

    fixed = _SPACE_PLUS.sub("+ ", text)
    if fixed != text:
        repairs.append("space_before_plus")
        text = fixed

    text = _TAG.sub(lambda m: f" {unk} " if (m.group(1) == "u" and unk) else " ", text)
    text = _FILLER.sub("" if fluent else r"\1", text)
    text = _REPEAT.sub("" if fluent else r"\1", text)
    if "+" in text:
        repairs.append("mid_word_plus")
        text = text.replace("+", " ")
    if "/" in text:
        repairs.append("stray_slash")
        text = text.replace("/", " ")
    text = text.replace("*", "")
    return _SPACES.sub(" ", text).strip(), repairs
