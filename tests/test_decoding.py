"""The decoder contract: registered decoders built from DecodingConfig, Hypothesis, import cost."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from hypersp.config.schema import DecodingConfig
from hypersp.decoding import Decoder, Hypothesis, build_decoder
from hypersp.decoding.base import decoding_config
from hypersp.decoding.ctc_beam import CTCBeamDecoder
from hypersp.decoding.greedy import GreedyDecoder, greedy_ctc_decode
from hypersp.decoding.ngram import build_arpa, load_lm
from hypersp.registry import ALL_REGISTRIES, DECODERS, RegistryError, register_decoder
from hypersp.tokenizers.char import CharTokenizer


def char_tokenizer(texts=("가나다 라마 바사",)):
    tok = CharTokenizer()
    tok.fit(texts)
    return tok


def peaked(ids_per_frame, V, p=0.9):
    """(T, V) log-probs: frame t puts ``p`` on its label (0 = blank), the rest spread evenly."""
    lp = np.full((len(ids_per_frame), V), (1 - p) / (V - 1))
    lp[np.arange(len(ids_per_frame)), ids_per_frame] = p
    return np.log(lp).astype(np.float32)


def test_builtin_decoders_are_registered():
    assert {"greedy", "ctc_beam", "attention"} <= set(DECODERS.names())
    assert ALL_REGISTRIES["decoder"] is DECODERS
    assert DECODERS.config_class("ctc_beam") is DecodingConfig
    assert DECODERS.entry("greedy").distribution == "hypersp"


def test_build_decoder_from_config_name_none_and_dict():
    tok = char_tokenizer()
    assert isinstance(build_decoder(None, tok), GreedyDecoder)
    assert isinstance(build_decoder("ctc_beam", tok), CTCBeamDecoder)
    dec = build_decoder(DecodingConfig(name="ctc_beam", beam_size=3, nbest=2, hotwords=["가나"]), tok)
    assert dec.search.beam_size == 3 and dec.search.nbest == 2 and dec.search.hot is not None
    # a dict or an OmegaConf node (a checkpoint's decoding group) works too; unknown keys are ignored
    from omegaconf import OmegaConf

    node = OmegaConf.create({"name": "ctc_beam", "beam_size": 5, "hotwords": ["가나"], "old_key": 1})
    assert build_decoder(node, tok).search.beam_size == 5
    assert decoding_config({"name": "greedy", "nbest": 3}).nbest == 3


def test_unknown_decoder_lists_the_known_ones():
    with pytest.raises(RegistryError) as err:
        build_decoder(DecodingConfig(name="ctc_bean"), char_tokenizer())
    msg = str(err.value)
    assert "ctc_beam (hypersp)" in msg and "greedy (hypersp)" in msg and "Did you mean 'ctc_beam'" in msg


def test_a_plugin_can_register_a_decoder():
    @register_decoder("test_reverse_greedy", config=DecodingConfig)
    class ReverseGreedy(Decoder):
        def decode(self, log_probs):
            ids = [int(i) for i in np.asarray(log_probs).argmax(1) if i]
            return [Hypothesis(ids=ids[::-1])]

    tok = char_tokenizer()
    dec = build_decoder(DecodingConfig(name="test_reverse_greedy"), tok)
    V = tok.vocab_size
    assert dec.decode(peaked([2, 0, 3], V))[0].ids == [3, 2]
    assert dec.decode_batch([peaked([2], V), peaked([3], V)]) == [[Hypothesis([2])], [Hypothesis([3])]]


def test_greedy_hypothesis_scores_and_batch():
    tok = char_tokenizer()
    V = tok.vocab_size
    lp = peaked([0, 2, 2, 0, 2, 3, 3, 0], V)
    (h,) = build_decoder(None, tok).decode(lp)
    assert h.ids == [2, 2, 3]
    best = float(lp.max(1).astype(np.float64).sum())
    assert h.score == pytest.approx(best) and h.acoustic_score == pytest.approx(best) and h.lm_score == 0.0
    assert h.ids == greedy_ctc_decode(torch.from_numpy(lp)[None])[0]
    # a torch tensor is accepted; empty input gives one empty hypothesis
    assert build_decoder(None, tok).decode(torch.from_numpy(lp))[0].ids == [2, 2, 3]
    assert build_decoder(None, tok).decode(np.zeros((0, V), np.float32)) == [Hypothesis([], 0.0, 0.0, 0.0)]
    with pytest.raises(ValueError, match=r"\(T, V\)"):
        build_decoder(None, tok).decode(lp[None])


def test_ctc_beam_decoder_uses_every_config_field(tmp_path):
    tok = char_tokenizer(["가다 나다"])
    lm_path = tmp_path / "w.arpa"
    build_arpa(["가다"] * 20 + ["나다"], order=2).save(lm_path)
    V = tok.vocab_size
    lp = np.full((4, V), 1e-6)
    lp[0, tok.token_to_id("나")], lp[0, tok.token_to_id("가")] = 0.55, 0.45
    lp[2, tok.token_to_id("다")] = 0.99
    lp[:, 0] = np.maximum(1e-6, 1 - lp.sum(1))
    lp = np.log(lp / lp.sum(1, keepdims=True)).astype(np.float32)
    plain = build_decoder(DecodingConfig(name="ctc_beam", beam_size=8), tok).decode(lp)
    assert tok.decode(plain[0].ids) == "나다" and plain[0].lm_score == 0.0
    cfg = DecodingConfig(name="ctc_beam", beam_size=8, nbest=2, lm_path=str(lm_path), lm_weight=1.0)
    fused = build_decoder(cfg, tok).decode(lp)
    assert len(fused) == 2 and tok.decode(fused[0].ids) == "가다"
    assert fused[0].score == pytest.approx(fused[0].acoustic_score + fused[0].lm_score, rel=1e-6)
    assert fused[0].score >= fused[1].score
    assert load_lm(lm_path) is load_lm(str(lm_path))  # read once per process
    boosted = build_decoder(DecodingConfig(name="ctc_beam", beam_size=8, hotwords=["가다"], hotword_weight=1.0), tok)
    assert tok.decode(boosted.decode(lp)[0].ids) == "가다"


def test_attention_decoder_needs_a_model_with_a_decoder():
    tok = char_tokenizer()
    with pytest.raises(ValueError, match="decoder_forward"):
        build_decoder("attention", tok, model=torch.nn.Linear(2, 2))

    class DuckTyped(torch.nn.Module):  # has decoder_forward but does not declare an attention decoder
        def decoder_forward(self, enc, enc_lengths, ys):
            raise AssertionError("never called")

    with pytest.raises(ValueError, match="has_attention_decoder"):
        build_decoder("attention", tok, model=DuckTyped())
    with pytest.raises(ValueError, match="attention decoder"):
        build_decoder("attention", tok)
    assert DECODERS.get("attention").needs_model and not DECODERS.get("ctc_beam").needs_model


def test_attention_decoder_decodes_features():
    from tests.test_decoding_grammar import tiny_transformer
    from hypersp.tokenizers.jamo import JamoTokenizer

    torch.set_num_threads(1)
    tok = JamoTokenizer()
    model = tiny_transformer(tok.vocab_size)
    dec = build_decoder(DecodingConfig(name="attention", beam_size=3, nbest=2), tok, model=model)
    feats, lengths = torch.randn(2, 41, 16), torch.tensor([41, 33])
    out = dec.decode_features(feats, lengths)
    assert len(out) == 2 and all(1 <= len(nb) <= 2 for nb in out)
    for nb in out:
        assert all(isinstance(h, Hypothesis) and h.acoustic_score <= 0.0 for h in nb)
        assert [h.score for h in nb] == sorted((h.score for h in nb), reverse=True)
    with pytest.raises(NotImplementedError, match="decode_features"):
        dec.decode(np.zeros((3, tok.vocab_size), np.float32))


def test_decoding_modules_do_not_import_torch():
    code = ("import sys, hypersp.decoding, hypersp.decoding.greedy, hypersp.decoding.ctc_beam, "
            "hypersp.decoding.attention_beam, hypersp.decoding.align, hypersp.decoding.grammar; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
