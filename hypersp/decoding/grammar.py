"""Which token sequences compose into valid Hangul: a finite-state grammar over token ids.

hypersp promises that decoded text never contains a bare jamo: no conjoining jamo
(U+1100..U+11FF) and no compatibility jamo (U+3130..U+318F) outside a composed syllable. The
decoders keep that promise *during* the search (a hypothesis that cannot compose is never
extended, or never allowed to finish), never by deleting characters afterwards.

The grammar is a finite-state machine over the characters of the decoded text, applied token by
token (a token's symbol is run through it character by character; the blank, id 0, is not a
token and changes nothing). States::

    BOUNDARY  start of the text, after a space or any non-jamo character (a syllable, a digit, "▁")
    LEAD      after a choseong (initial consonant, U+1100..U+1112)
    VOWEL     after a jungseong (vowel, U+1161..U+1175)
    TAIL      after a jongseong (final consonant, U+11A8..U+11C2)

    BOUNDARY -> choseong: LEAD | boundary character: BOUNDARY
    LEAD     -> jungseong: VOWEL                        (nothing else: a choseong needs its vowel)
    VOWEL    -> jongseong: TAIL | choseong: LEAD | boundary character: BOUNDARY
    TAIL     -> choseong: LEAD | boundary character: BOUNDARY

Final states (where the text may end): BOUNDARY, VOWEL, TAIL: never right after a bare choseong.
Every other character of the jamo blocks (compatibility jamo such as "ㅋ", archaic or filler
conjoining jamo, Hangul Jamo Extended-A/B, halfwidth jamo) has no transition at all, so a token
containing one is never allowed. These are exactly the sequences that
:func:`hypersp.text.hangul.compose` turns into syllables without leftovers.

For the jamo tokenizer every token is a single jamo (or a space / an extra character), so the
grammar is the four-state machine above. For a char or sentencepiece vocabulary without jamo
tokens :func:`token_grammar` returns ``None`` and decoding costs nothing extra; a vocabulary with a
few jamo-bearing tokens (a char tokenizer fitted on "ㅋㅋ") gets a grammar that forbids them.

Use: ``grammar.step(state, token)`` (the next state, or ``-1`` if the token is illegal there),
``grammar.allowed[state]`` (a boolean mask over token ids), ``grammar.is_final(state)``,
``grammar.accepts(ids)`` and :func:`constrained_best_path` (the best CTC path whose output the
grammar accepts; the greedy decoder's repair rule).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from hypersp.text.hangul import is_choseong, is_jongseong, is_jungseong

BOUNDARY, LEAD, VOWEL, TAIL = 0, 1, 2, 3
STATE_NAMES = ("boundary", "lead", "vowel", "tail")
FINAL_STATES = (BOUNDARY, VOWEL, TAIL)
ILLEGAL = -1

# Character classes: 0 boundary (any non-jamo character), 1 choseong, 2 jungseong, 3 jongseong,
# 4 forbidden (any other jamo: compatibility, archaic, extended, halfwidth).
_CLASS_BOUNDARY, _CLASS_CHO, _CLASS_JUNG, _CLASS_JONG, _CLASS_FORBIDDEN = range(5)
# _CHAR_STEP[state][class] -> next state
_CHAR_STEP = (
    (BOUNDARY, LEAD, ILLEGAL, ILLEGAL, ILLEGAL),   # BOUNDARY
    (ILLEGAL, ILLEGAL, VOWEL, ILLEGAL, ILLEGAL),   # LEAD
    (BOUNDARY, LEAD, ILLEGAL, TAIL, ILLEGAL),      # VOWEL
    (BOUNDARY, LEAD, ILLEGAL, ILLEGAL, ILLEGAL),   # TAIL
)
_JAMO_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo (conjoining)
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xD7B0, 0xD7FF),  # Hangul Jamo Extended-B
    (0xFFA0, 0xFFDC),  # halfwidth Hangul jamo
)


def is_jamo_char(ch: str) -> bool:
    """Whether ``ch`` is any kind of jamo (conjoining, compatibility, extended or halfwidth)."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _JAMO_RANGES)


def char_class(ch: str) -> int:
    if is_choseong(ch):
        return _CLASS_CHO
    if is_jungseong(ch):
        return _CLASS_JUNG
    if is_jongseong(ch):
        return _CLASS_JONG
    return _CLASS_FORBIDDEN if is_jamo_char(ch) else _CLASS_BOUNDARY


def has_bare_jamo(text: str) -> bool:
    """Whether ``text`` contains a jamo character (composed syllables are not jamo characters)."""
    return any(is_jamo_char(c) for c in text)


class TokenGrammar:
    """The grammar's transition table over token ids (see the module docstring).

    ``table``: int array (S, V): next state after token v in state s, or -1 (illegal). Column 0
    (the blank) keeps the state. ``allowed``: bool (S, V) = ``table >= 0``. ``final``: bool (S,).
    ``dest``: int (V,): the state after token v wherever it is legal (-1: never legal).
    ``start`` is the state at the beginning of an utterance. Only states reachable from the start
    and from which a final state can be reached are kept (no dead ends: every legal prefix can be
    completed), so S is 4 for the jamo tokenizer and 1 for a vocabulary whose jamo tokens can never
    compose (a char vocabulary with "ㅋ" or a lone choseong).
    """

    def __init__(self, tokens: Sequence[str], blank_id: int = 0):
        self.tokens = list(tokens)
        self.blank_id = blank_id
        V = len(self.tokens)
        full = np.full((4, V), ILLEGAL, dtype=np.int64)
        for v, symbol in enumerate(self.tokens):
            for s in range(4):
                full[s, v] = s if v == blank_id else _run(s, symbol)
        # Drop dead ends: a state from which no final state can be reached (e.g. "lead" when the
        # vocabulary has a choseong but no jungseong) is illegal to enter.
        live = set(FINAL_STATES)
        grew = True
        while grew:
            grew = False
            for s in range(4):
                if s not in live and any(int(n) in live for n in full[s]):
                    live.add(s)
                    grew = True
        full[~np.isin(full, sorted(live))] = ILLEGAL
        # keep the states reachable from BOUNDARY, renumbered in order
        reach, todo = [BOUNDARY], [BOUNDARY]
        while todo:
            s = todo.pop()
            for n in set(full[s].tolist()):
                if n >= 0 and n not in reach:
                    reach.append(n)
                    todo.append(n)
        reach.sort()
        index = {s: i for i, s in enumerate(reach)}
        self.state_names = [STATE_NAMES[s] for s in reach]
        self.table = np.array([[index.get(int(n), ILLEGAL) if n >= 0 else ILLEGAL for n in full[s]] for s in reach],
                              dtype=np.int64).reshape(len(reach), V)
        self.allowed = self.table >= 0
        # The state after a token depends only on the token (a character's class decides the next
        # state), so ``dest[v]`` is well defined: -1 for a token that is never legal.
        self.dest = np.full(V, ILLEGAL, dtype=np.int64)
        for v in range(V):
            targets = set(self.table[:, v][self.table[:, v] >= 0].tolist())
            if v != blank_id and targets:
                assert len(targets) == 1, (v, targets)
                self.dest[v] = targets.pop()
        self.final = np.array([s in FINAL_STATES for s in reach], dtype=bool)
        self.start = index[BOUNDARY]
        self.num_states = len(reach)
        self._rows: List[List[int]] = self.table.tolist()  # fast Python lookups for the beam search
        self._final: List[bool] = self.final.tolist()

    def step(self, state: int, token: int) -> int:
        """The state after ``token`` (a blank keeps the state), or -1 if it is illegal in ``state``."""
        return self._rows[state][token]

    def is_final(self, state: int) -> bool:
        return self._final[state]

    def walk(self, ids: Sequence[int], state: Optional[int] = None) -> int:
        """The state after ``ids`` from ``state`` (default: the start), -1 once a token is illegal."""
        s = self.start if state is None else state
        for t in ids:
            s = self._rows[s][int(t)]
            if s < 0:
                return ILLEGAL
        return s

    def accepts(self, ids: Sequence[int]) -> bool:
        """Whether ``ids`` is a complete legal output (every step legal, ending in a final state)."""
        s = self.walk(ids)
        return s >= 0 and self._final[s]

    def __repr__(self) -> str:
        banned = int((~self.allowed).all(axis=0).sum())
        return f"TokenGrammar(states={self.state_names}, vocab={len(self.tokens)}, never_allowed={banned})"


def _run(state: int, symbol: str) -> int:
    for ch in symbol:
        state = _CHAR_STEP[state][char_class(ch)]
        if state < 0:
            return ILLEGAL
    return state


def token_grammar(tokens: Sequence[str], blank_id: int = 0) -> Optional[TokenGrammar]:
    """The grammar for a vocabulary, or ``None`` when no token contains a jamo character (then
    every sequence composes and decoders skip all checks)."""
    if not any(has_bare_jamo(t) for i, t in enumerate(tokens) if i != blank_id):
        return None
    return TokenGrammar(tokens, blank_id=blank_id)


def constrained_best_path(log_probs: np.ndarray, grammar: TokenGrammar, blank_id: int = 0) -> Tuple[List[int], float]:
    """The most probable CTC path (frame labels) whose collapsed output the grammar accepts.

    Viterbi over frames with states (frame label, grammar state): a blank keeps the grammar state,
    a repeat of the previous frame's label continues the same token, any other label emits a
    token and must be legal in the current grammar state; the path must end in a final state
    (the all-blank path always does, so a result always exists). ``log_probs``: (T, V) natural-log
    posteriors. Returns (token ids, blanks removed and repeats collapsed; the path's log-prob).

    The state after a token depends only on the token (``grammar.dest``), so the search keeps
    V - 1 label states plus one blank state per grammar state: O(T * S * V) numpy work per
    utterance (about 30 us per frame for the jamo vocabulary). :class:`ConstrainedPath` runs the same
    search frame by frame.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.shape[0] == 0:
        return [], 0.0
    return ConstrainedPath(grammar, lp.shape[1], blank_id).best(lp)


class ConstrainedPath:
    """:func:`constrained_best_path` over a growing utterance (a live stream's partials): ``advance(lp)``
    adds frames that will not change; ``best(tail)`` is the constrained best path of those frames plus
    ``tail`` (frames that may still change), searching only ``tail`` again. Frames given to ``advance``
    are searched lazily, the first time ``best`` needs them."""

    def __init__(self, grammar: TokenGrammar, vocab_size: int, blank_id: int = 0):
        V, S = int(vocab_size), grammar.num_states
        self.grammar, self.V, self.S, self.blank_id = grammar, V, S, blank_id
        dest = grammar.dest.copy()                       # (V,) state after each token, -1 if never legal
        dest[blank_id] = -1
        self.dest = dest
        # combined states: index v < V is "label v" (in grammar state dest[v]); V + g is "blank in state g"
        self.group = np.concatenate([dest, np.arange(S)])  # grammar state of each combined state
        self.member = self.group[None, :] == np.arange(S)[:, None]  # (S, N)
        legal = grammar.allowed.copy()                   # (S, V): may token v be emitted from state g
        legal[:, blank_id] = False
        self.legal = legal
        self.x = np.full(V + S, -np.inf)
        self.x[V + grammar.start] = 0.0  # before the first frame: "after a blank" in the start state
        self.back: List[np.ndarray] = []  # (T_i, N) back pointers of the frames searched so far
        self.pending: List[np.ndarray] = []  # committed frames not searched yet

    def advance(self, log_probs: np.ndarray) -> None:
        lp = np.asarray(log_probs, dtype=np.float64)
        if lp.shape[0]:
            self.pending.append(lp)

    def _search(self, x: np.ndarray, lp: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Viterbi from scores ``x`` (N,) over frames ``lp`` (T, V) -> (new scores, back pointers (T, N))."""
        V, S, blank_id, neg = self.V, self.S, self.blank_id, -np.inf
        member, legal, dest = self.member, self.legal, self.dest
        label_ids, rows = np.arange(V), np.arange(S)
        back = np.zeros((lp.shape[0], V + S), dtype=np.int32)
        for t in range(lp.shape[0]):
            by_state = np.where(member, x[None, :], neg)             # (S, N)
            arg1 = by_state.argmax(axis=1)
            best1 = by_state[rows, arg1]
            by_state[rows, arg1] = neg
            arg2 = by_state.argmax(axis=1)
            best2 = by_state[rows, arg2]
            # emitting label v from state g: the best predecessor in g other than label v itself
            own = arg1[:, None] == label_ids[None, :]                # (S, V)
            val = np.where(legal, np.where(own, best2[:, None], best1[:, None]), neg)
            src_state = val.argmax(axis=0)                           # (V,)
            emit = val[src_state, label_ids]
            emit_from = np.where(own[src_state, label_ids], arg2[src_state], arg1[src_state])
            stay = x[:V]                                             # the same label again: no new token
            use_stay = stay >= emit
            new = np.empty(V + S)
            new[:V] = np.where(use_stay, stay, emit) + lp[t]
            back[t, :V] = np.where(use_stay, label_ids, emit_from)
            new[V:] = best1 + lp[t, blank_id]                        # a blank after anything in state g
            back[t, V:] = arg1
            new[:V][dest < 0] = neg
            x = new
        return x, back

    def best(self, tail: Optional[np.ndarray] = None) -> Tuple[List[int], float]:
        """(token ids, log-prob) of the constrained best path over the committed frames plus ``tail``."""
        for lp in self.pending:
            self.x, back = self._search(self.x, lp)
            self.back.append(back)
        self.pending = []
        x, backs = self.x, self.back
        if tail is not None and np.shape(tail)[0]:
            x, back = self._search(x, np.asarray(tail, dtype=np.float64))
            backs = backs + [back]
        if not backs:
            return [], 0.0
        neg = -np.inf
        final = self.grammar.final[self.group.clip(min=0)] & (self.group >= 0)
        ends = np.where(final, x, neg)
        idx = int(ends.argmax())
        total = float(ends[idx])
        labels = []
        for back in reversed(backs):
            for t in range(back.shape[0] - 1, -1, -1):
                labels.append(idx if idx < self.V else self.blank_id)
                idx = int(back[t, idx])
        labels.reverse()
        return collapse(labels, self.blank_id), total


def collapse(labels: Sequence[int], blank_id: int = 0) -> List[int]:
    """CTC collapse of a frame-label path: merge repeats, drop blanks."""
    out, prev = [], None
    for lab in labels:
        if lab != blank_id and lab != prev:
            out.append(int(lab))
        prev = lab
    return out
