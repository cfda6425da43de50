"""CTCBeamSearch (integer prefix ids in a trie) gives exactly the output of a plain reference search
with tuple prefixes, on random posteriors, with every feature: word/char LM, partial-word penalty,
hotwords, the Hangul grammar, N-best, "▁" word starts."""
import heapq
import random

import numpy as np
import pytest
import torch

from hypersp.decoding.ctc_beam import NEG_INF, CTCBeamSearch, PrefixTrie, _lse
from hypersp.decoding.grammar import token_grammar
from hypersp.decoding.ngram import build_arpa
from hypersp.tokenizers.jamo import JamoTokenizer


def reference_decode(search: CTCBeamSearch, lp: np.ndarray):
    """The prefix beam search written plainly (the implementation before the trie): prefixes are
    tuples, every prefix's state is recomputed from its tokens (``_state_of``), nothing is pruned but
    the beam. Returns [(tokens, score, acoustic, lm, words)], best first."""
    skip, cands = search.candidates(lp)
    blank = lp[:, search.blank_id].astype(np.float64).tolist()
    state = search._state_of
    beams = {(): (0.0, NEG_INF)}
    t = 0
    while t < len(blank):
        if skip[t]:
            run = 0.0
            while t < len(blank) and skip[t]:
                run += blank[t]
                t += 1
            beams = {p: (_lse(pb, pnb) + run, NEG_INF) for p, (pb, pnb) in beams.items()}
            continue
        nxt = {}
        for prefix, (pb, pnb) in beams.items():
            total = _lse(pb, pnb)
            entry = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            entry[0] = _lse(entry[0], total + blank[t])
            for c, lpc in cands[t]:
                if prefix and c == prefix[-1]:
                    entry[1] = _lse(entry[1], pnb + lpc)
                    if pb == NEG_INF:
                        continue
                    add = pb + lpc
                else:
                    add = total + lpc
                if search.grammar is not None and search.grammar._rows[state(prefix)[search.GRAMMAR]][c] < 0:
                    continue
                e = nxt.setdefault(prefix + (c,), [NEG_INF, NEG_INF])
                e[1] = _lse(e[1], add)
        best = heapq.nlargest(search.beam_size, nxt.items(),
                              key=lambda kv: _lse(*kv[1]) + state(kv[0])[search.EXTRA])
        beams = {p: tuple(v) for p, v in best}
        t += 1
    hyps = []
    for prefix, (pb, pnb) in beams.items():
        if search.grammar is not None and not search.grammar.is_final(state(prefix)[search.GRAMMAR]):
            continue
        extra, lm_score, words = search._final(state(prefix))
        hyps.append((list(prefix), _lse(pb, pnb) + extra, _lse(pb, pnb), lm_score, words))
    hyps.sort(key=lambda h: h[1], reverse=True)
    return hyps[:search.nbest]


def fields(hyps):
    return [(h.tokens, h.score, h.acoustic_score, h.lm_score, h.words) for h in hyps]


def random_posteriors(rng: np.random.Generator, frames: int, vocab: int, peaked: bool) -> np.ndarray:
    logits = rng.normal(size=(frames, vocab)) * 2.0
    if peaked:  # blank-dominated with spikes, like a trained model (exercises blank skipping)
        logits[:, 0] += 9.0
        spikes = rng.random(frames) < 0.3
        logits[spikes, 0] -= 9.0
        logits[spikes, rng.integers(1, vocab, size=int(spikes.sum()))] += 6.0
    return torch.from_numpy(logits).float().log_softmax(-1).numpy()


@pytest.fixture(scope="module")
def jamo():
    rng = random.Random(3)
    syllables = "가나다라마바사아자차카하강남동산물"
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 3))) for _ in range(40)]
    sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 7))) for _ in range(60)]
    tok = JamoTokenizer()
    tok.fit(sentences)
    return tok, words, sentences


def test_jamo_search_equals_reference(jamo):
    tok, words, sentences = jamo
    word_lm = build_arpa(sentences, order=3, unit="word")
    grammar = token_grammar(tok.tokens, blank_id=0)
    hot = [tok.encode(w) for w in words[:6]]
    configs = [
        dict(),
        dict(grammar=grammar, nbest=4),
        dict(lm=word_lm, lm_weight=0.6, word_bonus=1.0, grammar=grammar),
        dict(lm=word_lm, lm_weight=0.8, lm_partial_word_penalty=-4.0),
        dict(lm=word_lm, hotwords=hot, hotword_weight=1.5, nbest=3),
        dict(hotwords=hot, beam_size=3, blank_threshold=1.0),
    ]
    rng = np.random.default_rng(0)
    for i, cfg in enumerate(configs):
        for peaked in (False, True):
            kw = dict(cfg)
            kw.setdefault("beam_size", 8)
            search = CTCBeamSearch(tok.tokens, decode_word=tok.decode, **kw)
            lp = random_posteriors(rng, int(rng.integers(20, 70)), tok.vocab_size, peaked)
            got = fields(search.decode_one(lp))
            assert got == reference_decode(search, lp), (i, peaked)


def test_word_start_tokens_and_char_lm_equal_reference():
    tokens = ["<b>", "\u2581가", "\u2581나", "다", "라", "\u2581마", "바", " ", "사"]

    def decode_word(ids):
        return "".join(tokens[i] for i in ids).replace("\u2581", " ").strip()

    sentences = ["가다 나라", "마바 가다 가", "나라 마바사", "가다 가다 나라"]
    configs = [
        dict(lm=build_arpa(sentences, order=2, unit="word"), lm_partial_word_penalty=-3.0),
        dict(lm=build_arpa(sentences, order=3, unit="char"), lm_weight=0.7, nbest=3),
        dict(hotwords=[[1, 3], [5, 6, 8]], hotword_weight=2.5, beam_size=3),
    ]
    rng = np.random.default_rng(1)
    for i, cfg in enumerate(configs):
        for _ in range(4):
            kw = dict(cfg)
            kw.setdefault("beam_size", 6)
            search = CTCBeamSearch(tokens, decode_word=decode_word, **kw)
            lp = random_posteriors(rng, int(rng.integers(5, 60)), len(tokens), peaked=False)
            assert fields(search.decode_one(lp)) == reference_decode(search, lp), i


def test_trie_drops_prefixes_that_leave_the_beam():
    trie = PrefixTrie(vocab_size=5, root_state="root")
    a, b = trie.add(PrefixTrie.ROOT, 1), trie.add(PrefixTrie.ROOT, 2)
    for nid in (a, b):
        trie.nodes[nid][PrefixTrie.STATE] = "s"
    trie.update_beam({PrefixTrie.ROOT: 0}, {a: 0}, fresh=[a, b])  # b lost: dropped; root kept as a's parent
    assert set(trie.nodes) == {PrefixTrie.ROOT, a}
    assert trie.child_of == {PrefixTrie.ROOT * 5 + 1: a}
    ab = trie.add(a, 3)
    trie.nodes[ab][PrefixTrie.STATE] = "s"
    trie.update_beam({a: 0}, {ab: 0}, fresh=[ab])  # a leaves the beam: kept (ancestor), state freed
    assert trie.tokens(ab) == [1, 3] and trie.nodes[a][PrefixTrie.STATE] is None
    c = trie.add(PrefixTrie.ROOT, 4)
    trie.nodes[c][PrefixTrie.STATE] = "s"
    trie.update_beam({ab: 0}, {c: 0}, fresh=[c])  # ab gone: a and its lookup entry go with it
    assert set(trie.nodes) == {PrefixTrie.ROOT, c} and len(trie.child_of) == 1


def test_table_holds_only_the_beam_and_its_ancestors(jamo, monkeypatch):
    """After every frame the trie holds exactly the beam's prefixes and their ancestors, far fewer
    than the prefixes the search created (the old table kept them all)."""
    tok, _, _ = jamo
    sizes, created = [], []
    real_update, real_add = PrefixTrie.update_beam, PrefixTrie.add

    def update(self, old, new, fresh):
        real_update(self, old, new, fresh)
        expected = set()
        for nid in new:
            while nid >= 0 and nid not in expected:
                expected.add(nid)
                nid = self.nodes[nid][PrefixTrie.PARENT]
        assert set(self.nodes) == expected
        assert all((self.nodes[n][PrefixTrie.STATE] is not None) == (n in new) for n in self.nodes)
        sizes.append(len(self))

    monkeypatch.setattr(PrefixTrie, "update_beam", update)
    monkeypatch.setattr(PrefixTrie, "add", lambda self, p, c: created.append(c) or real_add(self, p, c))
    lp = random_posteriors(np.random.default_rng(2), 400, tok.vocab_size, peaked=True)
    CTCBeamSearch(tok.tokens, beam_size=8).decode_one(lp)
    assert sizes and max(sizes) * 4 < len(created)
