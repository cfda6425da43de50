"""Attention beam search with CTC prefix scoring (Watanabe et al. 2017, "Hybrid CTC/attention", Sec. 3.2).

Every hypothesis is extended by the decoder's best ``ceil(1.5 * beam)`` tokens; each candidate is
scored by

    (1 - ctc_weight) * log p_att(c | h) + ctc_weight * (log psi_ctc(h + c) - log psi_ctc(h)) + length_bonus

where psi_ctc(h) is the CTC prefix probability: the probability that the CTC output *starts* with
h (for eos: that it is exactly h). The prefix probabilities are computed with the forward
recursion over frames, vectorized over all hypotheses and candidates of a step. The CTC term
keeps the decoder from dropping or repeating words (monotonic alignment), and ends hypotheses
where the audio ends.

Works with any model that has ``encode``, ``ctc_log_probs``, ``decoder_forward`` and ``eos_id``
(the ``transformer`` family). One utterance is searched at a time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List

import torch

NEG_INF = float("-inf")


@dataclass
class Hypothesis:
    tokens: List[int]          # token ids, without sos/eos
    score: float               # total joint log-score (length bonus included)
    finished: bool = False


class CTCPrefixScorer:
    """CTC prefix probabilities for one utterance.

    ctc_log_probs: (T, V) log-probs of the valid frames; blank = 0; ``eos`` is the decoder's end id.
    A state is ``(r, psi)``: ``r`` (T, 2) holds log r^n_t(h) (paths ending in the last token of h)
    and log r^b_t(h) (ending in blank) for every frame t; ``psi`` is log psi(h).
    """

    def __init__(self, ctc_log_probs: torch.Tensor, eos: int, blank: int = 0):
        self.x = ctc_log_probs.float()
        self.T = self.x.shape[0]
        self.eos, self.blank = eos, blank

    def initial_state(self):
        r = torch.full((self.T, 2), NEG_INF)
        r[:, 1] = torch.cumsum(self.x[:, self.blank], dim=0)  # the empty prefix: blanks only
        return r, 0.0

    def score(self, r_prev: torch.Tensor, last: torch.Tensor, candidates: torch.Tensor):
        """Extend hypotheses by candidates.

        r_prev: (T, M, 2) state of the hypothesis each candidate extends; last: (M,) its last token
        (-1 for the empty prefix); candidates: (M,) token ids (``eos`` allowed, never blank).
        Returns (r (T, M, 2), psi (M,)) for the extended prefixes.
        """
        T, M = self.T, candidates.shape[0]
        is_eos = candidates == self.eos
        xc = self.x[:, candidates.clamp(max=self.x.shape[1] - 1)]  # (T, M); eos column is unused
        xb = self.x[:, self.blank][:, None]
        r_gn, r_gb = r_prev[..., 0], r_prev[..., 1]
        # phi: probability of being able to emit c at t+1 after prefix g ends at t. When c repeats
        # g's last token, a blank must separate them, so only paths ending in blank count.
        phi = torch.logaddexp(r_gb, torch.where((last == candidates)[None, :], torch.full_like(r_gn, NEG_INF), r_gn))
        r = torch.full((T, M, 2), NEG_INF)
        empty = last < 0
        r[0, :, 0] = torch.where(empty, xc[0], torch.full_like(xc[0], NEG_INF))
        for t in range(1, T):
            r[t, :, 0] = torch.logaddexp(r[t - 1, :, 0], phi[t - 1]) + xc[t]
            r[t, :, 1] = torch.logaddexp(r[t - 1, :, 0], r[t - 1, :, 1]) + xb[t]
        psi = torch.logsumexp(torch.cat([r[:1, :, 0], phi[:-1] + xc[1:]], dim=0), dim=0)
        psi_eos = torch.logaddexp(r_gn[-1], r_gb[-1])
        return r, torch.where(is_eos, psi_eos, psi)


@torch.no_grad()
def attention_beam_search(
    model,
    features: torch.Tensor,
    lengths: torch.Tensor,
    beam_size: int = 10,
    ctc_weight: float = 0.3,
    length_bonus: float = 0.0,
    nbest: int = 1,
) -> List[List[Hypothesis]]:
    """features (B, T, F), lengths (B,) -> per utterance the ``nbest`` best hypotheses, best first.

    ``ctc_weight=0`` is pure attention decoding (hypotheses end when eos wins); ``ctc_weight>0``
    adds CTC prefix scores. Hypotheses are at most T' tokens long (CTC cannot emit more).
    """
    if not 0.0 <= ctc_weight <= 1.0:
        raise ValueError(f"ctc_weight={ctc_weight} must be within [0, 1]")
    enc, enc_lengths = model.encode(features, lengths)
    ctc_all = model.ctc_log_probs(enc).cpu()
    results = []
    for b in range(features.shape[0]):
        T = int(enc_lengths[b])
        results.append(_search_one(model, enc[b:b + 1, :T], ctc_all[b, :T], beam_size, ctc_weight, length_bonus, nbest))
    return results


def _search_one(model, enc, ctc_lp, beam, ctc_weight, length_bonus, nbest) -> List[Hypothesis]:
    eos = model.eos_id
    V = ctc_lp.shape[1]
    scorer = CTCPrefixScorer(ctc_lp, eos=eos)
    T = scorer.T
    n_cand = min(V, int(math.ceil(1.5 * beam)))
    r0, psi0 = scorer.initial_state()
    # running hypotheses: token lists, scores, CTC states (T, N, 2), psi (N,)
    hyps: List[List[int]] = [[]]
    scores = torch.zeros(1)
    states = r0[:, None, :]
    psis = torch.tensor([psi0])
    finished: List[Hypothesis] = []
    enc_len = torch.tensor([T], device=enc.device)
    for _ in range(T + 1):
        N = len(hyps)
        ys = torch.tensor([[eos] + h for h in hyps], device=enc.device)  # sos = eos id
        att = model.decoder_forward(enc.expand(N, -1, -1), enc_len.expand(N), ys)[:, -1].float().cpu()  # (N, V+1)
        att[:, 0] = NEG_INF  # the decoder never emits the CTC blank
        cand_att, cands = att.topk(n_cand, dim=-1)  # (N, K)
        hyp_idx = torch.arange(N)[:, None].expand(N, n_cand).reshape(-1)
        cands, cand_att = cands.reshape(-1), cand_att.reshape(-1)
        if ctc_weight > 0:
            last = torch.tensor([h[-1] if h else -1 for h in hyps])[hyp_idx]
            r_new, psi_new = scorer.score(states[:, hyp_idx], last, cands)
            ctc_gain = psi_new - psis[hyp_idx]
        else:
            r_new, psi_new, ctc_gain = None, torch.zeros_like(cand_att), torch.zeros_like(cand_att)
        joint = scores[hyp_idx] + (1 - ctc_weight) * cand_att + ctc_weight * ctc_gain + length_bonus
        joint = torch.where(torch.isfinite(joint), joint, torch.full_like(joint, NEG_INF))
        order = joint.argsort(descending=True)[:beam]
        new_hyps, keep = [], []
        for i in order.tolist():
            if not math.isfinite(float(joint[i])):
                break
            h = hyps[int(hyp_idx[i])]
            if int(cands[i]) == eos:
                finished.append(Hypothesis(list(h), float(joint[i]), True))
            else:
                new_hyps.append(h + [int(cands[i])])
                keep.append(i)
        best_finished = max((f.score for f in finished), default=NEG_INF)
        if not keep or len(new_hyps[0]) > T:
            break
        keep_t = torch.tensor(keep)
        # Scores only fall (log-probs <= 0) unless a length bonus is given: stop once no running
        # hypothesis can beat the best finished one.
        if length_bonus <= 0 and float(joint[keep_t].max()) < best_finished and len(finished) >= nbest:
            break
        hyps, scores = new_hyps, joint[keep_t]
        if ctc_weight > 0:
            states, psis = r_new[:, keep_t], psi_new[keep_t]
    if not finished:  # ran out of length: take the running hypotheses as they are
        finished = [Hypothesis(h, float(s)) for h, s in zip(hyps, scores.tolist())]
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:nbest]
