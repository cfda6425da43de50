"""docs/extending.md works as printed: every fenced block whose first line is ``# test: NAME`` is run here.

Each ``python`` block runs as its own module (``docs_extending_<name>``), in the order of the document, so the
examples register their components exactly as a plugin module would; the ``-usage`` blocks carry the document's
own assertions. The tests below add the checks a reader cannot see (padding invariance, config composition, the
engine and the server using the components). Everything the examples registered is removed again afterwards, so
other tests see the registries as they were.
"""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"^```(\w+)\n# test: ([\w-]+)\n(.*?)^```", re.S | re.M)
EXPECTED = ["model", "model-usage", "model-preset", "attention-model", "attention-model-usage", "criterion",
            "criterion-usage", "tokenizer", "tokenizer-usage", "normalizer", "normalizer-usage", "task", "task-usage",
            "decoder", "decoder-usage", "vad", "vad-usage", "app", "app-usage"]


def doc_blocks():
    """[(name, language, code)] in document order."""
    return [(name, lang, code) for lang, name, code in BLOCK.findall(DOC.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def docs():
    """Run every tested block of the document; yield {name: module namespace or YAML text}; then unregister."""
    from hypersp.registry import ALL_REGISTRIES

    for registry in ALL_REGISTRIES.values():
        registry.names()  # built-ins and plugins loaded before the snapshot
    before = {kind: dict(registry._entries) for kind, registry in ALL_REGISTRIES.items()}
    out, modules = {}, []
    torch.manual_seed(0)
    try:
        for name, lang, code in doc_blocks():
            if lang != "python":
                out[name] = code
                continue
            module = types.ModuleType(f"docs_extending_{name.replace('-', '_')}")
            sys.modules[module.__name__] = module  # as an imported plugin module: dataclasses and pickling need it
            modules.append(module.__name__)
            try:
                exec(compile(code, f"{DOC}:{name}", "exec"), module.__dict__)
            except Exception as err:
                raise AssertionError(f"docs/extending.md block '# test: {name}' failed: {type(err).__name__}: {err}") from err
            out[name] = module
        yield out
    finally:
        for kind, registry in ALL_REGISTRIES.items():
            registry._entries.clear()
            registry._entries.update(before[kind])
        for name in modules:
            sys.modules.pop(name, None)


def test_every_kind_has_a_tested_example():
    assert [name for name, _, _ in doc_blocks()] == EXPECTED


def test_examples_register_under_their_modules(docs):
    from hypersp.registry import (APPS, CRITERIONS, DECODERS, MODELS, SCORING_NORMALIZERS, TASKS, TEXT_NORMALIZERS,
                                  TOKENIZERS, VADS)

    for registry, name, block in [(MODELS, "my_tdnn", "model"), (MODELS, "my_las", "attention-model"),
                                  (CRITERIONS, "my_entropy_ctc", "criterion"), (TOKENIZERS, "my_syllables", "tokenizer"),
                                  (TEXT_NORMALIZERS, "my_no_fillers", "normalizer"),
                                  (SCORING_NORMALIZERS, "my_no_fillers_cer", "normalizer"), (TASKS, "my_calls", "task"),
                                  (DECODERS, "my_blank_penalty", "decoder"), (VADS, "my_loudness", "vad"),
                                  (APPS, "my_keywords", "app")]:
        assert name in registry.names(), (registry.kind, name)
        assert registry.entry(name).module == docs[block].__name__


def test_model_outputs_do_not_depend_on_padding(docs):
    from hypersp.registry import MODELS

    model = MODELS.build(MODELS.config_class("my_tdnn")(hidden=32, stride=3), input_dim=80, vocab_size=11).eval()
    x = torch.randn(3, 70, 80)
    lengths = torch.tensor([70, 41, 5])
    with torch.no_grad():
        batch, out_lengths = model(x, lengths)
        assert batch.shape == (3, 24, 11) and out_lengths.tolist() == [24, 14, 2]
        assert torch.allclose(batch.exp().sum(-1), torch.ones(3, 24), atol=1e-5)  # log-softmax
        for b, n in enumerate(lengths.tolist()):
            alone, alone_lengths = model(x[b:b + 1, :n], lengths[b:b + 1])
            assert alone_lengths.tolist() == [out_lengths[b]]
            assert torch.allclose(alone[0], batch[b, :out_lengths[b]], atol=1e-5)


def test_model_preset_is_found_by_arch(docs, tmp_path):
    """The preset block, saved in presets/ beside the model's module (as a plugin ships it), is found by --arch
    and builds (on the meta device, as tests/test_config.py builds every preset)."""
    from hypersp.checkpoint import build_model, build_tokenizer_and_task
    from hypersp.config import compose
    from hypersp.models.presets import list_presets

    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "my_tdnn_small.yaml").write_text(docs["model-preset"], encoding="utf-8")
    module = docs["model"]
    module.__file__ = str(tmp_path / "model.py")
    try:
        assert "my_tdnn_small" in list_presets()
        cfg = compose(task="synthetic", arch="my_tdnn_small")
        _, task = build_tokenizer_and_task(cfg)
        with torch.device("meta"):
            model = build_model(cfg, task)
    finally:
        del module.__file__
    assert cfg.model.name == "my_tdnn" and model.subsampling_factor == 4
    assert model.convs[0].out_channels == 192 and len(model.convs) == 4


def test_attention_model_meets_the_contract(docs):
    from hypersp.checkpoint import build_model, build_tokenizer_and_task
    from hypersp.config import compose
    from hypersp.registry import MODELS

    model = MODELS.build(MODELS.config_class("my_las")(hidden=16), input_dim=80, vocab_size=9).eval()
    assert model.has_attention_decoder and model.eos_id == 9
    enc, n = model.encode(torch.randn(2, 12, 80), torch.tensor([12, 7]))
    targets_in = torch.tensor([[9, 3, 4, 5], [9, 6, 9, 9]])
    out = model.decoder_forward(enc, n, targets_in)
    assert out.shape == (2, 4, 10)
    changed = targets_in.clone()
    changed[:, 3] = 1  # causal: the last input never changes earlier positions
    assert torch.allclose(model.decoder_forward(enc, n, changed)[:, :3], out[:, :3])
    assert compose(task="synthetic", arch="my_las").criterion.name == "ctc_attention"  # default_criterion
    ns = docs["attention-model-usage"].__dict__
    assert torch.isfinite(ns["loss"]) and {"ctc_loss", "att_loss"} <= set(ns["stats"])
    assert all(p.grad is not None for p in ns["model"].parameters())
    assert not re.search("[\u1100-\u11ff\u3130-\u318f]", ns["text"])  # no bare jamo


def test_tokenizer_round_trips_and_has_no_jamo_grammar(docs):
    from hypersp.decoding.grammar import token_grammar
    from hypersp.registry import TOKENIZERS

    tokenizer = TOKENIZERS.build(TOKENIZERS.config_class("my_syllables")())
    text = "가나다 힣 뷁"
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.encode("\u1100\u1161") == tokenizer.encode("가")  # NFD jamo input becomes the syllable
    assert token_grammar(tokenizer.tokens) is None


def test_task_uses_its_normalizers_and_scores_with_them(docs):
    from hypersp.checkpoint import build_tokenizer_and_task
    from hypersp.config import compose
    from hypersp.text.normalize import get_scoring_normalizer

    cfg = compose(task="my_calls", arch="my_tdnn")
    _, task = build_tokenizer_and_task(cfg)
    assert task.normalize_text("어, 환불 문의드려요!") == "환불 문의드려요"
    assert get_scoring_normalizer(cfg.task.scoring_normalizer)("음 네.") == "네"
    assert "valid_fraction" in {f for f in task.prepare_options().__dataclass_fields__}


def test_decoder_through_the_engine(docs):
    import hypersp
    from hypersp.testing import sine_wave

    asr = hypersp.load("demo_ko_16k", decoding="my_blank_penalty")
    t = asr.transcribe(sine_wave(1.0), 16000)
    greedy = hypersp.load("demo_ko_16k", decoding="greedy").transcribe(sine_wave(1.0), 16000)
    assert len(t.text.replace(" ", "")) >= len(greedy.text.replace(" ", ""))  # the penalty never removes tokens here
    assert not re.search("[\u1100-\u11ff\u3130-\u318f]", t.text)
    assert all(w.start <= w.end for w in t.words)


def test_vad_at_8k_and_missing_speech(docs):
    from hypersp.config.schema import VadConfig
    from hypersp.inference.vads import available_vads, build_vad

    assert "my_loudness" in available_vads()
    vad = build_vad(VadConfig(name="my_loudness"))
    rate = 8000
    audio = np.zeros(3 * rate, np.float32)
    assert vad.segments(audio, rate) == []
    audio[rate:2 * rate] = 0.3 * np.sin(2 * np.pi * 300 * np.arange(rate) / rate)
    [(start, end)] = vad.segments(audio, rate)
    assert abs(start - 0.9) < 0.03 and abs(end - 2.1) < 0.03


def test_app_is_mounted_with_its_route(docs):
    pytest.importorskip("sanic")
    import hypersp
    from hypersp.serve.server import ServerContext, create_app

    server = ServerContext(hypersp.load("demo_ko_8k"))
    sanic_app = create_app(server, ["my_keywords"], name="docs_extending_app")
    paths = {route.path for route in sanic_app.router.routes}
    assert {"keywords", "recognize"} <= paths
    page = docs["app-usage"].__dict__["app"]
    assert page.port == 15010 and page.sample_rate == 8000 and page.title.startswith("키워드")
    result = page.recognize(server.recognizer, np.zeros((1, 8000), np.float32), 8000, settings={"words": False})
    assert result["keywords"] == [] and "segments" in result
