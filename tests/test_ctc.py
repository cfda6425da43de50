"""CTC criterion and greedy CTC decoding."""
import pytest
import torch

from hypersp.criterions.ctc import CTCCriterion, CTCCriterionConfig, ctc_min_frames
from hypersp.data.batch import Batch
from hypersp.decoding.greedy import greedy_ctc_decode
from hypersp.models.jasper.model import JasperBlockConfig as B
from hypersp.models.jasper.model import JasperConfig, JasperModel

_ = 0  # blank


def one_hot_log_probs(paths, V=5):
    """(B, T, V) log-probs whose argmax follows ``paths`` (lists of ids, equal length)."""
    ids = torch.tensor(paths)
    lp = torch.full((*ids.shape, V), -10.0)
    lp.scatter_(2, ids[..., None], -0.01)
    return lp


def naive_greedy(lp, lengths, blank=0):
    out = []
    for row, n in zip(lp.argmax(-1).tolist(), lengths.tolist()):
        hyp, prev = [], None
        for s in row[:n]:
            if s != prev and s != blank:
                hyp.append(s)
            prev = s
        out.append(hyp)
    return out


def test_greedy_collapses_repeats_and_drops_blanks():
    lp = one_hot_log_probs([
        [1, 1, _, 1, 2, 2, _, _],   # repeat separated by blank stays twice
        [_, _, _, _, _, _, _, _],   # all blank
        [3, 3, 3, 3, 4, 4, 4, 4],   # runs collapse
        [2, _, 2, 2, _, _, 1, 1],
    ])
    assert greedy_ctc_decode(lp, torch.tensor([8, 8, 8, 8])) == [[1, 1, 2], [], [3, 4], [2, 2, 1]]
    assert greedy_ctc_decode(lp) == [[1, 1, 2], [], [3, 4], [2, 2, 1]]
    # frames past the length are ignored
    assert greedy_ctc_decode(lp, torch.tensor([3, 8, 4, 0])) == [[1], [], [3], []]


def test_greedy_other_blank_id_and_matches_naive_decoder():
    lp = one_hot_log_probs([[4, 4, 1, 4, 4, 2]])
    assert greedy_ctc_decode(lp, torch.tensor([6]), blank_id=4) == [[1, 2]]
    torch.manual_seed(0)
    lp = torch.randn(16, 50, 4).log_softmax(-1)
    lengths = torch.randint(0, 51, (16,))
    assert greedy_ctc_decode(lp, lengths) == naive_greedy(lp, lengths)


def test_min_frames_counts_repeats():
    targets = torch.tensor([[1, 1, 2, 2], [1, 2, 3, 0], [5, 5, 0, 0]])
    assert ctc_min_frames(targets, torch.tensor([4, 3, 1])).tolist() == [6, 3, 1]


class FixedOutput(torch.nn.Module):
    """A 'model' that returns given log-probs, to test the criterion alone."""

    def __init__(self, log_probs, lengths):
        super().__init__()
        self.log_probs, self.lengths = log_probs, lengths

    def forward(self, features, lengths):
        return self.log_probs, self.lengths


def make_batch(targets, target_lengths, T=4):
    n = len(targets)
    return Batch(torch.zeros(n, T, 3), torch.full((n,), T), torch.tensor(targets), torch.tensor(target_lengths))


def test_impossible_alignment_is_zeroed_or_flagged():
    torch.manual_seed(0)
    lp = torch.randn(2, 4, 5).log_softmax(-1).requires_grad_()
    # utterance 1 has 2 output frames for 3 tokens: no alignment exists
    model = FixedOutput(lp, torch.tensor([4, 2]))
    batch = make_batch([[1, 2, 3], [1, 2, 3]], [3, 3])
    crit = CTCCriterion(CTCCriterionConfig(), blank_id=0, vocab_size=5)
    loss, stats = crit(model, batch)
    assert torch.isfinite(loss) and stats["nonfinite"] == 0.0 and stats["impossible"] == 1.0
    loss.backward()
    assert torch.isfinite(lp.grad).all() and lp.grad[1].abs().sum() == 0  # no gradient from the impossible one
    # the impossible utterance contributes 0: the loss is half the possible one's
    alone, _ = crit(FixedOutput(lp[:1], torch.tensor([4])), make_batch([[1, 2, 3]], [3]))
    torch.testing.assert_close(loss, alone / 2)
    assert stats == {"loss": pytest.approx(loss.item()), "utterances": 2.0, "frames": 8.0, "tokens": 6.0,
                     "impossible": 1.0, "nonfinite": 0.0}

    strict = CTCCriterion(CTCCriterionConfig(zero_infinity=False), blank_id=0, vocab_size=5)
    loss, stats = strict(model, batch)
    assert not torch.isfinite(loss) and stats["nonfinite"] == 1.0


def test_reductions_and_float32_under_autocast():
    torch.manual_seed(0)
    lp = torch.randn(2, 6, 5).log_softmax(-1)
    model = FixedOutput(lp.bfloat16(), torch.tensor([6, 5]))
    batch = make_batch([[1, 2, 0], [3, 0, 0]], [2, 1], T=6)
    mean_loss, _ = CTCCriterion(CTCCriterionConfig(), vocab_size=5)(model, batch)
    sum_loss, _ = CTCCriterion(CTCCriterionConfig(reduction="sum_per_utterance"), vocab_size=5)(model, batch)
    nll = torch.nn.functional.ctc_loss(lp.bfloat16().float().transpose(0, 1), batch.targets, torch.tensor([6, 5]),
                                       batch.target_lengths, reduction="none")
    torch.testing.assert_close(sum_loss, nll.mean())
    torch.testing.assert_close(mean_loss, (nll / torch.tensor([2.0, 1.0])).mean())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = CTCCriterion(CTCCriterionConfig(), vocab_size=5)(model, batch)
    assert loss.dtype == torch.float32
    with pytest.raises(ValueError, match="reduction"):
        CTCCriterion(CTCCriterionConfig(reduction="sum"))
    with pytest.raises(ValueError, match="vocab_size=7"):
        CTCCriterion(CTCCriterionConfig(), vocab_size=7)(model, batch)


def test_registry_finds_ctc():
    from hypersp.registry import CRITERIONS

    crit = CRITERIONS.build(CTCCriterionConfig(), blank_id=0, vocab_size=5)
    assert isinstance(crit, CTCCriterion)


@pytest.mark.slow
def test_tiny_jasper_overfits_and_decodes_its_targets():
    torch.manual_seed(0)
    cfg = JasperConfig(blocks=[
        B(filters=32, kernel=5, stride=2, separable=True),
        B(filters=32, repeat=2, kernel=7, residual=True, separable=True),
        B(filters=48, kernel=1),
    ])
    model = JasperModel(cfg, input_dim=8, vocab_size=6)
    feats = torch.randn(3, 40, 8)
    lengths = torch.tensor([40, 33, 26])
    feats[1, 33:] = 0
    feats[2, 26:] = 0
    targets = torch.tensor([[1, 2, 3, 3, 4], [5, 1, 1, 0, 0], [2, 4, 0, 0, 0]])
    target_lengths = torch.tensor([5, 3, 2])
    batch = Batch(feats, lengths, targets, target_lengths)
    crit = CTCCriterion(CTCCriterionConfig(), vocab_size=6)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss, stats = crit(model, batch)
        assert stats["nonfinite"] == 0.0 and stats["impossible"] == 0.0
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert sum(losses[-5:]) < sum(losses[:5])
    model.eval()
    with torch.no_grad():
        log_probs, out_lengths = model(feats, lengths)
    assert greedy_ctc_decode(log_probs, out_lengths) == [[1, 2, 3, 3, 4], [5, 1, 1], [2, 4]]
