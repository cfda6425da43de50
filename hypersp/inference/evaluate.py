"""Corpus-level evaluation and scoring.

- :func:`evaluate_manifest` (``hypersp-eval``): every manifest utterance goes through the recognition
  engine (``Recognizer.recognize``, or ``transcribe`` with VAD segmentation when ``segment=True``), so
  eval scores exactly the text the Python API, ``hypersp-transcribe`` and the server return.
- :func:`evaluate` (validation during training): the data loader's feature batches, the model and the
  same registered decoders (greedy unless ``decoding`` says otherwise).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

import torch

from hypersp.metrics import ErrorBreakdown, ErrorRates

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
    """Decode every batch (greedy unless ``decoding`` says otherwise: a registered decoder) and
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
    from hypersp.decoding import build_decoder

    decoder = build_decoder(decoding, task.tokenizer, model=model)

    def decode(batch):
        if decoder.needs_model:
            found = decoder.decode_features(batch.features, batch.feature_lengths)
        else:
            log_probs, out_lengths = model(batch.features, batch.feature_lengths)
            lp = log_probs.float().cpu().numpy()
            found = decoder.decode_batch([lp[i, :int(n)] for i, n in enumerate(out_lengths.tolist())])
        return [[{"ids": h.ids, "score": round(h.score, 4), "acoustic_score": round(h.acoustic_score, 4),
                  "lm_score": round(h.lm_score, 4)} for h in nbest] for nbest in found]
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


def evaluate_manifest(recognizer: Any, manifest: str, text_normalizer: Callable[[str], str],
                      scoring_normalizer: Optional[Callable[[str], str]] = None, segment: bool = False,
                      batch_seconds: Optional[float] = None, keep_hypotheses: bool = False, progress: bool = False,
                      score_display: bool = False, **decoding: Any) -> Dict[str, Any]:
    """Score ``recognizer`` (the engine) on a NeMo manifest; returns CER/WER, counts, audio seconds, RTF.

    Each utterance is read at the engine's rate (``offset``/``duration`` honoured) and recognized whole
    (``segment=False``: batched by ``batch_seconds``, by default the engine's) or cut by the VAD first
    (``segment=True``, as the offline server does). References go through ``text_normalizer`` (the task's: what
    training targets were made with), then both sides through ``scoring_normalizer``; ``breakdown`` holds the character
    substitutions/deletions/insertions, CER by speaker, domain and length, and the worst utterances
    (``hypersp.metrics.ErrorBreakdown``). ``score_display=True`` scores the display form instead
    (``Segment.display``: written numbers, punctuation, spacing) against written-form references: the
    manifest's ``text`` as it is (``text_normalizer`` is not applied: it would read digits out), then
    ``scoring_normalizer`` on both sides. Unreadable audio is skipped, counted
    (``skipped``) and listed (``skipped_examples``). RTF = wall seconds (reading, features, model,
    decoding) / audio seconds. Extra keywords are decoding settings for this run.
    """
    from hypersp.audio.io import AudioReadError, load_audio
    from hypersp.data.manifest import read_manifest

    entries = read_manifest(manifest)
    scores = ErrorRates(normalize=scoring_normalizer)
    breakdown = ErrorBreakdown()
    decoder = recognizer.decoder_for(**decoding)
    rate = recognizer.sample_rate
    audio_seconds, skipped, hypotheses = 0.0, [], []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(entries), unit="utt", desc="eval", leave=False)
    start = time.perf_counter()
    pending: List[tuple] = []

    def flush() -> None:
        if not pending:
            return
        waves = [w for _, w in pending]
        if segment:
            segs = [recognizer.transcribe(w, words=False, decoder=decoder) for w in waves]
            texts = [(t.display if score_display else t.text, []) for t in segs]
        else:
            found = recognizer.recognize(waves, words=False, decoder=decoder)
            texts = [(s.display if score_display else s.text, s.nbest) for s in found]
        for (e, wave), (hyp, nbest) in zip(pending, texts):
            ref = " ".join(e.text.split()) if score_display else text_normalizer(e.text)
            scores.update(ref, hyp)
            score = scoring_normalizer or (lambda t: t)
            breakdown.update(score(ref), score(hyp), e.utt_id, str(e.extra.get("speaker", "") or ""),
                             str(e.extra.get("domain") or e.extra.get("register") or e.extra.get("corpus") or ""),
                             wave.size / rate)
            if keep_hypotheses:
                line = {"utt_id": e.utt_id, "ref": ref, "hyp": hyp}
                if nbest:
                    line["nbest"] = nbest
                hypotheses.append(line)
        if bar is not None:
            bar.update(len(pending))
        pending.clear()

    batch_seconds = batch_seconds or recognizer.batch_seconds
    budget = 0.0
    for e in entries:
        try:
            wave = load_audio(e.audio_filepath, rate, offset=e.offset, duration=e.duration if e.offset else 0.0)
        except AudioReadError as err:
            skipped.append((e.utt_id, str(err)))
            continue
        if wave.size == 0:
            skipped.append((e.utt_id, f"empty audio: {e.audio_filepath}"))
            continue
        seconds = wave.size / rate
        if pending and budget + seconds > batch_seconds:
            flush()
            budget = 0.0
        pending.append((e, wave))
        budget += seconds
        audio_seconds += seconds
    flush()
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    result: Dict[str, Any] = scores.result()
    result.update(audio_seconds=round(audio_seconds, 2), decode_seconds=round(elapsed, 3),
                  rtf=round(elapsed / max(audio_seconds, 1e-9), 5), skipped=len(skipped))
    if skipped:
        result["skipped_examples"] = [f"{u}: {r}" for u, r in skipped[:10]]
    result["breakdown"] = breakdown.result()
    if keep_hypotheses:
        result["hypotheses"] = hypotheses
    return result
