"""CTC prefix beam search with n-gram shallow fusion, hotword boosting and N-best output.

The search (Graves 2012; Hannun et al. 2014, arXiv:1408.2873) keeps for every output prefix the
log-probability of the CTC paths that produce it and end in blank (``pb``) or in its last token
(``pnb``). Per frame, each of the ``beam_size`` prefixes is extended by blank and by the frame's
candidate tokens; equal prefixes merge. Prefixes are ranked by

    log(pb + pnb) + lm_weight * log P_lm(words so far) + word_bonus * #words + hotword bonus

Speed (pure Python + numpy; ``bench/decode_speed.py`` measures it):
- token pruning: a frame proposes at most ``prune_topk`` tokens, and only those with
  log-prob >= ``token_min_logprob`` (its best token always);
- blank skipping: a frame whose blank probability exceeds ``blank_threshold`` is treated as
  pure blank (every prefix's paths end in blank), and a run of such frames costs one pass;
- prefixes are integer ids in a trie (:class:`PrefixTrie`) that holds only the beam, the current
  frame's candidates and their ancestors, so a frame costs O(beam x candidates) however long the
  prefixes are (``bench/decode_speed.py --scaling``: CPU time per frame at 8000 frames within 1.2x
  of that at 1000; the tuple prefixes before were 2.5-4.7x);
- LM and hotword states are computed once per new candidate prefix and kept while it is in the beam.

LM fusion (:class:`~hypersp.decoding.ngram.NgramLM`): a ``word`` LM is applied when a word is
complete: when the space token is emitted (char/jamo tokenizers) or a token beginning with
"▁" starts the next word (sentencepiece); the word's text comes from ``decode_word(ids)``
(the tokenizer's ``decode``: jamo compose into syllables). The last word and ``</s>`` are scored
at the end. A ``char``/``jamo`` LM is applied to every token (the space token as ``<sp>``).

Partial-word LM score (``lm_partial_word_penalty``, a word LM only; after pyctcdecode's
``unk_score_offset``): while a word is incomplete, a prefix whose partial word (its text, as
jamo) is not the beginning of any word the LM knows (or of a hotword's word) gets the penalty
added to its ranking score, so hypotheses heading for an out-of-vocabulary word fall behind
before the word ends. Once the word completes the partial penalty is withdrawn and the word is
scored by the LM; a completed word that is not in the LM's vocabulary (nor a hotword's word)
keeps the penalty, so finishing a word early is no way around it. Units: natural log, added to
the ranking score as it is (not multiplied by ``lm_weight``); pyctcdecode's default is -10.
0 (the default) turns it off and leaves every score as before.

Hotwords: phrases are tokenized into id sequences kept in a prefix trie. A prefix that is
inside a match gets ``hotword_weight`` per matched token; if the match breaks off before the
phrase is complete, the bonus is retracted (also at the end of the utterance). Matches start
only at word starts.

Valid Hangul (``grammar``, :mod:`hypersp.decoding.grammar`): a candidate token that the grammar
forbids after a prefix (a vowel without its initial consonant, a compatibility jamo, ...) does not
extend that prefix, and at the end only prefixes in a final state (not ending in a bare initial
consonant) are returned. If none survived the beam, the result is the grammar-constrained best
path, scored like any prefix. :class:`CTCBeamDecoder` (registered as ``ctc_beam``) always uses
the tokenizer's grammar.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hypersp.config.schema import DecodingConfig
from hypersp.decoding.align import ctc_forward_score
from hypersp.decoding.base import Decoder, Hypothesis, IncrementalDecoding, as_log_probs
from hypersp.decoding.grammar import TokenGrammar, constrained_best_path
from hypersp.decoding.ngram import EOS, SPACE_UNIT, NgramLM, WordPrefixes, load_lm
from hypersp.registry import register_decoder
from hypersp.text.hangul import decompose

NEG_INF = float("-inf")


def _lse(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


@dataclass
class BeamHypothesis:
    tokens: List[int]
    score: float           # total ranking score (acoustic + weighted LM + bonuses)
    acoustic_score: float  # log P_ctc(tokens | audio)
    lm_score: float        # natural-log LM probability (unweighted; 0 without an LM)
    words: int             # number of words (as counted for word_bonus)


class HotwordTrie:
    """Prefix trie over token-id sequences. Node 0 is the root."""

    def __init__(self, phrases: Sequence[Sequence[int]]):
        self.children: List[Dict[int, int]] = [{}]
        self.terminal: List[bool] = [False]
        for ids in phrases:
            node = 0
            for t in ids:
                nxt = self.children[node].get(t)
                if nxt is None:
                    nxt = len(self.children)
                    self.children[node][t] = nxt
                    self.children.append({})
                    self.terminal.append(False)
                node = nxt
            if node:
                self.terminal[node] = True


class PrefixTrie:
    """The search's prefixes as integer ids in a trie: equal token sequences share one id, so merging
    and looking up prefixes costs O(1) whatever their length (tuples would be copied and re-hashed).

    ``nodes[id] = [parent_id, token, refs, state]``; ``child_of[parent_id * vocab_size + token] = id``.
    The table is bounded: it holds the beam's prefixes, this frame's new candidates and the ancestors
    of beam prefixes (token ids only, to spell the output and keep ids unique: a prefix whose parent is
    alive is always found through ``child_of``). ``refs`` counts live children plus one while in the
    beam; at zero a node is dropped, and its parent with it if that was the parent's last reference.
    A ``state`` (see ``CTCBeamSearch._initial_state``) is kept only while the prefix is in the beam or
    a candidate of the current frame; a prefix that comes back gets it recomputed from its parent's.
    """

    ROOT, PARENT, TOKEN, REFS, STATE = 0, 0, 1, 2, 3

    def __init__(self, vocab_size: int, root_state):
        self.vocab_size = int(vocab_size)
        self.nodes: Dict[int, list] = {self.ROOT: [-1, -1, 1, root_state]}  # the root starts in the beam
        self.child_of: Dict[int, int] = {}
        self._next = 1

    def add(self, parent: int, token: int) -> int:
        """A new child of ``parent`` (no state yet, not in the beam)."""
        nid = self._next
        self._next += 1
        self.nodes[nid] = [parent, token, 0, None]
        self.child_of[parent * self.vocab_size + token] = nid
        self.nodes[parent][self.REFS] += 1
        return nid

    def _unref(self, nid: int) -> None:
        while nid >= 0:
            rec = self.nodes[nid]
            rec[self.REFS] -= 1
            if rec[self.REFS] > 0:
                return
            del self.nodes[nid]
            parent = rec[self.PARENT]
            if parent >= 0:
                del self.child_of[parent * self.vocab_size + rec[self.TOKEN]]
            nid = parent

    def update_beam(self, old: Dict[int, Any], new: Dict[int, Any], fresh: Sequence[int]) -> None:
        """The beam moved from ``old`` to ``new`` ids; ``fresh``: ids whose state was computed this frame."""
        nodes, REFS, STATE = self.nodes, self.REFS, self.STATE
        for nid in new:
            if nid not in old:
                nodes[nid][REFS] += 1
        for nid in old:
            if nid not in new:
                nodes[nid][STATE] = None
                self._unref(nid)
        for nid in fresh:
            rec = nodes.get(nid)  # None: an ancestor already dropped with its last child above
            if rec is not None and nid not in new:
                rec[STATE] = None
                if rec[REFS] == 0:  # a candidate that lost and has no children: drop it
                    rec[REFS] = 1
                    self._unref(nid)

    def tokens(self, nid: int) -> List[int]:
        """The token ids of prefix ``nid``, first to last."""
        out = []
        while nid != self.ROOT:
            rec = self.nodes[nid]
            out.append(rec[self.TOKEN])
            nid = rec[self.PARENT]
        return out[::-1]

    def __len__(self) -> int:
        return len(self.nodes)


class CTCBeamSearch:
    """Decoder object; call it on ``(B, T, V)`` log-probs.

    tokens:       the tokenizer's symbols (index = id; 0 is the blank, " " the word boundary, a
                  leading "▁" starts a word).
    decode_word:  ids of one word -> its text, for the word LM (default: join the symbols).
    hotwords:     phrases as token-id lists (e.g. ``[tokenizer.encode(w) for w in words]``).
    grammar:      a :class:`~hypersp.decoding.grammar.TokenGrammar` that hypotheses must obey
                  (``None``: no constraint).
    lm_partial_word_penalty: see the module docstring (word LMs only; 0 = off).
    """

    def __init__(
        self,
        tokens: Sequence[str],
        beam_size: int = 16,
        prune_topk: int = 10,
        token_min_logprob: float = -5.0,
        blank_threshold: float = 0.999,
        lm: Optional[NgramLM] = None,
        lm_weight: float = 0.5,
        word_bonus: float = 0.0,
        hotwords: Sequence[Sequence[int]] = (),
        hotword_weight: float = 2.0,
        nbest: int = 1,
        decode_word: Optional[Callable[[List[int]], str]] = None,
        blank_id: int = 0,
        grammar: Optional[TokenGrammar] = None,
        lm_partial_word_penalty: float = 0.0,
    ):
        if beam_size < 1 or nbest < 1:
            raise ValueError(f"beam_size ({beam_size}) and nbest ({nbest}) must be >= 1")
        if not 0.0 < blank_threshold <= 1.0:
            raise ValueError(f"blank_threshold={blank_threshold} must be within (0, 1]; 1 disables blank skipping")
        self.tokens = list(tokens)
        self.beam_size, self.nbest = int(beam_size), int(nbest)
        self.prune_topk = max(1, min(int(prune_topk), len(self.tokens)))
        self.token_min_logprob = float(token_min_logprob)
        self.log_blank_threshold = math.log(blank_threshold) if blank_threshold < 1.0 else 0.0
        self.blank_id = blank_id
        self.lm, self.lm_weight, self.word_bonus = lm, float(lm_weight), float(word_bonus)
        self.hot = HotwordTrie([list(h) for h in hotwords if len(h)]) if hotwords else None
        self.hotword_weight = float(hotword_weight)
        # token classes: 1 = word boundary (space), 2 = starts a word ("▁..."), 0 = inside a word
        self.kind = [1 if t == " " else 2 if t.startswith("\u2581") else 0 for t in self.tokens]
        self.kind[blank_id] = 0
        self.decode_word = decode_word or (lambda ids: "".join(self.tokens[i] for i in ids).replace("\u2581", ""))
        self.token_lm = lm is not None and lm.unit != "word"
        if self.token_lm:
            self.lm_units = [SPACE_UNIT if t == " " else t for t in self.tokens]
            known = sum(1 for u in self.lm_units[1:] if u in lm.vocab)
            if known == 0:
                raise ValueError(f"the {lm.unit}-level LM knows none of the tokenizer's symbols; build it with the unit "
                                 "that matches the tokenizer (--unit char for char, --unit jamo for jamo)")
        self.grammar = grammar
        if grammar is not None and len(grammar.tokens) != len(self.tokens):
            raise ValueError(f"the grammar covers {len(grammar.tokens)} tokens, the vocabulary has {len(self.tokens)}")
        # partial-word penalty: only with a word LM
        self.penalty = float(lm_partial_word_penalty) if (lm is not None and not self.token_lm) else 0.0
        if self.penalty > 0:
            raise ValueError(f"lm_partial_word_penalty={lm_partial_word_penalty} must be <= 0 (a log-probability offset)")
        if self.penalty:
            hot_words = set()
            for ids in hotwords:
                hot_words.update(self.decode_word(list(ids)).split())
            self.known_words = set(lm.vocab) | hot_words
            self.lm_prefixes = lm.word_prefixes()
            self.hot_prefixes = WordPrefixes(hot_words) if hot_words else None
            self.unit_text = [decompose(t.replace("\u2581", "")) for t in self.tokens]

    # ---- per-prefix state ----------------------------------------------------------------
    # A state describes one prefix completely for scoring and extension (no token sequence needed):
    # (lm_state, lm_score, n_words, word, hot_node, hot_partial, hot_total, extra, grammar_state,
    #  partial_word_text, unknown_words, last_token)
    # ``word``: ids of the current (incomplete) word; ``extra`` (index 7) the ranking bonus;
    # ``last_token`` -1 for the empty prefix.
    EXTRA, GRAMMAR = 7, 8

    def _initial_state(self):
        lm_state = self.lm.begin_state() if self.lm is not None else None
        g = self.grammar.start if self.grammar is not None else 0
        return (lm_state, 0.0, 0, (), 0, 0.0, 0.0, 0.0, g, "", 0, -1)

    def _is_word_prefix(self, text: str) -> bool:
        return text in self.lm_prefixes or (self.hot_prefixes is not None and text in self.hot_prefixes)

    def _extend(self, state, c: int):
        """State of ``prefix + (c,)`` from the state of ``prefix``; O(word length), not O(prefix length)."""
        lm_state, lm_score, n_words, word, node, partial, total, _, g, part_text, unknown, last = state
        kind = self.kind[c]
        if self.grammar is not None:
            g = self.grammar.step(g, c)
        if self.lm is not None and self.token_lm:
            lp, lm_state = self.lm.score(lm_state, self.lm_units[c])
            lm_score += lp
        if kind:  # the word before this token is complete
            if word:
                if self.lm is not None and not self.token_lm:
                    text = self.decode_word(list(word))
                    lp, lm_state = self.lm.score(lm_state, text)
                    lm_score += lp
                    if self.penalty and text not in self.known_words:
                        unknown += 1
                n_words += 1
            word = ()  # a space is no part of a word; a "▁" token starts the next one (below)
            part_text = ""
        if kind != 1:
            word = word + (c,)
            if self.penalty:
                part_text += self.unit_text[c]
        if self.hot is not None:
            child = self.hot.children[node].get(c) if node else None
            if child is None:
                partial, node = 0.0, 0  # the match broke off: retract its bonus
                at_word_start = last < 0 or self.kind[last] == 1 or kind == 2
                child = self.hot.children[0].get(c) if at_word_start else None
            if child is not None:
                partial += self.hotword_weight
                node = child
                if self.hot.terminal[child]:
                    total, partial = total + partial, 0.0
                    if not self.hot.children[child]:
                        node = 0
        extra = self.lm_weight * lm_score + self.word_bonus * n_words + total + partial
        if self.penalty:
            bad_partial = 1 if part_text and not self._is_word_prefix(part_text) else 0
            extra += self.penalty * (unknown + bad_partial)
        return (lm_state, lm_score, n_words, word, node, partial, total, extra, g, part_text, unknown, c)

    def _final(self, state) -> Tuple[float, float, int]:
        """(extra score, lm score, words) once the utterance is over: last word, </s>, no partial hotword."""
        lm_state, lm_score, n_words, word, _, _, total, _, _, _, unknown, _ = state
        if word:
            if self.lm is not None and not self.token_lm:
                text = self.decode_word(list(word))
                lp, lm_state = self.lm.score(lm_state, text)
                lm_score += lp
                if self.penalty and text not in self.known_words:
                    unknown += 1
            n_words += 1
        if self.lm is not None:
            lm_score += self.lm.score(lm_state, EOS)[0]
        extra = self.lm_weight * lm_score + self.word_bonus * n_words + total + self.penalty * unknown
        return extra, lm_score, n_words

    def _state_of(self, ids: Sequence[int]):
        state = self._initial_state()
        for c in ids:
            state = self._extend(state, int(c))
        return state

    # ---- search --------------------------------------------------------------------------
    def candidates(self, lp: np.ndarray) -> Tuple[np.ndarray, List[List[Tuple[int, float]]]]:
        """Per frame: whether it is skipped (blank-dominated), and its (token, log-prob) candidates."""
        lp = np.asarray(lp, dtype=np.float32)
        T, V = lp.shape
        skip = lp[:, self.blank_id] > self.log_blank_threshold if self.log_blank_threshold < 0 else np.zeros(T, bool)
        masked = lp.copy()
        masked[:, self.blank_id] = NEG_INF
        k = self.prune_topk
        if k < V:
            idx = np.argpartition(-masked, k - 1, axis=1)[:, :k]
        else:
            idx = np.broadcast_to(np.arange(V), (T, V))
        vals = np.take_along_axis(masked, idx, axis=1)
        keep = (vals >= self.token_min_logprob) | (vals >= vals.max(axis=1, keepdims=True))
        keep &= np.isfinite(vals)
        cands = []
        for row_i, row_v, row_k, s in zip(idx.tolist(), vals.tolist(), keep.tolist(), skip.tolist()):
            cands.append([] if s else [(c, v) for c, v, ok in zip(row_i, row_v, row_k) if ok])
        return skip, cands

    def decode_one(self, log_probs: np.ndarray) -> List[BeamHypothesis]:
        """log_probs (T, V) log-softmax of one utterance (valid frames only) -> N-best, best first.

        Cost per searched frame is O(beam_size x candidates), independent of the prefix lengths:
        prefixes are integer ids in a :class:`PrefixTrie` (see there for what it keeps)."""
        run = self.start()
        run.advance(log_probs)
        return run.finish()

    def start(self) -> "BeamRun":
        """A search fed frame by frame (a live stream's final decoded while it is spoken): see :class:`BeamRun`."""
        return BeamRun(self)

    def __call__(self, log_probs, lengths=None) -> List[List[BeamHypothesis]]:
        """log_probs (B, T, V) tensor or array of log-softmax scores; lengths (B,) valid frames."""
        arr = log_probs.detach().float().cpu().numpy() if hasattr(log_probs, "detach") else np.asarray(log_probs)
        if arr.ndim != 3:
            raise ValueError(f"expected log_probs (B, T, V), got shape {arr.shape}")
        lens = [arr.shape[1]] * arr.shape[0] if lengths is None else [int(n) for n in lengths]
        return [self.decode_one(arr[b, :lens[b]]) for b in range(arr.shape[0])]

    def decode_ids(self, log_probs, lengths=None) -> List[List[int]]:
        """Best token ids per utterance (the same output shape as ``greedy_ctc_decode``)."""
        return [nb[0].tokens if nb else [] for nb in self(log_probs, lengths)]


class BeamRun:
    """One utterance's prefix beam search in progress: ``advance(lp)`` with its next frames ``(T_i, V)``
    (log-softmax, any number of calls, any sizes), then ``finish()`` -> N-best, best first.

    The search is frame-synchronous and prunes each frame by that frame alone, so the result equals
    :meth:`CTCBeamSearch.decode_one` of all frames at once (up to float rounding where a run of skipped
    blank frames is split between two calls). A live stream feeds its final frames as the model makes
    them, so at the end of an utterance only the last frames are left to search."""

    def __init__(self, search: CTCBeamSearch):
        self.search = search
        self.trie: Optional[PrefixTrie] = None  # made at the first frames (their width is the vocabulary)
        self.beams: Dict[int, Tuple[float, float]] = {PrefixTrie.ROOT: (0.0, NEG_INF)}
        self.parts: List[np.ndarray] = []  # every frame fed (the grammar fallback of finish() needs them)
        self.frames = 0
        # The trailing run of skipped (blank) frames: the beam before it and the blank log-prob sums of its first
        # 1, 2, ... frames. Within it the beam's prefixes do not change, so the search can end at any of its frames
        # (a live utterance is cut in the silence before the newest frames: finish(frames)).
        self._run_from: Optional[Dict[int, Tuple[float, float]]] = None
        self._run_sums: List[float] = []

    def advance(self, log_probs: np.ndarray) -> None:
        log_probs = np.asarray(log_probs, dtype=np.float32)
        if log_probs.ndim != 2:
            raise ValueError(f"expected log_probs (T, V), got shape {log_probs.shape}")
        if self.trie is None:
            self.trie = PrefixTrie(log_probs.shape[1], self.search._initial_state())
        if not log_probs.shape[0]:
            return
        self.parts.append(log_probs)
        self.frames += log_probs.shape[0]
        search, trie, beams = self.search, self.trie, self.beams
        skip, cands = search.candidates(log_probs)
        blank_lp = log_probs[:, search.blank_id].astype(np.float64).tolist()
        nodes, child_of = trie.nodes, trie.child_of
        beam_size, extend, lse, EXTRA, GRAMMAR = search.beam_size, search._extend, _lse, search.EXTRA, search.GRAMMAR
        rows = search.grammar._rows if search.grammar is not None else None
        T = len(blank_lp)
        t = 0
        while t < T:
            if skip[t]:  # a run of blank frames: every path ends in blank
                if self._run_from is None:
                    self._run_from, self._run_sums = beams, []
                run = self._run_sums[-1] if self._run_sums else 0.0
                while t < T and skip[t]:
                    run += blank_lp[t]
                    self._run_sums.append(run)
                    t += 1
                beams = self._after_blank_run(run)
                continue
            self._run_from = None
            frame, lb = cands[t], blank_lp[t]
            nxt: Dict[int, List[float]] = {}
            fresh: List[int] = []  # ids whose state was computed in this frame
            for pid, (pb, pnb) in beams.items():
                total = lse(pb, pnb)
                entry = nxt.get(pid)
                if entry is None:
                    nxt[pid] = entry = [NEG_INF, NEG_INF]
                entry[0] = lse(entry[0], total + lb)
                state = nodes[pid][PrefixTrie.STATE]
                last = state[-1]
                legal = rows[state[GRAMMAR]] if rows is not None else None
                for c, lpc in frame:
                    if c == last:
                        entry[1] = lse(entry[1], pnb + lpc)  # repeat collapses into the same prefix
                        if pb == NEG_INF:
                            continue
                        add = pb + lpc  # a blank separated them: a new token
                    else:
                        add = total + lpc
                    if legal is not None and legal[c] < 0:
                        continue  # the grammar forbids this token after this prefix
                    cid = child_of.get(pid * trie.vocab_size + c)
                    if cid is None:
                        cid = trie.add(pid, c)
                    e = nxt.get(cid)
                    if e is None:
                        nxt[cid] = [NEG_INF, add]
                        rec = nodes[cid]
                        if rec[PrefixTrie.STATE] is None:
                            rec[PrefixTrie.STATE] = extend(state, c)
                            fresh.append(cid)
                    else:
                        e[1] = lse(e[1], add)
            if len(nxt) > beam_size:
                best = heapq.nlargest(beam_size, nxt.items(),
                                      key=lambda kv: lse(kv[1][0], kv[1][1]) + nodes[kv[0]][PrefixTrie.STATE][EXTRA])
            else:
                best = nxt.items()
            new_beams = {p: (v[0], v[1]) for p, v in best}
            trie.update_beam(beams, new_beams, fresh)
            beams = new_beams
            t += 1
        self.beams = beams

    def _after_blank_run(self, run: float) -> Dict[int, Tuple[float, float]]:
        """The beam after frames of the trailing blank run whose blank log-probs sum to ``run``: every path of the
        beam before the run, ending in blank."""
        return {p: (_lse(pb, pnb) + run, NEG_INF) for p, (pb, pnb) in self._run_from.items()}

    def can_end_at(self, frames: int) -> bool:
        """Whether :meth:`finish` can end the search after its first ``frames`` frames: any frame from the
        start of the trailing run of skipped blank frames to the last one fed."""
        return self.frames - (len(self._run_sums) if self._run_from is not None else 0) <= frames <= self.frames

    def finish(self, frames: Optional[int] = None) -> List[BeamHypothesis]:
        """The N-best as if the utterance ended after its first ``frames`` frames (default: all fed; see
        :meth:`can_end_at`); the run is not changed."""
        search = self.search
        if self.trie is None:  # no frames: the empty prefix
            self.trie = PrefixTrie(len(search.tokens), search._initial_state())
        beams = self.beams
        if frames is not None and frames != self.frames:
            if not self.can_end_at(frames):
                raise ValueError(f"this search cannot end at frame {frames}: {self.frames} fed, "
                                 f"{len(self._run_sums) if self._run_from is not None else 0} of them a blank run")
            kept = frames - (self.frames - len(self._run_sums))  # frames of the blank run before the end
            beams = self._after_blank_run(self._run_sums[kept - 1]) if kept else self._run_from
        trie, hyps = self.trie, []
        for pid, (pb, pnb) in beams.items():
            state = trie.nodes[pid][PrefixTrie.STATE]
            if search.grammar is not None and not search.grammar.is_final(state[search.GRAMMAR]):
                continue  # ends in a bare initial consonant
            am = _lse(pb, pnb)
            extra, lm_score, words = search._final(state)
            hyps.append(BeamHypothesis(trie.tokens(pid), am + extra, am, lm_score, words))
        if not hyps:  # no valid prefix survived the beam: the grammar-constrained best path
            log_probs = np.concatenate(self.parts)[:frames] if self.parts else \
                np.zeros((0, len(search.tokens)), np.float32)
            ids, _ = constrained_best_path(log_probs, search.grammar, search.blank_id)
            am = ctc_forward_score(log_probs, ids, search.blank_id) if log_probs.shape[0] else 0.0
            extra, lm_score, words = search._final(search._state_of(ids))
            hyps.append(BeamHypothesis(ids, am + extra, am, lm_score, words))
        hyps.sort(key=lambda h: h.score, reverse=True)
        return hyps[:search.nbest]


def ctc_beam_decoder_for(tokenizer, beam_size: int = 16, lm_path: str = "", lm_weight: float = 0.5,
                         word_bonus: float = 0.0, hotwords: Sequence[str] = (), hotword_weight: float = 2.0,
                         nbest: int = 1, **kw) -> CTCBeamSearch:
    """A :class:`CTCBeamSearch` set up from a tokenizer (symbols, word decoding, hotword encoding,
    the tokenizer's Hangul grammar). Kept for older callers; new code builds the registered decoder
    with :func:`hypersp.decoding.build_decoder` from a ``DecodingConfig``."""
    from hypersp.decoding.grammar import token_grammar

    lm = load_lm(lm_path) if lm_path else None
    phrases = [tokenizer.encode(h) for h in hotwords if h.strip()]
    kw.setdefault("grammar", token_grammar(tokenizer.tokens, blank_id=int(getattr(tokenizer, "blank_id", 0))))
    return CTCBeamSearch(tokenizer.tokens, beam_size=beam_size, lm=lm, lm_weight=lm_weight, word_bonus=word_bonus,
                         hotwords=phrases, hotword_weight=hotword_weight, nbest=nbest,
                         decode_word=lambda ids: tokenizer.decode(ids), **kw)


@register_decoder("ctc_beam", config=DecodingConfig)
class CTCBeamDecoder(Decoder):
    """CTC prefix beam search (:class:`CTCBeamSearch`) configured by ``DecodingConfig``: ``beam_size``,
    ``nbest``, ``lm_path`` / ``lm_weight`` / ``word_bonus`` / ``lm_partial_word_penalty``, ``hotwords`` /
    ``hotword_weight``, ``prune_topk`` / ``token_min_logprob`` / ``blank_threshold``; always with the
    tokenizer's Hangul grammar. The LM file is read once per process (:func:`load_lm` caches it), so
    building a decoder per request (e.g. with a client's hotwords) is cheap."""

    def __init__(self, cfg, *, tokenizer, model=None):
        super().__init__(cfg, tokenizer=tokenizer, model=model)
        c = self.cfg
        lm = load_lm(c.lm_path) if c.lm_path else None
        phrases = [tokenizer.encode(h) for h in c.hotwords if str(h).strip()]
        self.search = CTCBeamSearch(
            tokenizer.tokens, beam_size=c.beam_size, prune_topk=c.prune_topk, token_min_logprob=c.token_min_logprob,
            blank_threshold=c.blank_threshold, lm=lm, lm_weight=c.lm_weight, word_bonus=c.word_bonus,
            hotwords=phrases, hotword_weight=c.hotword_weight, nbest=c.nbest, decode_word=tokenizer.decode,
            blank_id=self.blank_id, grammar=self.grammar, lm_partial_word_penalty=c.lm_partial_word_penalty,
        )

    def decode(self, log_probs) -> List[Hypothesis]:
        return _hypotheses(self.search.decode_one(as_log_probs(log_probs)))

    def incremental(self) -> "IncrementalBeamDecoding":
        """The search runs as frames arrive (:class:`BeamRun`); ``finish`` only ranks the final beam."""
        return IncrementalBeamDecoding(self)


def _hypotheses(found: List[BeamHypothesis]) -> List[Hypothesis]:
    return [Hypothesis(ids=h.tokens, score=h.score, acoustic_score=h.acoustic_score, lm_score=h.lm_score)
            for h in found]


class IncrementalBeamDecoding(IncrementalDecoding):
    """:meth:`CTCBeamDecoder.incremental`: the same interface as the base, with the search done in ``advance``
    (``peek``, a partial, is the base's search from the start: live partials are greedy)."""

    def __init__(self, decoder: CTCBeamDecoder):
        self.decoder = decoder
        self.run = decoder.search.start()

    @property
    def parts(self) -> List[np.ndarray]:
        return self.run.parts

    @property
    def frames(self) -> int:
        return self.run.frames

    def advance(self, log_probs) -> None:
        self.run.advance(as_log_probs(log_probs))

    def finish(self) -> List[Hypothesis]:
        return _hypotheses(self.run.finish())

    def finish_at(self, frames: int) -> Optional[List[Hypothesis]]:
        """Ends within the trailing run of blank frames without searching again (:meth:`BeamRun.can_end_at`)."""
        return _hypotheses(self.run.finish(frames)) if self.run.can_end_at(frames) else None
