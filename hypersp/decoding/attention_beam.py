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

Valid Hangul (``grammar``, :mod:`hypersp.decoding.grammar`): candidates the grammar forbids after
a hypothesis get a score of -inf, and eos is allowed only in a final state, so every finished
hypothesis composes into syllables. If the search ends with nothing finished and no running
hypothesis in a final state, the result is the grammar-constrained CTC best path.
:class:`AttentionDecoder` (registered as ``attention``) always uses the tokenizer's grammar.

torch is imported when a search runs, not when this module is imported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

from hypersp.config.schema import DecodingConfig
from hypersp.decoding import base
from hypersp.decoding.align import ctc_forward_score
from hypersp.decoding.grammar import TokenGrammar, constrained_best_path
from hypersp.registry import register_decoder

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

    def __init__(self, ctc_log_probs, eos: int, blank: int = 0):
        self.x = ctc_log_probs.float()
        self.T = self.x.shape[0]
        self.eos, self.blank = eos, blank

    def initial_state(self):
        import torch

        r = torch.full((self.T, 2), NEG_INF)
        r[:, 1] = torch.cumsum(self.x[:, self.blank], dim=0)  # the empty prefix: blanks only
        return r, 0.0

    def score(self, r_prev, last, candidates):
        """Extend hypotheses by candidates.

        r_prev: (T, M, 2) state of the hypothesis each candidate extends; last: (M,) its last token
        (-1 for the empty prefix); candidates: (M,) token ids (``eos`` allowed, never blank).
        Returns (r (T, M, 2), psi (M,)) for the extended prefixes.
        """
        import torch

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


def attention_beam_search(
    model,
    features,
    lengths,
    beam_size: int = 10,
    ctc_weight: float = 0.3,
    length_bonus: float = 0.0,
    nbest: int = 1,
    grammar: Optional[TokenGrammar] = None,
) -> List[List[Hypothesis]]:
    """features (B, T, F), lengths (B,) torch tensors -> per utterance the ``nbest`` best
    hypotheses, best first.

    ``ctc_weight=0`` is pure attention decoding (hypotheses end when eos wins); ``ctc_weight>0``
    adds CTC prefix scores. Hypotheses are at most T' tokens long (CTC cannot emit more).
    ``grammar``: token sequences must obey it (module docstring); ``None``: no constraint.
    """
    return [found for found, _ in _search(model, features, lengths, beam_size, ctc_weight, length_bonus, nbest, grammar)]


def _search(model, features, lengths, beam_size, ctc_weight, length_bonus, nbest, grammar):
    """Per utterance: (n-best list, its (T', V) CTC log-probs on the CPU)."""
    import torch

    if not 0.0 <= ctc_weight <= 1.0:
        raise ValueError(f"ctc_weight={ctc_weight} must be within [0, 1]")
    with torch.no_grad():
        enc, enc_lengths = model.encode(features, lengths)
        ctc_all = model.ctc_log_probs(enc).float().cpu()
        results = []
        for b in range(features.shape[0]):
            T = int(enc_lengths[b])
            found = _search_one(model, enc[b:b + 1, :T], ctc_all[b, :T], beam_size, ctc_weight, length_bonus, nbest,
                                grammar)
            results.append((found, ctc_all[b, :T]))
    return results


def _search_one(model, enc, ctc_lp, beam, ctc_weight, length_bonus, nbest, grammar=None) -> List[Hypothesis]:
    import torch

    eos = model.eos_id
    V = ctc_lp.shape[1]
    if grammar is not None and len(grammar.tokens) != V:
        raise ValueError(f"the grammar covers {len(grammar.tokens)} tokens, the model's CTC output has {V}")
    if grammar is not None:
        allowed = torch.from_numpy(grammar.allowed)  # (S, V)
        final = torch.from_numpy(grammar.final)      # (S,)
    gstates: List[int] = [grammar.start] if grammar is not None else [0]
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
        if grammar is not None:  # tokens the grammar forbids; eos only in a final state
            g = torch.tensor(gstates)
            att[:, :V] = att[:, :V].masked_fill(~allowed[g], NEG_INF)
            att[:, eos] = att[:, eos].masked_fill(~final[g], NEG_INF)
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
        new_hyps, new_gstates, keep = [], [], []
        for i in order.tolist():
            if not math.isfinite(float(joint[i])):
                break
            src = int(hyp_idx[i])
            h = hyps[src]
            c = int(cands[i])
            if c == eos:
                finished.append(Hypothesis(list(h), float(joint[i]), True))
            else:
                new_hyps.append(h + [c])
                new_gstates.append(grammar.step(gstates[src], c) if grammar is not None else 0)
                keep.append(i)
        best_finished = max((f.score for f in finished), default=NEG_INF)
        if not keep or len(new_hyps[0]) > T:
            break
        keep_t = torch.tensor(keep)
        # Scores only fall (log-probs <= 0) unless a length bonus is given: stop once no running
        # hypothesis can beat the best finished one.
        if length_bonus <= 0 and float(joint[keep_t].max()) < best_finished and len(finished) >= nbest:
            break
        hyps, scores, gstates = new_hyps, joint[keep_t], new_gstates
        if ctc_weight > 0:
            states, psis = r_new[:, keep_t], psi_new[keep_t]
    if not finished:  # ran out of length: take the running hypotheses that may end here
        finished = [Hypothesis(h, float(s)) for h, s, g in zip(hyps, scores.tolist(), gstates)
                    if grammar is None or grammar.is_final(g)]
    if not finished:  # none: the grammar-constrained CTC best path
        ids, path_score = constrained_best_path(ctc_lp.numpy(), grammar)
        finished = [Hypothesis(ids, path_score)]
    finished.sort(key=lambda h: h.score, reverse=True)
    return finished[:nbest]


@register_decoder("attention", config=DecodingConfig)
class AttentionDecoder(base.Decoder):
    """Attention beam search with CTC prefix scores (``beam_size``, ``ctc_weight``, ``length_bonus``,
    ``nbest``) on a model with an attention decoder (``has_attention_decoder``, an ``AttentionSpeechModel``
    such as the ``transformer`` family), always with the tokenizer's Hangul grammar. ``needs_model``: the engine calls
    :meth:`decode_features`. ``acoustic_score`` of a hypothesis is its CTC log-probability."""

    needs_model = True

    def __init__(self, cfg, *, tokenizer, model=None):
        super().__init__(cfg, tokenizer=tokenizer, model=model)
        if model is None or not getattr(model, "has_attention_decoder", False):  # the model contract (models/base.py)
            raise ValueError(f"decoding.name=attention needs a model with an attention decoder (has_attention_decoder: "
                             f"an AttentionSpeechModel with decoder_forward, e.g. transformer), not "
                             f"{type(model).__name__}; use greedy or ctc_beam")

    def decode_features(self, features, lengths) -> List[List[base.Hypothesis]]:
        c = self.cfg
        param = next(iter(self.model.parameters()), None)
        if param is not None:
            features, lengths = features.to(param.device), lengths.to(param.device)
        out = []
        for found, ctc_lp in _search(self.model, features, lengths, c.beam_size, c.ctc_weight, c.length_bonus,
                                     c.nbest, self.grammar):
            lp = ctc_lp.numpy()
            out.append([base.Hypothesis(ids=list(h.tokens), score=h.score,
                                        acoustic_score=ctc_forward_score(lp, h.tokens, self.blank_id))
                        for h in found] or [base.Hypothesis()])
        return out
