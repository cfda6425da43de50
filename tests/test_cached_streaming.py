"""Cached streaming inference: conformer forward_chunk equals the masked full forward; incremental features;
the streaming recognizer's cached mode (finals from the streamed frames) and its fallback."""
import importlib.util
import logging
from dataclasses import replace

import numpy as np
import pytest
import torch

from hypersp.models.base import StreamContext
from hypersp.models.conformer.model import ConformerConfig, ConformerModel

# float32 rounding: different summation lengths in attention and convolution; measured max |diff| ~1e-6
TOLERANCE = 1e-4


def tiny(**kw):
    cfg = dict(d_model=32, n_layers=2, n_heads=2, conv_kernel_size=7, subsampling_conv_channels=8)
    cfg.update(kw)
    return ConformerConfig(**cfg)


def streamed(model, feats, context, seed):
    """Feed ``feats (1, T, F)`` in random chunks (0..12 frames) -> all output frames (T', V)."""
    rng = np.random.default_rng(seed)
    state, out, i = model.init_stream_state(context), [], 0
    with torch.no_grad():
        while i < feats.shape[1]:
            n = int(rng.integers(0, 13))
            lp, state = model.forward_chunk(feats[:, i:i + n], state)
            out.append(lp)
            i += n
        lp, state = model.forward_chunk(feats[:, :0], state, last=True)
    return torch.cat(out + [lp], dim=1)[0]


def streamed_together(model, feats, context, rng, max_chunk, linger=True):
    """Stream the utterances ``feats`` (each (T_i, F)) through ``model.forward_chunks`` together: every step gives
    each live utterance its next 0..``max_chunk`` frames; one that has had all its frames ends (``last``) at once,
    or with ``linger`` only half the time, taking steps of no frames meanwhile. -> each one's frames (T'_i, V)."""
    states = [model.init_stream_state(context) for _ in feats]
    pos, outs = [0] * len(feats), [[] for _ in feats]
    with torch.no_grad():
        while any(st is not None for st in states):
            live = [i for i, st in enumerate(states) if st is not None]
            chunks, last = [], []
            for i in live:
                chunks.append(feats[i][pos[i]:pos[i] + int(rng.integers(0, max_chunk + 1))])
                pos[i] += chunks[-1].shape[0]
                last.append(pos[i] == feats[i].shape[0] and (not linger or bool(rng.random() < 0.5)))
            log_probs, new = model.forward_chunks(chunks, [states[i] for i in live], last)
            for k, i in enumerate(live):
                outs[i].append(log_probs[k])
                states[i] = None if last[k] else new[k]
    return [torch.cat(o) for o in outs]


@pytest.mark.parametrize("left,right,causal", [(6, 2, False), (-1, 0, False), (4, 0, True), (0, 1, False)])
def test_conformer_stream_equals_masked_full_forward(left, right, causal):
    torch.manual_seed(0)
    model = ConformerModel(tiny(conv_causal=causal), input_dim=20, vocab_size=11).eval()
    ref = ConformerModel(tiny(conv_causal=causal, att_context_left=left, att_context_right=right),
                         input_dim=20, vocab_size=11).eval()
    ref.load_state_dict(model.state_dict())
    full_context = ConformerModel(tiny(conv_causal=causal), input_dim=20, vocab_size=11).eval()
    full_context.load_state_dict(model.state_dict())
    for T in (1, 2, 3, 4, 5, 9, 41, 97):
        feats = torch.randn(1, T, 20)
        with torch.no_grad():
            expect, lengths = ref(feats, torch.tensor([T]))
        got = streamed(model, feats, StreamContext(left, right), seed=T)
        assert got.shape == expect[0].shape, (T, got.shape, expect.shape)
        assert (got - expect[0]).abs().max().item() < TOLERANCE, T
        if T == 97 and left >= 0:  # the limits matter: the same weights with full context differ
            with torch.no_grad():
                unlimited, _ = full_context(feats, torch.tensor([T]))
            assert (got - unlimited[0]).abs().max().item() > 1e-3


@pytest.mark.parametrize("left,right,causal", [(6, 2, False), (4, 0, True), (-1, 1, False)])
def test_utterances_streamed_together_each_equal_their_masked_full_forward(left, right, causal):
    """forward_chunks: utterances at different points (new, long-running, ending, given no frames this step)
    go through each layer together, and each one's frames are those of its own masked full forward."""
    torch.manual_seed(1)
    model = ConformerModel(tiny(conv_causal=causal), input_dim=20, vocab_size=11).eval()
    ref = ConformerModel(tiny(conv_causal=causal, att_context_left=left, att_context_right=right),
                         input_dim=20, vocab_size=11).eval()
    ref.load_state_dict(model.state_dict())
    lengths = [1, 7, 30, 55, 97]
    feats = [torch.randn(T, 20) for T in lengths]
    outs = streamed_together(model, feats, StreamContext(left, right), np.random.default_rng(0), max_chunk=12)
    with torch.no_grad():
        for i, T in enumerate(lengths):
            expect, _ = ref(feats[i][None], torch.tensor([T]))
            assert outs[i].shape == expect[0].shape, (T, outs[i].shape)
            assert (outs[i] - expect[0]).abs().max().item() < TOLERANCE, T


def test_a_step_that_cannot_be_exported_streams_in_pytorch_unless_onnxruntime_was_asked_for(monkeypatch, caplog):
    from hypersp.inference import cached_stream

    pytest.importorskip("onnxruntime")

    def refuse(module):
        raise RuntimeError("Unsupported operator")

    monkeypatch.setattr(cached_stream, "_OnnxStep", refuse)
    model = ConformerModel(tiny(conv_causal=True), input_dim=20, vocab_size=11).eval()
    with caplog.at_level(logging.WARNING, logger="hypersp.inference.cached_stream"):
        assert cached_stream.compiled_stream_step(model, StreamContext(5, 0), "auto") == ("torch", None)
    assert "could not be exported" in caplog.text and "Unsupported operator" in caplog.text
    with pytest.raises(ValueError, match="step_runtime=onnxruntime: the step could not be exported"):
        cached_stream.compiled_stream_step(model, StreamContext(5, 0), "onnxruntime")


class _StepThrough:
    """A model whose forward_chunks runs its blocks through ``step`` (counted in ``calls``)."""

    def __init__(self, model, step):
        self.model, self.step, self.calls = model, step, 0

    def init_stream_state(self, context):
        return self.model.init_stream_state(context)

    def counted(self, *args):
        self.calls += 1
        return self.step(*args)

    def forward_chunks(self, features, states, last):
        return self.model.forward_chunks(features, states, last, step=self.counted)


@pytest.mark.parametrize("runtime,factor", [("torch", 4), ("onnxruntime", 4), ("torch", 2), ("onnxruntime", 8)])
def test_the_fixed_shape_step_eager_or_compiled_streams_the_masked_full_forward(runtime, factor):
    """No attention lookahead and causal convolutions: every frame is final at once, so subsampling and blocks run
    as ConformerStreamStep over fixed-size caches (StepCache), eagerly or exported to onnxruntime
    (``streaming.step_runtime``); utterances streamed together in random chunks (new, ending, given no frames, or
    fewer than a subsampled frame's worth) still get their masked full forward's frames."""
    from hypersp.inference.cached_stream import compiled_stream_step
    from hypersp.models.conformer.model import ConformerStreamStep, StepCache

    if runtime == "onnxruntime":
        pytest.importorskip("onnxruntime")
    torch.manual_seed(3)
    model = ConformerModel(tiny(conv_causal=True, subsampling_factor=factor), input_dim=20, vocab_size=11).eval()
    ref = ConformerModel(tiny(conv_causal=True, att_context_left=5, att_context_right=0, subsampling_factor=factor),
                         input_dim=20, vocab_size=11).eval()
    ref.load_state_dict(model.state_dict())
    context = StreamContext(5, 0)
    assert isinstance(model.init_stream_state(context).blocks, StepCache)
    used, step = compiled_stream_step(model, context, runtime)
    assert used == runtime
    through = _StepThrough(model, step if step is not None else ConformerStreamStep(model, context.left))
    lengths = [1, 6, 23, 58, 97]
    feats = [torch.randn(T, 20) for T in lengths]
    outs = streamed_together(through, feats, context, np.random.default_rng(4), max_chunk=14)
    assert through.calls > 5  # the streams going on ran through the step
    with torch.no_grad():
        for i, T in enumerate(lengths):
            expect, _ = ref(feats[i][None], torch.tensor([T]))
            assert outs[i].shape == expect[0].shape, (T, outs[i].shape)
            assert (outs[i] - expect[0]).abs().max().item() < TOLERANCE, T


def test_the_compiled_step_is_made_once_per_model_and_weights_and_only_where_it_applies():
    from hypersp.inference.cached_stream import compiled_stream_step

    pytest.importorskip("onnxruntime")
    torch.manual_seed(5)
    model = ConformerModel(tiny(conv_causal=True), input_dim=20, vocab_size=11).eval()
    context = StreamContext(5, 0)
    first = compiled_stream_step(model, context, "auto")[1]
    assert first is not None and compiled_stream_step(model, context, "onnxruntime")[1] is first
    feats = [torch.randn(9, 20)]  # a stream going on: 2 frames through the step

    def going_on(step=None):
        return model.forward_chunks(feats, [model.init_stream_state(context)], [False], step=step)[0][0]

    with torch.no_grad():
        before = going_on(first)
        model.decoder.bias[0] += 1.0  # new weights: a new export, which computes with them
        again = compiled_stream_step(model, context, "auto")[1]
        after, eager = going_on(again), going_on()
    assert after.shape[0] == 2 and again is not first and (after - eager).abs().max().item() < TOLERANCE
    assert (after - before).abs().max().item() > 1e-3
    assert compiled_stream_step(model, context, "torch") == ("torch", None)
    # attention lookahead, or a convolution that looks ahead: the general path, nothing to compile
    assert compiled_stream_step(model, StreamContext(5, 1), "auto") == ("torch", None)
    non_causal = ConformerModel(tiny(), input_dim=20, vocab_size=11).eval()
    assert compiled_stream_step(non_causal, context, "onnxruntime") == ("torch", None)
    with pytest.raises(ValueError, match="step_runtime='tvm'"):
        compiled_stream_step(model, context, "tvm")


def test_forward_chunk_never_changes_its_input_state_and_peeks():
    torch.manual_seed(1)
    model = ConformerModel(tiny(), input_dim=20, vocab_size=11).eval()
    ctx = StreamContext(8, 1)
    feats = torch.randn(1, 60, 20)
    with torch.no_grad():
        a, st = model.forward_chunk(feats[:, :37], model.init_stream_state(ctx))
        tail1, _ = model.forward_chunk(feats[:, :0], st, last=True)  # a peek
        tail2, _ = model.forward_chunk(feats[:, :0], st, last=True)
        b, st2 = model.forward_chunk(feats[:, 37:], st, last=True)
        whole, _ = model.forward_chunk(feats[:, :37], model.init_stream_state(ctx), last=True)
    assert torch.equal(tail1, tail2)
    assert torch.allclose(torch.cat([a, tail1], 1), whole, atol=TOLERANCE)  # peek == the utterance ending there
    assert a.shape[1] + b.shape[1] == 15  # ceil(60 / 4) frames in all
    assert a.shape[1] < 10  # frames within the lookahead are not final yet
    with pytest.raises(ValueError, match="after last=True"):
        model.forward_chunk(feats, st2)
    with pytest.raises(ValueError, match=r"\(1, T, F\)"):
        model.forward_chunk(torch.randn(2, 5, 20), model.init_stream_state(ctx))
    with pytest.raises(ValueError, match="right context"):
        StreamContext(8, -1)


def test_lookahead_frames_is_where_frames_become_final():
    torch.manual_seed(2)
    model = ConformerModel(tiny(), input_dim=20, vocab_size=11).eval()
    ctx = StreamContext(8, 1)
    look = model.stream_lookahead_frames(ctx)  # 3 + 4 * 2 layers * (1 + 3) = 35
    assert look == 3 + 4 * 2 * (1 + 3)
    with torch.no_grad():
        for n in (40, 41, 44, 60, 77):
            lp, _ = model.forward_chunk(torch.randn(1, n, 20), model.init_stream_state(ctx))
            # output frame t is final once frames up to 4 t + look are in
            assert lp.shape[1] == max(0, (n - 1 - look) // 4 + 1), n


@pytest.mark.parametrize("dense,causal", [(False, False), (True, False), (False, True), (True, True)])
def test_jasper_streams_what_its_forward_computes(dense, causal):
    """Jasper / QuartzNet: every convolution keeps its pending inputs, residual outputs wait for the main branch;
    utterances streamed together at different points each equal the forward over the whole utterance. With
    ``conv_causal`` no output reads a later input frame, so nothing waits for lookahead."""
    from hypersp.models.jasper.model import JasperBlockConfig as B, JasperConfig, JasperModel

    torch.manual_seed(4)
    blocks = [B(filters=8, kernel=5, stride=2, separable=True),
              B(filters=8, repeat=2, kernel=3, residual=True, separable=True),
              B(filters=12, repeat=2, kernel=7, dilation=2, residual=True, stride=1 if dense else 2),
              B(filters=16, kernel=1)]
    model = JasperModel(JasperConfig(blocks=blocks, dense_residual=dense, conv_causal=causal), input_dim=20,
                        vocab_size=11).eval()
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    # right padding x stride before: 2 x 1, then (1 + 1) x 2, then 6 x 2 + 6 x (4 strided, 2 dense); causal: none
    lookahead = 0 if causal else 2 + 4 + (12 + (12 if dense else 24))
    assert model.stream_lookahead_frames(StreamContext()) == lookahead
    if causal:  # changing the input from frame 40 on leaves every output before it as it was
        x = torch.randn(1, 64, 20)
        y = x.clone()
        y[:, 40:] = torch.randn(1, 24, 20)
        with torch.no_grad():
            a, n = model(x, torch.tensor([64]))
            b, _ = model(y, torch.tensor([64]))
        stride = 4 if not dense else 2
        assert int(n[0]) == -(-64 // stride)
        assert torch.allclose(a[0, :40 // stride], b[0, :40 // stride]) and not torch.allclose(a, b)
    lengths = [1, 5, 33, 71]
    feats = [torch.randn(T, 20) for T in lengths]
    outs = streamed_together(model, feats, StreamContext(), np.random.default_rng(3), max_chunk=10)
    with torch.no_grad():
        for i, T in enumerate(lengths):
            expect, n = model(feats[i][None], torch.tensor([T]))
            assert outs[i].shape[0] == int(n[0]) and (outs[i] - expect[0, :int(n[0])]).abs().max().item() < TOLERANCE, T


def test_models_that_cannot_stream_say_so():
    from hypersp.models.base import SpeechModel
    from hypersp.models.transformer.model import TransformerModel

    assert ConformerModel.supports_streaming and not SpeechModel.supports_streaming
    assert not TransformerModel.supports_streaming
    with pytest.raises(ValueError, match="trained with att_context_left=4"):
        ConformerModel(tiny(att_context_left=4), input_dim=20, vocab_size=11).init_stream_state(StreamContext())


@pytest.mark.parametrize("cell,front", [("lstm", "stack"), ("gru", "conv2d")])
def test_a_left_to_right_rnn_streams_what_its_forward_computes(cell, front):
    """rnn with bidirectional=false: the recurrent state and the front end's pending frames carry over chunks;
    utterances streamed together at different points each equal the model's forward over the whole utterance."""
    from hypersp.models.rnn.model import RNNConfig, RNNModel

    torch.manual_seed(2)
    cfg = RNNConfig(cell=cell, hidden=16, layers=2, bidirectional=False, subsampling=front, subsampling_dim=24)
    model = RNNModel(cfg, input_dim=20, vocab_size=11).eval()
    assert model.supports_streaming and model.stream_lookahead_frames(StreamContext()) == 3
    lengths = [1, 6, 29, 50]
    feats = [torch.randn(T, 20) for T in lengths]
    outs = streamed_together(model, feats, StreamContext(), np.random.default_rng(1), max_chunk=8, linger=False)
    with torch.no_grad():
        for i, T in enumerate(lengths):
            expect, n = model(feats[i][None], torch.tensor([T]))
            assert outs[i].shape[0] == int(n[0]) and (outs[i] - expect[0, :int(n[0])]).abs().max().item() < TOLERANCE, T
    bidirectional = RNNModel(RNNConfig(hidden=16, layers=1), input_dim=20, vocab_size=11)
    assert not bidirectional.supports_streaming
    with pytest.raises(ValueError, match="bidirectional rnn cannot stream"):
        bidirectional.init_stream_state(StreamContext())


def test_a_model_trained_with_limited_context_streams_with_it():
    torch.manual_seed(3)
    model = ConformerModel(tiny(att_context_left=5, att_context_right=1), input_dim=20, vocab_size=11).eval()
    feats = torch.randn(1, 50, 20)
    with torch.no_grad():
        expect, _ = model(feats, torch.tensor([50]))
    got = streamed(model, feats, StreamContext(64, 0), seed=0)  # the requested context gives way to the trained one
    assert (got - expect[0]).abs().max().item() < TOLERANCE


# ---- features and the recognizer ----------------------------------------------------------------

@pytest.fixture(scope="module")
def demo():
    import hypersp

    return hypersp.load("demo_ko_16k", decoding="greedy")


@pytest.fixture(scope="module")
def sentence():
    """One eSpeak NG sentence at 16 kHz with 0.5 s of silence before and 1.0 s after it."""
    from hypersp.audio.io import resample
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    x, rate = EspeakSynthesizer().synthesize("오늘 회의를 시작하겠습니다", rate_wpm=165, seed=0)
    x = resample(x.astype(np.float32) / 32768.0, rate, 16000)
    return np.concatenate([np.zeros(8000, np.float32), x, np.zeros(16000, np.float32)])


def features_in_pieces(enc, x, rng, smallest):
    """``enc``'s incremental features of ``x`` fed in random pieces of ``smallest``-2999 samples, joined."""
    u, parts, i = enc.start(), [], 0
    while i < x.size:
        n = int(rng.integers(smallest, 3000))
        f, u = enc._features(u, x[i:i + n], last=False)
        parts.append(f)
        i += n
    return torch.cat(parts)


def backend_normalized(demo, normalize):
    """``demo``'s backend with its featurizer normalizing as ``task.features.normalize=NORMALIZE`` builds it."""
    import copy

    backend = copy.copy(demo.backend)
    backend.featurizer = copy.copy(demo.backend.featurizer)
    backend.featurizer.normalize = normalize
    return backend


def test_incremental_features_equal_the_featurizer(demo, sentence):
    from hypersp.inference.cached_stream import CachedEncoder

    rng = np.random.default_rng(0)
    x = sentence[:40000]
    for norm in ("none", "cumulative"):
        enc = CachedEncoder(demo.backend, StreamContext(), feature_norm=norm)
        got = features_in_pieces(enc, x, rng, smallest=0)
        feats, _ = enc.featurizer(torch.from_numpy(x)[None])  # normalize="none": the raw log-mel
        raw = feats[0]
        assert got.shape == raw.shape == (248, 80)
        if norm == "none":
            assert (got - raw).abs().max().item() < 1e-4
        else:  # frame t normalized by the statistics of frames 0..t: the last one by all, as offline
            whole, _ = demo.backend.featurizer(torch.from_numpy(x)[None])
            assert (got[-1] - whole[0, -1]).abs().max().item() < 1e-3
            assert (got[:50] - whole[0, :50]).abs().max().item() > 0.1  # early frames differ: stats so far


def test_a_model_trained_without_feature_normalization_streams_the_raw_log_mel(demo):
    from hypersp.inference.cached_stream import CachedEncoder

    raw = backend_normalized(demo, "none")
    assert CachedEncoder(raw, StreamContext(), feature_norm="cumulative").feature_norm == "none"
    assert CachedEncoder(demo.backend, StreamContext(), feature_norm="cumulative").feature_norm == "cumulative"


def test_cumulative_normalization_offline_equals_the_stream(demo, sentence):
    """features.normalize=cumulative (torch and numpy front ends) gives the frames the cached stream computes
    chunk by chunk, so a model trained with it streams exactly as it was trained; padding changes nothing."""
    import copy

    from hypersp.audio.features_numpy import NumpyLogMelFeatures
    from hypersp.inference.cached_stream import CachedEncoder

    backend = backend_normalized(demo, "cumulative")
    enc = CachedEncoder(backend, StreamContext(), feature_norm="none")  # the trained normalization wins
    assert enc.feature_norm == "cumulative"
    x = sentence[:40000]
    streamed = features_in_pieces(enc, x, np.random.default_rng(1), smallest=1)
    padded = torch.from_numpy(np.concatenate([x, np.zeros(8000, np.float32)]))[None].repeat(2, 1)
    offline, lengths = backend.featurizer(padded, torch.tensor([x.size, padded.shape[1]]))
    assert int(lengths[0]) == streamed.shape[0] == 248
    assert (offline[0, :248] - streamed).abs().max().item() < 1e-4
    assert offline[0, 248:].abs().max().item() == 0  # padding frames are zeroed
    cfg = copy.deepcopy(demo.config.task.features)
    cfg.normalize = "cumulative"
    numpy_feats, _ = NumpyLogMelFeatures(cfg)(x[None])
    assert np.abs(numpy_feats[0] - streamed.numpy()).max() < 2e-3  # numpy vs torch front end (see features_numpy)


def stream_events(srec, audio, message_s=0.1, rate=16000):
    s = srec.new_stream(rate)
    step = int(message_s * rate)
    events = []
    for i in range(0, audio.size, step):
        s.accept(audio[i:i + step])
        while s.ready():
            events += srec.decode([s])[0]
    return events + srec.decode([s], force_final=[True])[0], s


@pytest.mark.slow
def test_cached_mode_streamed_final_equals_the_masked_full_forward(demo, sentence):
    """The final from the streamed frames is the decoder over the same frames an offline forward with the
    same context limits and the same (cumulative) normalization gives: no second pass, same text."""
    import copy

    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.cached_stream import CachedEncoder
    from hypersp.inference.streaming import StreamingRecognizer

    # no endpoint before the client's: the utterance runs to the end of the audio (last=True there)
    cfg = StreamingConfig(mode="cached", final_full_context=False, cached_left_frames=32, cached_right_frames=2,
                          endpoint_silence_s=100.0, endpoint_silence_no_text_s=100.0)
    srec = StreamingRecognizer(demo, cfg)
    assert srec.encoder is not None
    events, _ = stream_events(srec, sentence)
    finals = [e for e in events if e["final"]]
    assert len(finals) == 1 and finals[0]["text"]
    cut = int(round((finals[0]["end"] - finals[0]["start"]) * 16000))
    # offline: features of the utterance's audio, normalized as the stream does, through the masked model
    start = int(round(finals[0]["start"] * 16000))
    enc = CachedEncoder(demo.backend, StreamContext(32, 2), "cumulative")
    feats, _ = enc._features(enc.start(), sentence[start:], last=True)
    ref = copy.deepcopy(demo.backend.model)
    ref.att_context = (32, 2, 0)
    with torch.no_grad():
        lp, _ = ref(feats[None], torch.tensor([feats.shape[0]]))
    n = -(-cut // srec.samples_per_frame)
    offline = demo.decode_log_probs([lp[0, :n].numpy()], [cut])[0].text
    assert finals[0]["text"] == offline
    partials = [e["text"] for e in events if not e["final"]]
    assert partials and partials[-1]


def test_a_causal_model_streams_without_peeking_and_its_final_equals_the_masked_forward(demo, sentence, monkeypatch):
    """Causal depthwise convolutions and no attention lookahead: a frame is final 40 ms after its start, so the
    stream does not peek at a tentative rest every step (a peek costs about what a step does); the one peek left is
    at the close, and the final is still the decoder over the masked offline forward's frames."""
    import copy

    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.cached_stream import CachedEncoder
    from hypersp.inference.streaming import PEEK_MIN_S, StreamingRecognizer

    rec = copy.copy(demo)
    rec.backend = copy.copy(demo.backend)
    rec.backend.model = copy.deepcopy(demo.backend.model)
    for layer in rec.backend.model.layers:  # the same weights as a causal convolution (conv_causal=true)
        layer.conv.left_pad, layer.conv.right_pad = layer.conv.left_pad + layer.conv.right_pad, 0
    cfg = StreamingConfig(mode="cached", final_full_context=False, cached_left_frames=32, cached_right_frames=0,
                          endpoint_silence_s=100.0, endpoint_silence_no_text_s=100.0)
    srec = StreamingRecognizer(rec, cfg)
    assert srec.encoder.lookahead_s < PEEK_MIN_S and not srec.peek
    peeks = []
    monkeypatch.setattr(CachedEncoder, "peek", lambda self, u, _orig=CachedEncoder.peek: peeks.append(1) or _orig(self, u))
    events, _ = stream_events(srec, sentence)
    finals = [e for e in events if e["final"]]
    assert len(finals) == 1 and finals[0]["text"] and len(peeks) == 1  # the close's
    assert [e for e in events if not e["final"]]  # partials all the same
    start, cut = (int(round(finals[0][k] * 16000)) for k in ("start", "end"))
    enc = CachedEncoder(rec.backend, StreamContext(32, 0), "cumulative")
    feats, _ = enc._features(enc.start(), sentence[start:], last=True)
    ref = copy.deepcopy(rec.backend.model)
    ref.att_context = (32, 0, 0)
    with torch.no_grad():
        lp, _ = ref(feats[None], torch.tensor([feats.shape[0]]))
    n = -(-(cut - start) // srec.samples_per_frame)
    assert finals[0]["text"] == demo.decode_log_probs([lp[0, :n].numpy()], [cut - start])[0].text


def test_streams_stepped_together_get_what_each_gets_alone_from_one_model_call_per_step(demo, sentence, monkeypatch):
    """Cached mode, several live streams in one server step: one forward_chunks call for their new audio and one
    for their peeks, and every stream's events are those it gets when streamed alone, also for a connection with
    settings of its own (finals only, a beam search with n-best as its final decoder)."""
    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.streaming import StreamingRecognizer

    srec = StreamingRecognizer(demo, StreamingConfig(mode="cached", final_full_context=False))
    audios = [sentence, np.concatenate([np.zeros(5900, np.float32), sentence]), sentence[: sentence.size * 2 // 3],
              np.concatenate([np.zeros(3300, np.float32), sentence])]

    def new_stream(k):
        s = srec.new_stream(16000)
        if k == 3:  # what a settings message gives a connection
            s.cfg = replace(s.cfg, partials=False)
            s.final_decoder = demo.decoder_for(name="ctc_beam", beam_size=4, nbest=2)
        return s

    def alone(k):
        s, events = new_stream(k), []
        for i in range(0, audios[k].size, 1600):
            s.accept(audios[k][i:i + 1600])
            while s.ready():
                events += srec.decode([s])[0]
        return events + srec.decode([s], force_final=[True])[0]

    expected = [alone(k) for k in range(len(audios))]
    assert any(e.get("nbest") for e in expected[3]) and all(e["final"] for e in expected[3])
    model = demo.backend.model
    calls = []
    real = model.forward_chunks

    def counting(features, states, last):
        calls.append(len(states))
        return real(features, states, last)

    monkeypatch.setattr(model, "forward_chunks", counting)
    streams = [new_stream(k) for k in range(len(audios))]
    together = [[] for _ in audios]
    for i in range(0, max(a.size for a in audios), 1600):  # 0.1 s messages, all streams each time
        for s, a in zip(streams, audios):
            s.accept(a[i:i + 1600])
        ready = [s for s in streams if s.ready()]
        while ready:
            for s, ev in zip(ready, srec.decode(ready)):
                together[streams.index(s)] += ev
            ready = [s for s in streams if s.ready()]
    for k, ev in enumerate(srec.decode(streams, force_final=[True] * len(streams))):
        together[k] += ev
    assert together == expected
    assert max(calls) == len(audios) - 1  # the streams with partials went through the model together


@pytest.mark.slow
def test_a_final_searched_while_streaming_equals_one_searched_at_the_end(sentence, monkeypatch):
    """Cached mode, final from the streamed frames, beam search + LM: the search runs over the committed frames
    as they come (Decoder.incremental), and the finals are those of a search over all the frames at the end."""
    import hypersp
    from hypersp.config.schema import StreamingConfig
    from hypersp.decoding.base import IncrementalDecoding
    from hypersp.inference.recognizer import Recognizer
    from hypersp.inference.streaming import StreamingRecognizer

    rec = hypersp.load("demo_ko_16k")  # the shipped default: beam 16 + ko_jamo6
    audio = np.concatenate([sentence, sentence])  # a silence endpoint, then the client's final
    cfg = StreamingConfig(mode="cached", final_full_context=False)
    fed = []
    decode_log_probs = Recognizer.decode_log_probs

    def spy(self, log_probs, num_samples, decoder=None, words=True, searches=None):
        fed.extend((s.frames if s is not None else 0, lp.shape[0]) for s, lp in zip(searches, log_probs))
        return decode_log_probs(self, log_probs, num_samples, decoder, words, searches)

    monkeypatch.setattr(Recognizer, "decode_log_probs", spy)
    live, _ = stream_events(StreamingRecognizer(rec, cfg), audio)
    searched_live = list(fed)
    monkeypatch.setattr(type(rec.decoder), "incremental", lambda self: IncrementalDecoding(self))  # all at the end
    at_end, _ = stream_events(StreamingRecognizer(rec, cfg), audio)

    def finals(events):
        return [(e["text"], e["words"]) for e in events if e["final"]]

    spoken = [(text, words) for text, words in finals(live) if text]
    assert len(spoken) == 2 and finals(live) == finals(at_end)
    searched_live = [(done, total) for done, total in searched_live if total]
    assert len(searched_live) == 2 and all(0 < done < total for done, total in searched_live)


@pytest.mark.slow
def test_a_finals_only_cached_stream_runs_the_encoder_once_per_utterance(demo, sentence, monkeypatch):
    """streaming.partials=false with the final from the streamed frames: no model step while an utterance is open,
    one forward_chunk over it when the VAD closes it, and the same finals as the stream with partials (whose model
    has seen the same audio when the utterance closes)."""
    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.streaming import StreamingRecognizer

    audio = np.concatenate([sentence, sentence])  # two utterances, each ended by the VAD's silence rule
    cfg = StreamingConfig(mode="cached", final_full_context=False, endpoint_mode="vad")
    live, _ = stream_events(StreamingRecognizer(demo, cfg), audio)
    model = demo.backend.model
    calls = []
    real = model.forward_chunks

    def counting(features, states, last):
        calls.append(all(last))
        return real(features, states, last)

    monkeypatch.setattr(model, "forward_chunks", counting)
    quiet, _ = stream_events(StreamingRecognizer(demo, replace(cfg, partials=False)), audio)
    assert all(e["final"] for e in quiet)
    spoken = [e["text"] for e in quiet if e["text"]]
    assert len(spoken) == 2 and spoken == [e["text"] for e in live if e["final"] and e["text"]]
    assert 2 <= calls.count(True) == len(calls) <= 3  # one pass per utterance (and one for the client's empty final)


@pytest.mark.slow
def test_cached_mode_with_full_context_final_equals_upload(demo, sentence):
    """Cached partials, the final from the engine's pass over the utterance: the text of an upload."""
    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.streaming import StreamingRecognizer

    srec = StreamingRecognizer(demo, StreamingConfig(mode="cached", final_full_context=True))
    events, _ = stream_events(srec, sentence)
    finals = [e["text"] for e in events if e["final"] and e["text"]]
    assert " ".join(finals) == demo.transcribe(sentence, sample_rate=16000).text


def test_a_jasper_checkpoint_streams_cached_and_its_final_equals_its_forward(tmp_path, sentence):
    """The engine's cached mode with a (tiny, untrained) Jasper checkpoint: the final from the streamed frames is
    the decoder over what the model's forward gives for the utterance's cumulatively normalized features."""
    import hypersp
    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.cached_stream import CachedEncoder
    from hypersp.inference.streaming import StreamingRecognizer
    from hypersp.testing import make_tiny_checkpoint

    rec = hypersp.load(str(make_tiny_checkpoint(tmp_path / "tiny.pt")), decoding="greedy")
    cfg = StreamingConfig(mode="cached", final_full_context=False, endpoint_silence_s=100.0,
                          endpoint_silence_no_text_s=100.0, endpoint_mode="ctc")
    srec = StreamingRecognizer(rec, cfg)
    assert srec.encoder is not None
    events, _ = stream_events(srec, sentence)
    final = [e for e in events if e["final"]][-1]
    start, end = (int(round(final[k] * 16000)) for k in ("start", "end"))
    enc = CachedEncoder(rec.backend, StreamContext(), "cumulative")
    feats, _ = enc._features(enc.start(), sentence[start:], last=True)
    with torch.no_grad():
        lp, n = rec.backend.model(feats[None], torch.tensor([feats.shape[0]]))
    frames = min(int(n[0]), -(-(end - start) // srec.samples_per_frame))
    assert final["text"] and final["text"] == rec.decode_log_probs([lp[0, :frames].numpy()], [end - start])[0].text


def test_a_model_that_cannot_stream_falls_back_to_the_window(tmp_path, caplog):
    import hypersp
    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.streaming import StreamingRecognizer
    from hypersp.testing import make_tiny_checkpoint

    # a bidirectional rnn: its backward direction starts at the end of the utterance
    ckpt = make_tiny_checkpoint(tmp_path / "tiny.pt", arch="rnn_small", overrides=["model.hidden=16", "model.layers=1"])
    rec = hypersp.load(str(ckpt), decoding="greedy")
    with caplog.at_level(logging.WARNING):
        srec = StreamingRecognizer(rec, StreamingConfig(mode="cached"))
    assert srec.encoder is None and "cannot stream" in caplog.text
    events, _ = stream_events(srec, np.zeros(16000, np.float32))
    assert [e["final"] for e in events] == [True]
    with pytest.raises(ValueError, match="streaming.mode='fast'"):
        StreamingRecognizer(rec, StreamingConfig(mode="fast"))


def test_cached_attention_reuses_its_position_projection_only_while_the_weights_are_the_same():
    """forward_cached keeps the last relative-position projection (a stream's steps ask for the same range): new
    weights, in place (training) or loaded, give the new result, as an attention without the cache would."""
    from hypersp.modules.attention import RelPositionMultiHeadAttention

    torch.manual_seed(5)
    att = RelPositionMultiHeadAttention(16, 2).eval()
    x, kv = torch.randn(1, 3, 16), torch.randn(1, 10, 16)

    def run():
        with torch.no_grad():
            k, v = att.key_values(kv)
            return att.forward_cached(x, k, v, [7], [0], left=6, right=0)

    first, again = run(), run()
    assert torch.equal(first, again)
    with torch.no_grad():
        att.linear_pos.weight.mul_(2.0)  # in place, as an optimizer step
    changed = run()
    att._positions_cache = None
    assert not torch.allclose(changed, first) and torch.equal(changed, run())
    att.load_state_dict({k: v.clone() + 0.1 for k, v in att.state_dict().items()})
    loaded = run()
    att._positions_cache = None
    assert torch.equal(loaded, run())


# ---- two-pass streaming: a streaming model's live steps, the full-context model's finals --------------------

@pytest.mark.slow
def test_two_pass_stream_partials_from_the_streaming_model_finals_with_the_upload_text(demo, sentence):
    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.streaming import StreamingRecognizer

    srec = StreamingRecognizer(demo, StreamingConfig(mode="cached", first_pass_model="demo_ko_16k_stream"))
    assert srec.first_pass is not demo and srec.encoder.model is srec.first_pass.model
    assert srec.frame_shift_s == srec.first_pass.frame_shift_s and not srec.peek  # causal: 40 ms lookahead
    events, _ = stream_events(srec, sentence)
    assert [e for e in events if not e["final"] and e["text"]], "live partials while the sentence is spoken"
    finals = [e["text"] for e in events if e["final"] and e["text"]]
    assert finals and " ".join(finals) == demo.transcribe(sentence, sample_rate=16000).text
    # one copy of the streaming model, whatever the number of recognizers using it
    assert StreamingRecognizer(demo, srec.cfg).first_pass is srec.first_pass


@pytest.mark.parametrize("name", ["demo_ko_16k", "demo_ko_8k"])
def test_the_full_context_demo_models_stream_two_pass_by_default_and_window_on_request(name):
    import hypersp
    from hypersp.checkpoint import shipped_defaults
    from hypersp.inference.streaming import StreamingRecognizer

    assert shipped_defaults(name, "streaming")["first_pass_model"] == f"{name}_stream"
    asr = hypersp.load(name, decoding="greedy")
    cfg = asr.default_streaming_config()
    assert (cfg.mode, cfg.first_pass_model, cfg.final_full_context) == ("cached", f"{name}_stream", True)
    live = StreamingRecognizer(asr, cfg)
    assert live.encoder is not None and live.first_pass.sample_rate == asr.sample_rate
    assert live.describe().startswith(f"two-pass ({name}_stream")
    # the shipped streaming models' steps are compiled where onnxruntime is installed (make test installs it)
    runtime = "onnxruntime" if importlib.util.find_spec("onnxruntime") else "torch"
    assert live.encoder.step_runtime == runtime and f"cached steps on {runtime}" in live.describe()
    window = hypersp.load(name, decoding="greedy", overrides=["streaming.mode=window"])
    live = StreamingRecognizer(window, window.default_streaming_config())
    assert live.encoder is None and live.first_pass is window  # the window ignores the first-pass model
    assert live.describe().startswith("window")


def test_two_pass_streaming_refuses_what_it_cannot_do(demo, tmp_path):
    from hypersp.config.schema import StreamingConfig
    from hypersp.inference.streaming import StreamingRecognizer
    from hypersp.testing import make_tiny_checkpoint

    bidirectional = make_tiny_checkpoint(tmp_path / "tiny.pt", arch="rnn_small", overrides=["model.hidden=16", "model.layers=1"])
    with pytest.raises(ValueError, match="cannot stream"):  # a first pass that cannot stream is no first pass
        StreamingRecognizer(demo, StreamingConfig(mode="cached", first_pass_model=str(bidirectional)))

    with pytest.raises(ValueError, match="8000 Hz model"):
        StreamingRecognizer(demo, StreamingConfig(mode="cached", first_pass_model="demo_ko_8k_stream"))
    with pytest.raises(ValueError, match="final_full_context must be true"):
        StreamingRecognizer(demo, StreamingConfig(mode="cached", first_pass_model="demo_ko_16k_stream",
                                                  final_full_context=False))
    with pytest.raises(ValueError, match="neither a file nor a shipped model"):
        StreamingRecognizer(demo, StreamingConfig(mode="cached", first_pass_model="no_such_model"))
