"""CTC forced alignment (token frames and confidence) and the CTC forward score."""
import itertools
import math

import numpy as np
import pytest

from hypersp.decoding.align import TokenSpan, ctc_align, ctc_align_batch, ctc_forward_score, min_frames
from hypersp.decoding.grammar import collapse
from hypersp.decoding.greedy import best_path


def peaked(labels, V, p=0.9):
    lp = np.full((len(labels), V), (1 - p) / (V - 1))
    lp[np.arange(len(labels)), labels] = p
    return np.log(lp).astype(np.float32)


def runs(labels, blank=0):
    """(label, start, end) of every run of a non-blank label that starts a new token."""
    out, prev = [], None
    for t, lab in enumerate(labels):
        if lab != blank and lab == prev:
            out[-1][2] = t + 1
        elif lab != blank:
            out.append([lab, t, t + 1])
        prev = lab
    return [tuple(r) for r in out]


def test_constructed_alignment_with_a_repeated_token():
    labels = [0, 1, 1, 0, 2, 0, 2, 2, 0]
    lp = peaked(labels, V=4)
    spans = ctc_align(lp, [1, 2, 2])
    assert [(s.id, s.start, s.end) for s in spans] == [(1, 1, 3), (2, 4, 5), (2, 6, 8)]
    for s in spans:
        assert s.confidence == pytest.approx(0.9, rel=1e-5)
    # a less certain frame lowers that token's confidence: geometric mean of its posteriors
    lp2 = lp.copy()
    lp2[2] = np.log(np.array([0.3, 0.4, 0.2, 0.1]))
    first = ctc_align(lp2, [1, 2, 2])[0]
    assert (first.start, first.end) == (1, 3)
    assert first.confidence == pytest.approx(math.sqrt(0.9 * 0.4), rel=1e-5)


def test_forced_alignment_follows_the_given_ids_not_the_argmax():
    # argmax reads [1, 2]; forced to [1, 3]. Paths: 1 _ 3 (.9*.5*.1 = .045) beats 1 3 3 (.027),
    # 1 3 _ (.0135) and 1 1 3 (.009)
    lp = np.log(np.array([[0.05, 0.9, 0.03, 0.02], [0.5, 0.1, 0.1, 0.3], [0.05, 0.05, 0.8, 0.1]]))
    spans = ctc_align(lp, [1, 3])
    assert [(s.id, s.start, s.end) for s in spans] == [(1, 0, 1), (3, 2, 3)]
    assert spans[1].confidence == pytest.approx(0.1)


def test_alignment_of_greedy_output_equals_greedy_frames():
    rng = np.random.default_rng(0)
    V = 9
    for _ in range(25):
        T = int(rng.integers(1, 60))
        logits = rng.normal(size=(T, V))
        logits[:, 0] += 2
        logits[np.arange(T), rng.integers(0, V, T)] += 5
        lp = (logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)).astype(np.float32)
        ids, _ = best_path(lp)
        spans = ctc_align(lp, ids)
        assert [(s.id, s.start, s.end) for s in spans] == runs(lp.argmax(1).tolist())
        for s in spans:
            assert s.confidence == pytest.approx(float(np.exp(lp[s.start:s.end, s.id].mean())), rel=1e-5)


def test_edge_cases():
    lp = peaked([0, 1, 0], V=3)
    assert ctc_align(lp, []) == []
    assert ctc_align(lp, [1]) == [TokenSpan(1, 1, 2, pytest.approx(0.9))]
    assert min_frames([1, 1, 2]) == 4
    with pytest.raises(ValueError, match="needs at least 3 frames"):
        ctc_align(peaked([1, 1], V=3), [1, 1])  # two equal tokens need a blank between them
    spans = ctc_align(peaked([1, 0, 1], V=3), [1, 1])
    assert [(s.start, s.end) for s in spans] == [(0, 1), (2, 3)]
    with pytest.raises(ValueError, match="blank"):
        ctc_align(lp, [0])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        ctc_align(lp, [7])
    with pytest.raises(ValueError, match=r"\(T, V\)"):
        ctc_align(lp[None], [1])


def test_forward_score_matches_brute_force():
    rng = np.random.default_rng(1)
    lp = rng.normal(size=(5, 3))
    lp = lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)
    totals = {}
    for path in itertools.product(range(3), repeat=5):
        seq = tuple(collapse(path))
        totals[seq] = totals.get(seq, 0.0) + math.exp(sum(lp[t, k] for t, k in enumerate(path)))
    for seq, p in totals.items():
        assert math.exp(ctc_forward_score(lp, seq)) == pytest.approx(p, rel=1e-6)
    assert ctc_forward_score(lp, [1, 1, 1]) > -math.inf and ctc_forward_score(lp, [1] * 4) == -math.inf
    assert ctc_forward_score(np.zeros((0, 3)), []) == 0.0


@pytest.mark.parametrize("cells", [1 << 23, 600])
def test_batch_alignment_equals_one_at_a_time(cells, monkeypatch):
    # utterances of different lengths and label counts share padded frame loops (one, or with a small cell
    # budget many); each result is what it gets alone, and one that cannot be aligned (too few frames, or
    # -inf where its path must go) is None
    monkeypatch.setattr("hypersp.decoding.align.ALIGN_BATCH_CELLS", cells)
    rng = np.random.default_rng(3)
    V = 7
    lps, ids = [], []
    for k in range(30):
        T = int(rng.integers(1, 50))
        logits = rng.normal(size=(T, V))
        logits[np.arange(T), rng.integers(0, V, T)] += 4
        lp = (logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)).astype(np.float32)
        row = best_path(lp)[0] if k % 2 else [int(i) for i in rng.integers(1, V, int(rng.integers(0, T + 3)))]
        if k % 5 == 0:
            lp[:, 2] = -np.inf
            row = list(row) + [2]
        lps.append(lp)
        ids.append(list(row))
    batch = ctc_align_batch(lps, ids)
    for lp, row, got in zip(lps, ids, batch):
        try:
            alone = ctc_align(lp, row)
        except ValueError:
            alone = None
        assert got == alone
    assert sum(got is None for got in batch) >= 3  # the -inf rows, at least
    assert ctc_align_batch([], []) == []
    with pytest.raises(ValueError, match="outside the vocabulary"):
        ctc_align_batch(lps[:1], [[V]])
