"""N-gram language models in ARPA format: a pure-Python reader with back-off, and a builder.

Why pure Python: the maintained binding, ``kenlm`` (PyPI 0.3.0), ships only as a source
distribution that needs a C++ toolchain, CMake and Boost to build, so it cannot be a
dependency that installs everywhere. A dictionary lookup per (context, word) is fast enough
here because :mod:`hypersp.decoding.ctc_beam` queries the LM once per *new* word of a prefix
and caches the result. Any ARPA file works (KenLM's ``lmplz`` output, SRILM, or
:func:`build_arpa`).

Units: an ARPA model scores "words", which are whatever the builder split the text into:
``word`` (space-separated words), ``char`` (characters, the space written as ``<sp>``) or
``jamo`` (Hangul decomposed into conjoining jamo first, then as ``char``). Scores from
:meth:`NgramLM.score` are natural logarithms (ARPA stores log10).

Builder: interpolated Kneser-Ney (Chen & Goodman 1998, "interpolated KN" with one absolute
discount per order, D = n1 / (n1 + 2 n2)); lower orders use continuation counts (the number of
distinct words seen before an n-gram), except for n-grams that start with ``<s>``, which keep
raw counts (nothing can precede ``<s>``). The unigram distribution is interpolated with a
uniform one over the vocabulary plus ``<unk>``, so every word has non-zero probability. The
interpolation weights gamma(h) are written as ARPA back-off weights, which makes the ARPA model
compute exactly the interpolated probabilities.

Pruning (``prune``, ``hypersp-prepare lm --prune N``): n-grams of order 3 and above seen fewer than
N times in the text are dropped (``prune=2`` drops singletons; a sequence gives one threshold per
order from 3 on, non-decreasing, the last one repeated). Discounts and continuation counts come from
the full counts, so a kept n-gram keeps its interpolated probability; the probability mass of the
dropped ones goes back to the lower order through the back-off weight, recomputed per context as in
SRILM: ``bow(h) = (1 - sum_kept p(w|h)) / (1 - sum_kept p_lower(w|h'))`` over the kept words w after
h, with ``p_lower`` the pruned model's own lower order. Every distribution still sums to one. Raw
counts only fall as an n-gram grows (c(abc) >= c(abcd), c(bcd) >= c(abcd)), so with non-decreasing
thresholds the context and the suffix of every kept n-gram are kept too, as ARPA requires.

Files: ``.arpa`` or gzip-compressed ``.arpa.gz`` (read and written by suffix; the writer sets no
time stamp in the gzip header, so the same model gives the same bytes).

Word prefixes: :meth:`NgramLM.word_prefixes` answers "is this text the beginning of a word the LM
knows?" for the beam search's partial-word penalty. Words are compared as jamo
(:func:`~hypersp.text.hangul.decompose`), so a partial word that ends inside a syllable
("하" + final "ᆨ" on the way to "학교") is checked exactly at the jamo tokenizer's granularity.
:func:`load_lm` reads a file once per process and returns the same object afterwards.
"""
from __future__ import annotations

import bisect
import gzip
import io
import math
import os
import re
import threading
import zlib
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from hypersp.text.hangul import decompose

LN10 = math.log(10.0)
BOS, EOS, UNK, SPACE_UNIT = "<s>", "</s>", "<unk>", "<sp>"
UNITS = ("word", "char", "jamo")


class ArpaError(ValueError):
    pass


class WordPrefixes:
    """``text in prefixes``: whether ``text`` (compared as jamo) begins some word of ``words``.

    A sorted list of the decomposed words and a binary search: memory is one string per word (no
    trie nodes), a lookup is O(log n) string comparisons; answers are cached.
    """

    _CACHE_LIMIT = 200_000

    def __init__(self, words: Iterable[str]):
        self._sorted = sorted({decompose(w) for w in words if w})
        self._cache: Dict[str, bool] = {}

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, text: str) -> bool:
        hit = self._cache.get(text)
        if hit is None:
            key = decompose(text)
            i = bisect.bisect_left(self._sorted, key)
            hit = i < len(self._sorted) and self._sorted[i].startswith(key)
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            self._cache[text] = hit
        return hit


def text_to_units(text: str, unit: str) -> List[str]:
    """Split one sentence into LM units (see the module docstring)."""
    if unit == "word":
        return text.split()
    if unit not in UNITS:
        raise ValueError(f"LM unit {unit!r}: choose one of {', '.join(UNITS)}")
    text = " ".join(text.split())
    if unit == "jamo":
        text = decompose(text)
    return [SPACE_UNIT if c == " " else c for c in text]


class NgramLM:
    """An ARPA back-off model.

    ``score(state, word) -> (log_prob (natural log), new_state)`` where a state is the tuple of
    up to ``order - 1`` preceding words; :meth:`begin_state` is ``("<s>",)``. Unknown words are
    scored as ``<unk>`` (log10 probability -100 if the model has no ``<unk>``).
    """

    def __init__(self, ngrams: Dict[int, Dict[Tuple[str, ...], Tuple[float, float]]], unit: str = "word"):
        if 1 not in ngrams or not ngrams[1]:
            raise ArpaError("an n-gram model needs a \\1-grams: section with at least one entry")
        self.ngrams = ngrams  # order -> {words: (log10 prob, log10 backoff)}
        self.order = max(ngrams)
        self.unit = unit
        self.vocab = {w for (w,) in ngrams[1]}
        self._cache: Dict[Tuple[Tuple[str, ...], str], Tuple[float, Tuple[str, ...]]] = {}
        self._prefixes: Optional[WordPrefixes] = None

    _CACHE_LIMIT = 2_000_000  # cached (context, word) scores; cleared when exceeded (long-running servers)

    def word_prefixes(self) -> WordPrefixes:
        """The prefix set of the vocabulary's words (``<s>``, ``</s>``, ``<unk>`` excluded); built once."""
        if self._prefixes is None:
            self._prefixes = WordPrefixes(w for w in self.vocab if w not in (BOS, EOS, UNK))
        return self._prefixes

    def begin_state(self) -> Tuple[str, ...]:
        return (BOS,)

    def _log10(self, context: Tuple[str, ...], word: str) -> float:
        backoff = 0.0
        for start in range(len(context) + 1):  # longest context first
            ctx = context[start:]
            entry = self.ngrams.get(len(ctx) + 1, {}).get(ctx + (word,))
            if entry is not None:
                return entry[0] + backoff
            ctx_entry = self.ngrams.get(len(ctx), {}).get(ctx) if ctx else None
            if ctx_entry is not None:
                backoff += ctx_entry[1]
        return backoff - 100.0  # not even a unigram (and no <unk>)

    def score(self, state: Tuple[str, ...], word: str) -> Tuple[float, Tuple[str, ...]]:
        key = (state, word)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        w = word if word in self.vocab else UNK
        lp = self._log10(state, w) * LN10
        new_state = (state + (w,))[-(self.order - 1):] if self.order > 1 else ()
        # Keep only the longest suffix the model knows as a context: equal scores, fewer states.
        while new_state and new_state not in self.ngrams.get(len(new_state), {}):
            new_state = new_state[1:]
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = (lp, new_state)
        return lp, new_state

    def sentence_logprob(self, words: Sequence[str], eos: bool = True) -> float:
        """Natural-log probability of a whole sentence (``<s>`` implied, ``</s>`` added if ``eos``)."""
        state, total = self.begin_state(), 0.0
        for w in list(words) + ([EOS] if eos else []):
            lp, state = self.score(state, w)
            total += lp
        return total

    # ---- ARPA I/O --------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "NgramLM":
        """Read an ARPA file (``.gz``: gzip-compressed). The unit is taken from a ``# hypersp-lm unit=...``
        comment line before ``\\data\\`` (written by :func:`build_arpa`); other ARPA files are ``word``."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"language model {str(path)!r} does not exist")
        if path.suffix in (".bin", ".binary", ".klm"):
            raise ArpaError(f"{path}: binary KenLM models are not supported; pass the .arpa text file")
        try:
            with _open_text(path, "r") as f:
                unit, ngrams = cls._read(f, path)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:  # a damaged .gz, not UTF-8 text
            raise ArpaError(f"{path}: not a readable ARPA file ({type(err).__name__}: {err})") from None
        if not ngrams:
            raise ArpaError(f"{path}: no \\N-grams: sections found; is this an ARPA file?")
        if unit not in UNITS:
            raise ArpaError(f"{path}: unknown unit {unit!r} in the hypersp-lm header; choose one of {', '.join(UNITS)}")
        return cls(ngrams, unit)

    @staticmethod
    def _read(f, path: Path) -> Tuple[str, Dict[int, Dict[Tuple[str, ...], Tuple[float, float]]]]:
        unit = "word"
        ngrams: Dict[int, Dict[Tuple[str, ...], Tuple[float, float]]] = {}
        section = 0
        units: Dict[str, str] = {}  # one string object per unit: a 6-gram key then costs one tuple, not 6 strings
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            if section == 0:
                m = re.match(r"#\s*hypersp-lm\s+unit=(\w+)", line)
                if m:
                    unit = m.group(1)
            if line.startswith("\\"):
                m = re.match(r"\\(\d+)-grams:", line)
                section = int(m.group(1)) if m else (-1 if line == "\\data\\" else 0)
                if section > 0:
                    ngrams[section] = {}
                continue
            if section <= 0:
                continue
            parts = line.split()
            if len(parts) < section + 1:
                raise ArpaError(f"{path}:{lineno}: expected 'log10prob {section} words [backoff]', got {line!r}")
            try:
                prob = float(parts[0])
                backoff = float(parts[section + 1]) if len(parts) > section + 1 else 0.0
            except ValueError:
                raise ArpaError(f"{path}:{lineno}: bad number in {line!r}") from None
            ngrams[section][tuple([units.setdefault(w, w) for w in parts[1:section + 1]])] = (prob, backoff)
        return unit, ngrams

    def save(self, path: str | Path) -> None:
        """Write ARPA text (``.gz``: gzip-compressed, no time stamp in the header)."""
        with _open_text(path, "w") as f:
            f.write(f"# hypersp-lm unit={self.unit}\n\n\\data\\\n")
            for n in sorted(self.ngrams):
                f.write(f"ngram {n}={len(self.ngrams[n])}\n")
            for n in sorted(self.ngrams):
                f.write(f"\n\\{n}-grams:\n")
                for words, (prob, backoff) in sorted(self.ngrams[n].items()):
                    line = f"{prob:.6f}\t{' '.join(words)}"
                    if n < self.order:
                        line += f"\t{backoff:.6f}"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")


def _open_text(path: str | Path, mode: str):
    """A UTF-8 text stream over ``path``; gzip when the name ends in ``.gz``."""
    if str(path).endswith(".gz"):
        if mode == "r":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        raw = open(path, "wb")
        gz = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
        return _ClosingTextWrapper(gz, raw)
    return open(path, mode, encoding="utf-8")


class _ClosingTextWrapper(io.TextIOWrapper):
    """A text stream over a GzipFile that also closes the file object under it."""

    def __init__(self, gz: gzip.GzipFile, raw):
        super().__init__(gz, encoding="utf-8")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


_LM_CACHE: "OrderedDict[Tuple[str, int, int], NgramLM]" = OrderedDict()
_LM_CACHE_SIZE = 4
_LM_LOCK = threading.Lock()


def load_lm(path: str | Path) -> NgramLM:
    """:meth:`NgramLM.load` with a per-process cache keyed by (absolute path, size, modification
    time): the same file is parsed once however many decoders use it (the last 4 files are kept)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"language model {str(p)!r} does not exist")
    st = p.stat()
    key = (os.path.abspath(p), st.st_size, st.st_mtime_ns)
    with _LM_LOCK:
        lm = _LM_CACHE.get(key)
        if lm is not None:
            _LM_CACHE.move_to_end(key)
            return lm
    lm = NgramLM.load(p)
    with _LM_LOCK:
        _LM_CACHE[key] = lm
        while len(_LM_CACHE) > _LM_CACHE_SIZE:
            _LM_CACHE.popitem(last=False)
    return lm


PruneSpec = Union[int, Sequence[int], None]


def prune_thresholds(prune: PruneSpec, order: int) -> Dict[int, int]:
    """``prune`` (see the module docstring) -> {order n >= 3: minimum raw count}; empty when nothing is pruned."""
    if prune is None:
        return {}
    values = [int(prune)] if isinstance(prune, (int, float)) else [int(v) for v in prune]
    if not values:
        return {}
    if any(v < 0 for v in values):
        raise ValueError(f"prune thresholds must be >= 0, got {values}")
    if any(b < a for a, b in zip(values, values[1:])):
        raise ValueError(f"prune thresholds must not decrease with the order (orders 3, 4, ...), got {values}")
    out = {n: values[min(n - 3, len(values) - 1)] for n in range(3, order + 1)}
    return {n: t for n, t in out.items() if t > 1}


def build_arpa(sentences: Iterable[str], order: int = 3, unit: str = "word", prune: PruneSpec = None) -> NgramLM:
    """Interpolated Kneser-Ney n-gram model of ``sentences``; ``prune`` drops rare n-grams of order >= 3
    and renormalizes (see the module docstring)."""
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    thresholds = prune_thresholds(prune, order)
    counts: Dict[int, Counter] = {n: Counter() for n in range(1, order + 1)}
    n_sentences = 0
    for text in sentences:
        units = text_to_units(text, unit)
        if not units:
            continue
        n_sentences += 1
        seq = [BOS] + units + [EOS]
        for n in range(1, order + 1):
            for i in range(len(seq) - n + 1):
                gram = tuple(seq[i:i + n])
                if gram == (BOS,):
                    continue
                counts[n][gram] += 1
    if n_sentences == 0:
        raise ValueError("no text to build a language model from (all sentences empty)")
    # KN counts: highest order keeps raw counts; lower orders use continuation counts
    # (distinct left contexts), except n-grams starting with <s>.
    kn: Dict[int, Counter] = {order: counts[order]}
    for n in range(order - 1, 0, -1):
        cont: Counter = Counter()
        for gram in counts[n + 1]:
            cont[gram[1:]] += 1
        kn[n] = Counter({g: (c if g[0] == BOS else cont.get(g, 0)) for g, c in counts[n].items()})
    discounts = {}
    for n in range(1, order + 1):
        n1 = sum(1 for c in kn[n].values() if c == 1)
        n2 = sum(1 for c in kn[n].values() if c == 2)
        discounts[n] = n1 / (n1 + 2 * n2) if n1 + n2 > 0 and n1 > 0 else 0.5
    # unigrams, interpolated with a uniform distribution over the vocabulary + <unk>
    vocab = sorted({g[0] for g in kn[1]})
    D1, total1 = discounts[1], sum(kn[1].values())
    uniform = 1.0 / (len(vocab) + 1)
    gamma1 = D1 * len(vocab) / total1
    probs: Dict[int, Dict[Tuple[str, ...], float]] = {1: {}}
    for w in vocab:
        probs[1][(w,)] = max(kn[1][(w,)] - D1, 0.0) / total1 + gamma1 * uniform
    probs[1][(UNK,)] = gamma1 * uniform
    # higher orders: p(w|h) = max(c(hw) - D, 0) / c(h) + gamma(h) p(w|h'), gamma(h) = D N1+(h.) / c(h)
    gammas: Dict[Tuple[str, ...], float] = {}
    for n in range(2, order + 1):
        ctx_total: Counter = Counter()
        ctx_types: Counter = Counter()
        for gram, c in kn[n].items():
            ctx_total[gram[:-1]] += c
            ctx_types[gram[:-1]] += 1
        D = discounts[n]
        for h, tot in ctx_total.items():
            gammas[h] = D * ctx_types[h] / tot
        probs[n] = {}
        for gram, c in kn[n].items():
            h = gram[:-1]
            lower = _interp(probs, gammas, gram[1:])
            probs[n][gram] = max(c - D, 0.0) / ctx_total[h] + gammas[h] * lower
    ngrams: Dict[int, Dict[Tuple[str, ...], Tuple[float, float]]] = {}
    if not thresholds:
        for n in range(1, order + 1):
            ngrams[n] = {}
            for gram, p in probs[n].items():
                backoff = math.log10(gammas[gram]) if gram in gammas else 0.0
                ngrams[n][gram] = (math.log10(p), backoff)
        ngrams[1][(BOS,)] = (-99.0, math.log10(gammas[(BOS,)]) if (BOS,) in gammas else 0.0)
        return NgramLM(ngrams, unit)
    # Pruned: keep the interpolated probabilities of the n-grams seen often enough (computed above from
    # the full counts), then give each context the back-off weight that renormalizes it.
    for n, t in thresholds.items():
        probs[n] = {g: p for g, p in probs[n].items() if counts[n][g] >= t}
    ngrams[1] = {g: (math.log10(p), 0.0) for g, p in probs[1].items()}
    ngrams[1][(BOS,)] = (-99.0, 0.0)
    for n in range(2, order + 1):
        ngrams[n] = {g: (math.log10(p), 0.0) for g, p in probs[n].items()}
        kept_p: Dict[Tuple[str, ...], float] = {}
        kept_lower: Dict[Tuple[str, ...], float] = {}
        for gram, p in probs[n].items():
            h = gram[:-1]
            kept_p[h] = kept_p.get(h, 0.0) + p
            # orders < n are final here (their probabilities and their contexts' back-off weights)
            kept_lower[h] = kept_lower.get(h, 0.0) + 10.0 ** _backoff_log10(ngrams, h[1:], gram[-1])
        for h, mass in kept_p.items():
            den = 1.0 - kept_lower[h]
            bow = max(1.0 - mass, 1e-12) / den if den > 1e-9 else 1.0
            prob, _ = ngrams[n - 1][h]
            ngrams[n - 1][h] = (prob, math.log10(bow))
    return NgramLM(ngrams, unit)


def _backoff_log10(ngrams: Dict[int, Dict[Tuple[str, ...], Tuple[float, float]]], context: Tuple[str, ...],
                   word: str) -> float:
    """log10 p(word | context) of the back-off model ``ngrams`` (as :meth:`NgramLM._log10`)."""
    backoff = 0.0
    for start in range(len(context) + 1):
        ctx = context[start:]
        entry = ngrams.get(len(ctx) + 1, {}).get(ctx + (word,))
        if entry is not None:
            return entry[0] + backoff
        ctx_entry = ngrams.get(len(ctx), {}).get(ctx) if ctx else None
        if ctx_entry is not None:
            backoff += ctx_entry[1]
    return backoff - 100.0


def _interp(probs, gammas, gram: Tuple[str, ...]) -> float:
    """Interpolated probability of ``gram`` from the orders already computed (backing off)."""
    n = len(gram)
    p = probs.get(n, {}).get(gram)
    if p is not None:
        return p
    if n == 1:
        return probs[1][(UNK,)]
    return gammas.get(gram[:-1], 1.0) * _interp(probs, gammas, gram[1:])
