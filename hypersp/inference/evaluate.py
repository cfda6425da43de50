"""Corpus-level evaluation: decode a data loader and score it."""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

import torch

from hypersp.decoding.greedy import greedy_ctc_decode
from hypersp.metrics import ErrorRates


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    task: Any,
    loader,
    device: torch.device,
    scoring_normalizer: Optional[Callable[[str], str]] = None,
    max_utterances: int = 0,
    keep_hypotheses: bool = False,
) -> Dict[str, Any]:
    """Greedy-decode every batch and return CER/WER, counts, audio seconds and RTF.

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
    start = time.perf_counter()
    for batch in loader:
        skipped += batch.skipped
        if len(batch) == 0:
            continue
        batch = batch.to(device)
        log_probs, out_lengths = model(batch.features, batch.feature_lengths)
        for utt_id, ref, ids in zip(batch.ids, batch.texts, greedy_ctc_decode(log_probs, out_lengths)):
            hyp = task.decode(ids)
            ref = task.normalize_text(ref)
            scores.update(ref, hyp)
            if keep_hypotheses:
                hypotheses.append({"utt_id": utt_id, "ref": ref, "hyp": hyp})
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
