"""Always-valid Hangul: the token grammar, the greedy repair rule, and no bare jamo from any decoder
(property tests over random log-probabilities, a tiny random transformer, the shipped demo model)."""
import itertools
import math

import numpy as np
import pytest
import torch

from hypersp.config.schema import DecodingConfig
from hypersp.decoding import build_decoder
from hypersp.decoding.attention_beam import attention_beam_search
from hypersp.decoding.ctc_beam import CTCBeamSearch
from hypersp.decoding.grammar import collapse, constrained_best_path, has_bare_jamo, token_grammar
from hypersp.decoding.greedy import best_path
from hypersp.decoding.ngram import build_arpa
from hypersp.tokenizers.char import CharTokenizer
from hypersp.tokenizers.jamo import JamoTokenizer

EXACT = dict(prune_topk=100, token_min_logprob=-math.inf, blank_threshold=1.0)
SENTENCES = ["가나 다라 마바", "고객 센터 안내", "학교 가요", "다음 주 화요일까지"]


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def jamo_tokenizer():
    """hypersp's jamo vocabulary plus extras, one of them a compatibility jamo ("ㅋ")."""
    tok = JamoTokenizer()
    tok.fit(SENTENCES + ["ㅋㅋ 1."])
    assert "ㅋ" in tok.tokens
    return tok


def random_log_probs(rng, T, V, kind):
    """peaky: one random label dominates each frame (often a bare jamo); flat: near uniform;
    blanky: mostly blank with short random label bursts, like a trained model."""
    if kind == "flat":
        logits = rng.normal(size=(T, V)) * 0.3
    elif kind == "peaky":
        logits = rng.normal(size=(T, V))
        logits[np.arange(T), rng.integers(0, V, size=T)] += rng.uniform(4, 9, size=T)
    else:
        logits = rng.normal(size=(T, V))
        logits[:, 0] += 6
        burst = rng.random(T) < 0.3
        logits[burst, rng.integers(1, V, size=int(burst.sum()))] += rng.uniform(6, 12, size=int(burst.sum()))
    logits -= np.logaddexp.reduce(logits, axis=1, keepdims=True)
    return logits.astype(np.float32)


def speechlike_log_probs(rng, tok):
    """A sentence's tokens on a few frames each, blanks between, with noise: usually a valid best path,
    sometimes a confusion turns it into a bare jamo."""
    ids = tok.encode(SENTENCES[int(rng.integers(len(SENTENCES)))])
    labels = []
    for i in ids:
        labels += [0] * int(rng.integers(0, 3)) + [i] * int(rng.integers(1, 3))
    labels.append(0)
    logits = rng.normal(size=(len(labels), tok.vocab_size))
    logits[np.arange(len(labels)), labels] += rng.uniform(4, 10, size=len(labels))
    logits -= np.logaddexp.reduce(logits, axis=1, keepdims=True)
    return logits.astype(np.float32)


def tiny_transformer(vocab_size, seed=0):
    from omegaconf import OmegaConf

    from hypersp.models.transformer.model import TransformerConfig, TransformerModel

    torch.manual_seed(seed)
    cfg = OmegaConf.merge(OmegaConf.structured(TransformerConfig),
                          dict(d_model=32, n_heads=2, encoder_layers=1, decoder_layers=1, ff_dim=64,
                               subsampling_conv_channels=8, dropout=0.0, dropout_att=0.0))
    return TransformerModel(cfg, input_dim=16, vocab_size=vocab_size).eval()


# ---- the grammar ---------------------------------------------------------------------------

def test_grammar_of_the_jamo_vocabulary():
    tok = jamo_tokenizer()
    g = token_grammar(tok.tokens)
    assert g.num_states == 4 and g.state_names == ["boundary", "lead", "vowel", "tail"]
    ids = tok.token_to_id
    cho, jung, jong = ids("\u1100"), ids("\u1161"), ids("\u11a8")
    space, dot, compat = ids(" "), ids("."), ids("ㅋ")
    assert g.accepts(tok.encode("학교 가요. 1")) and g.accepts([])
    assert not g.accepts([cho])                       # ends on a bare initial
    assert not g.accepts([jung])                      # vowel without an initial
    assert not g.accepts([cho, jung, jong, jong])     # two finals
    assert not g.accepts([cho, space, jung])          # the space separates them
    assert not g.accepts([cho, jung, jong, jung])     # final followed by a vowel
    assert not g.accepts([cho, jung, compat])         # compatibility jamo: never
    assert not g.allowed[:, compat].any() and g.allowed[:, 0].all()
    assert g.accepts([cho, jung, dot, cho, jung, jong, space])
    s = g.walk([cho])
    assert g.allowed[s].sum() == 21 + 1  # only the 21 vowels (and the blank)


def test_grammar_is_none_without_jamo_and_forbids_jamo_pieces():
    plain = CharTokenizer()
    plain.fit(SENTENCES)
    assert token_grammar(plain.tokens) is None
    chat = CharTokenizer()
    chat.fit(SENTENCES + ["ㅋㅋ", "\u1100"])
    g = token_grammar(chat.tokens)
    assert g.num_states == 1  # nothing can leave "boundary": the jamo tokens are simply banned
    banned = {chat.tokens[i] for i in np.flatnonzero(~g.allowed[0])}
    assert banned == {"ㅋ", "\u1100"}
    # sentencepiece-like pieces are run character by character
    g2 = token_grammar(["<blank>", "\u2581\u1100\u1161", "\u11a8", "\u2581학", "\u1100"])
    assert g2.accepts([1, 2, 3]) and not g2.accepts([3, 2]) and not g2.accepts([4])


def brute_force_best_valid_path(lp, g):
    T, V = lp.shape
    best, best_ids = -math.inf, None
    for path in itertools.product(range(V), repeat=T):
        ids = collapse(path)
        if g.accepts(ids):
            s = float(sum(lp[t, k] for t, k in enumerate(path)))
            if s > best:
                best, best_ids = s, ids
    return best_ids, best


def test_constrained_best_path_is_the_best_valid_path():
    tokens = ["<blank>", " ", "\u1100", "\u1161", "\u11a8"]
    g = token_grammar(tokens)
    rng = np.random.default_rng(0)
    for trial in range(12):
        lp = random_log_probs(rng, 5, len(tokens), ("flat", "peaky")[trial % 2])
        ids, score = constrained_best_path(lp, g)
        want_ids, want = brute_force_best_valid_path(lp, g)
        assert g.accepts(ids)
        assert score == pytest.approx(want, abs=1e-5)
        assert float(lp[:, 0].sum()) <= score  # never worse than all-blank


def test_beam_with_grammar_is_exact_over_valid_sequences():
    tokens = ["<blank>", "\u1100", "\u1161", "\u11a8"]
    g = token_grammar(tokens)
    rng = np.random.default_rng(1)
    lp = random_log_probs(rng, 4, len(tokens), "flat")
    totals = {}
    for path in itertools.product(range(len(tokens)), repeat=4):
        seq = tuple(collapse(path))
        totals[seq] = totals.get(seq, 0.0) + math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    valid = {s: p for s, p in totals.items() if g.accepts(s)}
    hyps = CTCBeamSearch(tokens, beam_size=1000, nbest=1000, grammar=g, **EXACT).decode_one(lp)
    assert {tuple(h.tokens) for h in hyps} == set(valid)
    for h in hyps:
        assert math.exp(h.acoustic_score) == pytest.approx(valid[tuple(h.tokens)], rel=1e-4)


# ---- greedy repair rule --------------------------------------------------------------------

def test_greedy_repair_leaves_valid_results_unchanged_and_fixes_the_rest():
    tok = jamo_tokenizer()
    dec = build_decoder(None, tok)
    rng = np.random.default_rng(2)
    unchanged = repaired = 0
    for trial in range(120):
        kind = ("flat", "peaky", "blanky", "speech", "speech")[trial % 5]
        if kind == "speech":
            lp = speechlike_log_probs(rng, tok)
        else:
            lp = random_log_probs(rng, int(rng.integers(1, 40)), tok.vocab_size, kind)
        plain_ids, plain_score = best_path(lp)
        (h,) = dec.decode(lp)
        assert dec.grammar.accepts(h.ids) and not has_bare_jamo(tok.decode(h.ids))
        if dec.grammar.accepts(plain_ids):
            assert h.ids == plain_ids and h.score == pytest.approx(plain_score)
            assert dec.repaired(lp) is None
            unchanged += 1
        else:
            assert h.score <= plain_score + 1e-6 and h.ids == dec.repaired(lp)
            repaired += 1
    assert unchanged >= 15 and repaired >= 15  # both branches exercised


def test_greedy_repair_on_a_constructed_case():
    tok = JamoTokenizer()
    V = tok.vocab_size
    ids = tok.token_to_id
    # frames: ᄀ ᅡ _ ᅡ: plain best path gives "가" + a stray "ᅡ"; the runner-up on the last frame is ᆨ
    lp = np.full((4, V), 1e-4)
    lp[0, ids("\u1100")] = 0.9
    lp[1, ids("\u1161")] = 0.9
    lp[2, 0] = 0.9
    lp[3, ids("\u1161")], lp[3, ids("\u11a8")] = 0.6, 0.3
    lp = np.log(lp / lp.sum(1, keepdims=True)).astype(np.float32)
    assert has_bare_jamo(tok.decode(best_path(lp)[0]))
    assert tok.decode(build_decoder(None, tok).decode(lp)[0].ids) == "각"


# ---- property tests: no decoder ever outputs a bare jamo -------------------------------------

def test_no_bare_jamo_from_greedy_and_ctc_beam_on_random_log_probs(tmp_path):
    tok = jamo_tokenizer()
    lm_path = tmp_path / "word2.arpa"
    build_arpa(SENTENCES * 3, order=2).save(lm_path)
    configs = [
        DecodingConfig(name="greedy"),
        DecodingConfig(name="ctc_beam", beam_size=4, nbest=3),
        DecodingConfig(name="ctc_beam", beam_size=4, blank_threshold=1.0, prune_topk=20),
        DecodingConfig(name="ctc_beam", beam_size=4, nbest=2, lm_path=str(lm_path), lm_weight=1.0, word_bonus=2.0,
                       hotwords=["고객 센터", "학교"], hotword_weight=3.0, lm_partial_word_penalty=-3.0),
    ]
    decoders = [build_decoder(c, tok) for c in configs]
    assert decoders[-1].search.lm is not None and decoders[-1].search.penalty == -3.0
    rng = np.random.default_rng(3)
    unconstrained_bad = 0
    for trial in range(48):
        kind = ("flat", "peaky", "blanky", "speech")[trial % 4]
        if kind == "speech":
            lp = speechlike_log_probs(rng, tok)
        else:
            lp = random_log_probs(rng, int(rng.integers(1, 30)), tok.vocab_size, kind)
        unconstrained_bad += has_bare_jamo(tok.decode(best_path(lp)[0]))
        for dec in decoders:
            nbest = dec.decode(lp)
            assert nbest, dec
            for h in nbest:
                text = tok.decode(h.ids)
                assert not has_bare_jamo(text), (dec.cfg, kind, text)
    assert unconstrained_bad >= 10  # the test has teeth: plain best paths are often invalid


def test_no_bare_jamo_from_attention_on_a_tiny_random_transformer():
    tok = jamo_tokenizer()
    model = tiny_transformer(tok.vocab_size)
    dec = build_decoder(DecodingConfig(name="attention", beam_size=3, nbest=2, ctc_weight=0.3), tok, model=model)
    pure = build_decoder(DecodingConfig(name="attention", beam_size=2, ctc_weight=0.0), tok, model=model)
    torch.manual_seed(1)
    feats = torch.randn(6, 61, 16) * 2
    lengths = torch.tensor([61, 57, 45, 33, 21, 13])
    unconstrained = attention_beam_search(model, feats, lengths, beam_size=3, ctc_weight=0.3)
    assert any(has_bare_jamo(tok.decode(nb[0].tokens)) for nb in unconstrained if nb)  # teeth
    for d in (dec, pure):
        for nb in d.decode_features(feats, lengths):
            assert nb
            for h in nb:
                assert d.grammar.accepts(h.ids) and not has_bare_jamo(tok.decode(h.ids))


# ---- the shipped model on synthetic speech, noise and cut-off audio --------------------------

@pytest.fixture(scope="module")
def demo_outputs():
    """CTC log-probs of demo_ko_16k for synthetic sentences, the same cut off mid-word, and noise."""
    import soxr

    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer
    from hypersp.prepare.synthetic.korean_text import generate_sentences
    from hypersp.checkpoint import build_from_checkpoint
    from hypersp.checkpoint import load_checkpoint

    comp = build_from_checkpoint(load_checkpoint("demo_ko_16k"))
    synth = EspeakSynthesizer()
    waves = []
    for i, text in enumerate(generate_sentences(4, seed=11)):
        x, rate = synth.synthesize(text, variant=("f3", "m2", "m8", "f5")[i], rate_wpm=170, seed=i)
        w = soxr.resample(x.astype(np.float32) / 32768.0, rate, comp.task.sample_rate).astype(np.float32)
        waves.append(w)
        waves += [w[:int(len(w) * f)] for f in (0.31, 0.47, 0.66, 0.83)]
    rng = np.random.default_rng(0)
    waves += [(rng.normal(size=n) * a).astype(np.float32) for n, a in ((16000, 0.1), (8000, 0.5), (4000, 0.02))]
    feat = comp.task.featurizer().eval()
    out = []
    with torch.no_grad():
        for w in waves:
            f, fl = feat(torch.from_numpy(w)[None], torch.tensor([len(w)]))
            lp, n = comp.model(f, fl)
            out.append(lp[0, :int(n[0])].float().numpy())
    return comp.tokenizer, out


def test_no_bare_jamo_from_the_demo_model(demo_outputs):
    tok, outputs = demo_outputs
    greedy = build_decoder(None, tok)
    beam = build_decoder(DecodingConfig(name="ctc_beam", beam_size=8, nbest=2), tok)
    plain_bad = 0
    for lp in outputs:
        plain = tok.decode(best_path(lp)[0])
        plain_bad += has_bare_jamo(plain)
        g = greedy.decode(lp)[0]
        if greedy.grammar.accepts(best_path(lp)[0]):
            assert tok.decode(g.ids) == plain
        assert not has_bare_jamo(tok.decode(g.ids)), plain
        for h in beam.decode(lp):
            assert not has_bare_jamo(tok.decode(h.ids)), plain
    # cut-off audio makes the plain best path end in a bare jamo on some of these (the bug the grammar fixes)
    assert plain_bad >= 1
