"""CTC prefix beam search: exact scores, greedy agreement, LM fusion, hotwords, N-best."""
import itertools
import math

import numpy as np
import pytest
import torch

from hypersp.decoding.ctc_beam import CTCBeamSearch, ctc_beam_decoder_for
from hypersp.decoding.greedy import greedy_ctc_decode
from hypersp.decoding.ngram import build_arpa
from hypersp.tokenizers.char import CharTokenizer

EXACT = dict(prune_topk=100, token_min_logprob=-math.inf, blank_threshold=1.0)  # no pruning at all


def char_tokenizer(texts=("가나다 라마 바사",)):
    tok = CharTokenizer()
    tok.fit(texts)
    return tok


def frames_for(tok, spec):
    """spec: one dict per frame {symbol: prob}; the rest of the mass goes to blank."""
    V = tok.vocab_size
    lp = np.full((len(spec), V), 1e-6)
    for t, probs in enumerate(spec):
        for sym, p in probs.items():
            lp[t, tok.token_to_id(sym)] = p
        lp[t, 0] = max(1e-6, 1.0 - sum(probs.values()))
    lp /= lp.sum(1, keepdims=True)
    return np.log(lp).astype(np.float32)


def brute_force(lp: np.ndarray):
    """Probability of every label sequence, summed over all CTC paths."""
    T, V = lp.shape
    out = {}
    for path in itertools.product(range(V), repeat=T):
        seq, prev = [], None
        for s in path:
            if s and s != prev:
                seq.append(s)
            prev = s
        out[tuple(seq)] = out.get(tuple(seq), 0.0) + math.exp(sum(lp[t, s] for t, s in enumerate(path)))
    return out


def test_scores_are_exact_sequence_probabilities():
    rng = np.random.default_rng(0)
    lp = torch.from_numpy(rng.normal(size=(4, 3))).log_softmax(-1).numpy()
    truth = brute_force(lp)
    dec = CTCBeamSearch(["<blank>", "a", "b"], beam_size=100, nbest=100, **EXACT)
    hyps = dec.decode_one(lp)
    assert len(hyps) == len(truth)
    for h in hyps:
        assert math.isclose(math.exp(h.acoustic_score), truth[tuple(h.tokens)], rel_tol=1e-4)
    assert hyps == sorted(hyps, key=lambda h: -h.score)


def test_beam_beats_greedy_on_a_crafted_case():
    # blank .6 / a .4 on both frames: greedy reads "" (p = .36), but "a" has p = .16 + .24 + .24 = .64
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]], dtype=np.float32))
    assert greedy_ctc_decode(torch.from_numpy(lp)[None])[0] == []
    (best, second), = CTCBeamSearch(["<blank>", "a"], beam_size=4, nbest=2, **EXACT)(lp[None])
    assert best.tokens == [1] and math.isclose(math.exp(best.acoustic_score), 0.64, rel_tol=1e-5)
    assert second.tokens == [] and math.isclose(math.exp(second.acoustic_score), 0.36, rel_tol=1e-5)


def test_beam_equals_greedy_on_peaked_distributions():
    rng = np.random.default_rng(1)
    V, T = 12, 60
    for _ in range(5):
        logits = rng.normal(size=(2, T, V)) * 0.5
        best = rng.integers(0, V, size=(2, T))
        np.put_along_axis(logits, best[..., None], 12.0, axis=-1)
        lp = torch.from_numpy(logits).float().log_softmax(-1)
        lengths = torch.tensor([T, T - 17])
        dec = CTCBeamSearch([f"s{i}" for i in range(V)], beam_size=8)
        assert dec.decode_ids(lp, lengths) == greedy_ctc_decode(lp, lengths)


def test_blank_skipping_keeps_the_result():
    tok = char_tokenizer()
    spec = [{}] * 5 + [{"가": 0.9}] + [{}] * 6 + [{"나": 0.6, "다": 0.3}] + [{}] * 4 + [{"나": 0.95}]
    lp = frames_for(tok, spec)
    a = CTCBeamSearch(tok.tokens, beam_size=8, blank_threshold=0.999).decode_one(lp)[0]
    b = CTCBeamSearch(tok.tokens, beam_size=8, **EXACT).decode_one(lp)[0]
    assert tok.decode(a.tokens) == tok.decode(b.tokens) == "가나나"
    assert math.isclose(a.acoustic_score, b.acoustic_score, abs_tol=1e-3)


def ambiguous_word(tok):
    """Acoustics slightly prefer '나다' over '가다' (first syllable 0.55 vs 0.45)."""
    return frames_for(tok, [{"나": 0.55, "가": 0.45}, {}, {"다": 0.99}, {}])


def test_word_lm_changes_the_ranking():
    tok = char_tokenizer(["가다 나다"])
    lp = ambiguous_word(tok)
    plain = ctc_beam_decoder_for(tok, beam_size=8)
    assert tok.decode(plain.decode_one(lp)[0].tokens) == "나다"
    lm = build_arpa(["가다"] * 20 + ["나다"], order=2)
    fused = ctc_beam_decoder_for(tok, beam_size=8)
    fused.lm, fused.lm_weight = lm, 1.0
    best = fused.decode_one(lp)[0]
    assert tok.decode(best.tokens) == "가다"
    assert math.isclose(best.lm_score, lm.sentence_logprob(["가다"]), rel_tol=1e-6)
    assert math.isclose(best.score, best.acoustic_score + best.lm_score, rel_tol=1e-6)


def test_word_lm_applies_at_word_boundaries(tmp_path):
    tok = char_tokenizer(["가다 나다"])
    lm = build_arpa(["가다 나다", "나다 가다", "나다 나다"], order=2)
    path = tmp_path / "w.arpa"
    lm.save(path)
    dec = ctc_beam_decoder_for(tok, beam_size=8, lm_path=str(path), lm_weight=0.7, word_bonus=0.5, nbest=3)
    spec = [{"가": 0.9}, {"다": 0.9}, {" ": 0.9}, {"나": 0.9}, {"다": 0.9}]
    hyps = dec.decode_one(frames_for(tok, spec))
    best = hyps[0]
    assert tok.decode(best.tokens) == "가다 나다" and best.words == 2
    assert math.isclose(best.lm_score, lm.sentence_logprob(["가다", "나다"]), rel_tol=1e-5)
    assert math.isclose(best.score, best.acoustic_score + 0.7 * best.lm_score + 0.5 * 2, rel_tol=1e-5)
    assert len(hyps) == 3 and [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def test_token_level_lm():
    tok = char_tokenizer(["가다 나다"])
    lm = build_arpa(["가다"] * 20 + ["나다"], order=3, unit="char")
    dec = CTCBeamSearch(tok.tokens, beam_size=8, lm=lm, lm_weight=1.0)
    assert tok.decode(dec.decode_one(ambiguous_word(tok))[0].tokens) == "가다"
    wrong_units = build_arpa(["xyz"], order=2, unit="char")
    with pytest.raises(ValueError, match="unit"):
        CTCBeamSearch(tok.tokens, lm=wrong_units)


def test_hotword_boosting_and_retraction():
    tok = char_tokenizer(["가다 나다 라마"])
    lp = ambiguous_word(tok)
    boosted = ctc_beam_decoder_for(tok, beam_size=8, hotwords=["가다"], hotword_weight=1.0)
    best = boosted.decode_one(lp)[0]
    assert tok.decode(best.tokens) == "가다"
    assert math.isclose(best.score, best.acoustic_score + 2.0, rel_tol=1e-6)  # 2 tokens x 1.0
    # an unfinished phrase keeps no bonus: "가다라" is not completed by "가다"
    partial = ctc_beam_decoder_for(tok, beam_size=8, hotwords=["가다라"], hotword_weight=1.0, nbest=4)
    hyps = partial.decode_one(lp)
    assert tok.decode(hyps[0].tokens) == "나다"
    for h in hyps:
        assert math.isclose(h.score, h.acoustic_score, abs_tol=1e-9)
    # matches start at word starts only: "다" inside "나다" is not the hotword "다"
    inner = ctc_beam_decoder_for(tok, beam_size=8, hotwords=["다"], hotword_weight=5.0)
    best = inner.decode_one(lp)[0]
    assert math.isclose(best.score, best.acoustic_score, abs_tol=1e-9)


def oov_ambiguity(tok):
    """Acoustics prefer the first syllable '나' (0.55) over '가' (0.45); then '다'."""
    return frames_for(tok, [{"나": 0.55, "가": 0.45}, {}, {"다": 0.99}, {}])


def test_partial_word_penalty_changes_the_ranking_inside_the_beam():
    tok = char_tokenizer(["가다 나다 라마"])
    lm = build_arpa(["가다 라마", "라마 가다"], order=2)  # "나다" is out of the LM's vocabulary
    lp = oov_ambiguity(tok)
    common = dict(beam_size=1, lm=lm, lm_weight=0.1, decode_word=tok.decode)
    # beam 1: without the penalty '나' wins frame 0 and the LM only sees the finished word
    off = CTCBeamSearch(tok.tokens, **common).decode_one(lp)[0]
    assert tok.decode(off.tokens) == "나다"
    # with it, the partial word '나' begins no LM word and is penalized at once
    on = CTCBeamSearch(tok.tokens, lm_partial_word_penalty=-5.0, **common).decode_one(lp)[0]
    assert tok.decode(on.tokens) == "가다"
    # a known word carries no penalty once complete: score = acoustic + weighted LM
    assert on.score == pytest.approx(on.acoustic_score + 0.1 * on.lm_score, rel=1e-6)
    # default 0 leaves every score as it was
    same = CTCBeamSearch(tok.tokens, lm_partial_word_penalty=0.0, **common).decode_one(lp)[0]
    assert same == off


def test_partial_word_penalty_stays_on_unknown_words_and_spares_hotwords():
    tok = char_tokenizer(["가다 나다 라마"])
    lm = build_arpa(["가다 라마", "라마 가다"], order=2)
    lp = oov_ambiguity(tok)
    dec = CTCBeamSearch(tok.tokens, beam_size=8, nbest=4, lm=lm, lm_weight=0.5, decode_word=tok.decode,
                        lm_partial_word_penalty=-2.0)
    hyps = {tok.decode(h.tokens): h for h in dec.decode_one(lp)}
    assert hyps["나다"].score == pytest.approx(hyps["나다"].acoustic_score + 0.5 * hyps["나다"].lm_score - 2.0, rel=1e-6)
    assert hyps["가다"].score == pytest.approx(hyps["가다"].acoustic_score + 0.5 * hyps["가다"].lm_score, rel=1e-6)
    # a hotword's words count as known: no penalty, only the hotword bonus
    hot = CTCBeamSearch(tok.tokens, beam_size=8, nbest=4, lm=lm, lm_weight=0.5, decode_word=tok.decode,
                        lm_partial_word_penalty=-2.0, hotwords=[tok.encode("나다")], hotword_weight=0.5)
    h = {tok.decode(h.tokens): h for h in hot.decode_one(lp)}["나다"]
    assert h.score == pytest.approx(h.acoustic_score + 0.5 * h.lm_score + 2 * 0.5, rel=1e-6)
    with pytest.raises(ValueError, match="<= 0"):
        CTCBeamSearch(tok.tokens, lm=lm, lm_partial_word_penalty=1.0)


def test_grammar_keeps_the_beam_from_ending_on_a_bare_initial():
    from hypersp.decoding.grammar import token_grammar
    from hypersp.tokenizers.jamo import JamoTokenizer

    tok = JamoTokenizer()
    ids = tok.token_to_id
    g_, a_, n_ = ids("\u1100"), ids("\u1161"), ids("\u1102")  # ᄀ ᅡ ᄂ
    V = tok.vocab_size
    lp = np.full((4, V), 1e-5)
    lp[0, g_], lp[1, a_], lp[2, 0], lp[3, n_] = 0.9, 0.9, 0.9, 0.7  # "가" then a bare "ᄂ"
    lp = np.log(lp / lp.sum(1, keepdims=True)).astype(np.float32)
    plain = CTCBeamSearch(tok.tokens, beam_size=8, decode_word=tok.decode).decode_one(lp)[0]
    assert tok.decode(plain.tokens) == "가\u1102"
    best = CTCBeamSearch(tok.tokens, beam_size=8, decode_word=tok.decode,
                         grammar=token_grammar(tok.tokens)).decode_one(lp)[0]
    assert tok.decode(best.tokens) == "가"
    # ctc_beam_decoder_for (the older entry point) uses the tokenizer's grammar too
    assert tok.decode(ctc_beam_decoder_for(tok, beam_size=8).decode_one(lp)[0].tokens) == "가"


def _peaky_jamo_posteriors(tok, texts, seed):
    """Posteriors that spell ``texts`` (jamo tokens, blank runs between), with random competitors."""
    rng = np.random.default_rng(seed)
    V = tok.vocab_size
    rows = []
    for text in texts:
        for t in tok.encode(text):
            for _ in range(int(rng.integers(1, 3))):
                p = rng.dirichlet(np.full(V, 0.05))
                p[t] += 3.0
                rows.append(p / p.sum())
            for _ in range(int(rng.integers(0, 4))):
                p = rng.dirichlet(np.full(V, 0.05))
                p[0] += float(rng.choice([0.5, 50.0]))  # some frames blank-dominated (skipped), some not
                rows.append(p / p.sum())
    return np.log(np.maximum(np.stack(rows), 1e-12)).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_search_fed_in_pieces_equals_the_whole_utterance_at_once(seed):
    from hypersp.decoding import build_decoder
    from hypersp.decoding.grammar import token_grammar
    from hypersp.tokenizers.jamo import JamoTokenizer

    tok = JamoTokenizer()
    texts = ["오늘 회의를 시작하겠습니다", "고객님 주문 확인해 드릴게요"]
    lp = _peaky_jamo_posteriors(tok, texts, seed)
    lm = build_arpa(texts + ["회의를 시작합니다", "주문 확인"], order=3)
    search = CTCBeamSearch(tok.tokens, beam_size=8, lm=lm, lm_weight=0.5, word_bonus=0.3, decode_word=tok.decode,
                           grammar=token_grammar(tok.tokens), hotwords=[tok.encode("회의")], nbest=3)
    whole = search.decode_one(lp)
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, lp.shape[0]), size=12, replace=False))
    run = search.start()
    for piece in np.split(lp, cuts):
        run.advance(piece)
    pieces = run.finish()
    assert [h.tokens for h in pieces] == [h.tokens for h in whole] and len(whole) >= 2
    assert [h.score for h in pieces] == pytest.approx([h.score for h in whole], abs=1e-6)
    assert run.frames == lp.shape[0]
    # The registered decoders through the same interface (greedy keeps the frames and decodes at the end).
    for name in ("ctc_beam", "greedy"):
        dec = build_decoder({"name": name, "beam_size": 8, "hotwords": ["회의"]}, tok)
        inc = dec.incremental()
        for piece in np.split(lp, cuts):
            inc.advance(piece)
        assert [h.ids for h in inc.finish()] == [h.ids for h in dec.decode(lp)]
        assert inc.frames == lp.shape[0]
        assert dec.incremental().finish()[0].ids == []  # no frames: the empty hypothesis


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_search_ends_anywhere_in_its_trailing_blank_run_as_if_cut_there(seed):
    """A live utterance is cut in the silence before its newest frames, which the final's search has already
    taken: within the trailing run of skipped blank frames it ends where the cut is, with the n-best of a
    search of the frames up to the cut (no second search); before that run it cannot (finish_at says None)."""
    from hypersp.decoding import build_decoder
    from hypersp.tokenizers.jamo import JamoTokenizer

    tok = JamoTokenizer()
    speech = _peaky_jamo_posteriors(tok, ["오늘 회의를 시작하겠습니다"], seed)
    silence = np.full((30, tok.vocab_size), -30.0, dtype=np.float32)
    silence[:, 0] = -1e-4  # P(blank) > blank_threshold: skipped
    lp = np.concatenate([speech, silence])
    lm = build_arpa(["오늘 회의를 시작합니다"], order=3)
    search = CTCBeamSearch(tok.tokens, beam_size=8, lm=lm, lm_weight=0.5, decode_word=tok.decode, nbest=3)
    run = search.start()
    run.advance(lp[:speech.shape[0] + 7])
    run.advance(lp[speech.shape[0] + 7:])
    for cut in (speech.shape[0], speech.shape[0] + 1, speech.shape[0] + 13, lp.shape[0]):
        assert run.can_end_at(cut)
        got, want = run.finish(cut), search.decode_one(lp[:cut])
        assert [h.tokens for h in got] == [h.tokens for h in want]
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=1e-6)
    assert not run.can_end_at(speech.shape[0] - 1) or not np.all(speech[-1, 0] > np.log(0.999))
    with pytest.raises(ValueError, match="cannot end at frame"):
        run.finish(0)
    dec = build_decoder({"name": "ctc_beam", "beam_size": 8}, tok)
    inc = dec.incremental()
    inc.advance(lp)
    assert [h.ids for h in inc.finish_at(speech.shape[0] + 2)] == [h.ids for h in dec.decode(lp[:speech.shape[0] + 2])]
    assert inc.finish_at(1) is None
    greedy = build_decoder("greedy", tok)
    inc = greedy.incremental()
    inc.advance(lp)
    assert inc.finish_at(lp.shape[0])[0].ids == greedy.decode(lp)[0].ids and inc.finish_at(5) is None


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_partials_of_a_growing_utterance_equal_decoding_it_whole(seed):
    """IncrementalGreedy.peek (committed frames + a changing tail) = GreedyDecoder.decode of all of them, also
    when the tail ends in a bare initial consonant, so the grammar's repair search runs (from the committed
    frames' Viterbi state)."""
    from hypersp.decoding import build_decoder
    from hypersp.tokenizers.jamo import JamoTokenizer

    tok = JamoTokenizer()
    lp = _peaky_jamo_posteriors(tok, ["오늘 회의를 시작하겠습니다"], seed)
    bare = np.full((3, tok.vocab_size), -20.0, dtype=np.float32)
    bare[:, tok.token_to_id("\u1100")] = 0.0  # a bare ᄀ at the end: the plain best path is not valid Hangul
    lp = np.concatenate([lp, bare])
    dec = build_decoder("greedy", tok)
    assert dec.repaired(lp) is not None
    inc = dec.incremental()
    rng = np.random.default_rng(seed)
    done = 0
    for cut in sorted(rng.choice(np.arange(1, lp.shape[0] - 1), size=6, replace=False)) + [lp.shape[0]]:
        inc.advance(lp[done:cut])
        done = cut
        for tail_end in (cut, min(lp.shape[0], cut + 5), lp.shape[0]):
            got, want = inc.peek(lp[cut:tail_end])[0], dec.decode(lp[:tail_end])[0]
            assert got.ids == want.ids and got.score == pytest.approx(want.score, abs=1e-4)
    assert inc.finish()[0].ids == dec.decode(lp)[0].ids
