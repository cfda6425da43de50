"""Corpus-level evaluation: decode a data loader and score it."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

import torch

from hypersp.decoding.greedy import greedy_ctc_decode
from hypersp.metrics import ErrorRates

DECODERS = ("greedy", "ctc_beam", "attention")


def make_decoder(decoding: Any, model: torch.nn.Module, tokenizer: Any) -> Callable[[Any], List[List[Dict[str, Any]]]]:
    """A function ``batch -> per utterance a list of {"ids": [...], "score": float}`` (best first).

    ``decoding`` is a ``DecodingConfig`` (or None / name ``greedy``: best path, score 0). ``ctc_beam``
    runs CTC prefix beam search on ``model(features, lengths)`` (LM, hotwords, N-best);
    ``attention`` runs attention beam search with CTC prefix scores (models with a decoder).
    """
    name = getattr(decoding, "name", "greedy") if decoding is not None else "greedy"
    if name not in DECODERS:
        raise ValueError(f"decoding.name={name!r}; choose one of {', '.join(DECODERS)}")
    if name == "greedy":
        def decode(batch):
            log_probs, out_lengths = model(batch.features, batch.feature_lengths)
            return [[{"ids": ids, "score": 0.0}] for ids in greedy_ctc_decode(log_probs, out_lengths)]
        return decode
    if name == "ctc_beam":
        from hypersp.decoding.ctc_beam import ctc_beam_decoder_for

        beam = ctc_beam_decoder_for(
            tokenizer, beam_size=decoding.beam_size, lm_path=decoding.lm_path, lm_weight=decoding.lm_weight,
            word_bonus=decoding.word_bonus, hotwords=list(decoding.hotwords), hotword_weight=decoding.hotword_weight,
            nbest=decoding.nbest, prune_topk=decoding.prune_topk, token_min_logprob=decoding.token_min_logprob,
            blank_threshold=decoding.blank_threshold,
        )

        def decode(batch):
            log_probs, out_lengths = model(batch.features, batch.feature_lengths)
            return [[{"ids": h.tokens, "score": round(h.score, 4), "acoustic_score": round(h.acoustic_score, 4),
                      "lm_score": round(h.lm_score, 4)} for h in nbest] for nbest in beam(log_probs, out_lengths)]
        return decode
    from hypersp.decoding.attention_beam import attention_beam_search

    if not hasattr(model, "decoder_forward"):
        raise ValueError(f"decoding.name=attention needs a model with an attention decoder (e.g. transformer), "
                         f"not {type(model).__name__}; use greedy or ctc_beam")

    def decode(batch):
        found = attention_beam_search(model, batch.features, batch.feature_lengths, beam_size=decoding.beam_size,
                                      ctc_weight=decoding.ctc_weight, length_bonus=decoding.length_bonus,
                                      nbest=decoding.nbest)
        return [[{"ids": h.tokens, "score": round(h.score, 4)} for h in nbest] or [{"ids": [], "score": 0.0}]
                for nbest in found]
    return decode


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    task: Any,
    loader,
    device: torch.device,
    scoring_normalizer: Optional[Callable[[str], str]] = None,
    max_utterances: int = 0,
    keep_hypotheses: bool = False,
    decoding: Any = None,
) -> Dict[str, Any]:
    """Decode every batch (greedy unless ``decoding`` says otherwise, see :func:`make_decoder`) and
    return CER/WER, counts, audio seconds and RTF. With ``decoding.nbest > 1`` and
    ``keep_hypotheses``, each hypothesis line also lists the N-best texts with their scores.

    RTF = wall seconds spent (loading, features, model, decoding) / audio seconds.
    References are normalized with the task's text normalizer (as the training targets were),
    then both sides with ``scoring_normalizer``.
    """
    was_training = model.training
    model.eval()
    scores = ErrorRates(normalize=scoring_normalizer)
    audio_seconds = 0.0
    skipped: List[tuple] = []
    hypotheses: List[Dict[str, str]] = []
    decode = make_decoder(decoding, model, task.tokenizer)
    nbest_wanted = int(getattr(decoding, "nbest", 1) or 1) if decoding is not None else 1
    start = time.perf_counter()
    for batch in loader:
        skipped += batch.skipped
        if len(batch) == 0:
            continue
        batch = batch.to(device)
        for utt_id, ref, nbest in zip(batch.ids, batch.texts, decode(batch)):
            hyp = task.decode(nbest[0]["ids"]) if nbest else ""
            ref = task.normalize_text(ref)
            scores.update(ref, hyp)
            if keep_hypotheses:
                line = {"utt_id": utt_id, "ref": ref, "hyp": hyp}
                if nbest_wanted > 1:
                    line["nbest"] = [{"text": task.decode(h["ids"]), **{k: v for k, v in h.items() if k != "ids"}}
                                     for h in nbest]
                hypotheses.append(line)
        audio_seconds += sum(batch.durations)
        if max_utterances and scores.utterances >= max_utterances:
            break
    elapsed = time.perf_counter() - start
    model.train(was_training)
    result: Dict[str, Any] = scores.result()
    result.update(
        audio_seconds=round(audio_seconds, 2),
        decode_seconds=round(elapsed, 3),
        rtf=round(elapsed / max(audio_seconds, 1e-9), 5),
        skipped=len(skipped),
    )
    if keep_hypotheses:
        result["hypotheses"] = hypotheses
    if skipped:
        result["skipped_examples"] = [f"{u}: {r}" for u, r in skipped[:10]]
    return result
