"""The tokenizer contract and a base class for symbol-list tokenizers (no torch here).

Contract (every registered tokenizer):

- built as ``Tokenizer(cfg)``; ``fit(texts)`` builds the vocabulary where it depends on data
  (a no-op for fixed vocabularies);
- ``tokens``: list of symbol strings, index = id; id 0 is the CTC blank ``"<blank>"``;
- ``encode(text) -> List[int]`` never produces 0; ``decode(ids) -> str`` never emits the blank
  (ids equal to 0 are skipped), so CTC output can be decoded after collapsing repeats;
- ``vocab_size`` counts the blank; ``state_dict()`` is ``{"tokens": [...]}`` (plain JSON) and
  ``load_state_dict`` rebuilds the tokenizer from it alone (from a checkpoint, no data needed).

Unknown symbols: see :class:`UnknownSymbolPolicy`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Sequence

BLANK = "<blank>"
SPACE = " "


@dataclass
class TokenizerConfig:
    """Base of every tokenizer config; subclasses redefine ``name`` with their registered name."""

    name: str = ""


class UnknownSymbolPolicy:
    """What ``encode`` does with a symbol that is not in the vocabulary: it is **dropped**.

    Dropping keeps training running on text with a stray character (a rare hanja, an emoji)
    instead of inventing an ``<unk>`` label the model would have to learn. Every dropped symbol
    is counted: ``tokenizer.unknown_count`` (total since construction or the last
    :meth:`Tokenizer.reset_unknown`) and ``tokenizer.unknown_symbols`` (a ``Counter`` by symbol),
    so data preparation can report how much text was lost and which characters caused it.
    """

    DROP = "drop"


class Tokenizer:
    """Base class for tokenizers whose text is a sequence of vocabulary symbols.

    Subclasses implement :meth:`split` (text -> symbols) and :meth:`join` (symbols -> text),
    and set the vocabulary with :meth:`_set_tokens` (in ``__init__`` for fixed vocabularies,
    in :meth:`fit` otherwise). Tokenizers with another model of text (sentencepiece) may
    override :meth:`encode` / :meth:`decode` directly.
    """

    blank_id: int = 0
    unknown_policy: str = UnknownSymbolPolicy.DROP

    def __init__(self, cfg: Any = None):
        self.cfg = cfg
        self.unknown_count = 0
        self.unknown_symbols: Counter = Counter()
        self._set_tokens([BLANK])

    # --- vocabulary -----------------------------------------------------------------------

    def _set_tokens(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if not tokens or tokens[0] != BLANK:
            raise ValueError(f"{type(self).__name__}: token 0 must be the blank {BLANK!r}, got {tokens[:1]!r}")
        dupes = [t for t, c in Counter(tokens).items() if c > 1]
        if dupes:
            raise ValueError(f"{type(self).__name__}: duplicate tokens {dupes[:10]!r}")
        self.tokens: List[str] = tokens
        self._ids: Dict[str, int] = {t: i for i, t in enumerate(tokens)}

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def token_to_id(self, token: str) -> int:
        """Id of ``token``; ``KeyError`` if it is not in the vocabulary."""
        return self._ids[token]

    def id_to_token(self, idx: int) -> str:
        return self.tokens[idx]

    def fit(self, texts: Iterable[str]) -> None:
        """Build the vocabulary from training texts; fixed vocabularies ignore this."""

    # --- text <-> ids ---------------------------------------------------------------------

    def split(self, text: str) -> List[str]:  # pragma: no cover - abstract
        """Text -> list of symbols (which may or may not be in the vocabulary)."""
        raise NotImplementedError

    def join(self, symbols: List[str]) -> str:  # pragma: no cover - abstract
        """Symbols -> text (the inverse of :meth:`split` on normalized text)."""
        raise NotImplementedError

    def encode(self, text: str) -> List[int]:
        """Text -> ids (never 0). Unknown symbols are dropped and counted (:class:`UnknownSymbolPolicy`)."""
        ids = []
        for symbol in self.split(text):
            idx = self._ids.get(symbol)
            if idx is None or idx == self.blank_id:
                self.unknown_count += 1
                self.unknown_symbols[symbol] += 1
            else:
                ids.append(idx)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; blanks (0) are skipped. An id outside the vocabulary is a ``ValueError``."""
        symbols = []
        for i in ids:
            i = int(i)
            if i == self.blank_id:
                continue
            if not 0 <= i < len(self.tokens):
                raise ValueError(
                    f"{type(self).__name__}.decode: id {i} is outside the vocabulary (size {len(self.tokens)}); "
                    "was the model trained with another tokenizer?"
                )
            symbols.append(self.tokens[i])
        return self.join(symbols)

    def reset_unknown(self) -> None:
        self.unknown_count = 0
        self.unknown_symbols.clear()

    # --- persistence ----------------------------------------------------------------------

    def state_dict(self) -> Dict[str, Any]:
        return {"tokens": list(self.tokens)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if "tokens" not in state:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing key 'tokens' (got {sorted(state)})")
        self._set_tokens(state["tokens"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"
