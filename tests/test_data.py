import json

import pytest

from hypersp.data.manifest import ManifestError, read_manifest
from hypersp.data.sampler import DurationBucketSampler
from hypersp.metrics import ErrorRates


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_manifest_resolves_relative_paths_and_keeps_extras(tmp_path):
    m = _write(tmp_path / "m.jsonl", [
        json.dumps({"audio_filepath": "wavs/a.wav", "duration": 1.5, "text": "안녕", "speaker": "f1"}, ensure_ascii=False),
        "",
        json.dumps({"audio_filepath": "/abs/b.wav", "duration": "2", "text": "하세요", "offset": 0.5, "utt_id": "b1"}),
    ])
    a, b = read_manifest(m)
    assert a.audio_filepath == str(tmp_path / "wavs" / "a.wav") and a.utt_id == "a" and a.extra == {"speaker": "f1"}
    assert b.audio_filepath == "/abs/b.wav" and b.duration == 2.0 and b.offset == 0.5 and b.utt_id == "b1"


@pytest.mark.parametrize("line, needle", [
    ("{not json", "m.jsonl:2: not a JSON object"),
    ('["a"]', "m.jsonl:2: expected a JSON object"),
    ('{"audio_filepath": "a.wav", "text": "x"}', "m.jsonl:2: missing key(s) duration"),
    ('{"audio_filepath": "a.wav", "duration": "long", "text": "x"}', "m.jsonl:2: 'duration' and 'offset' must be numbers"),
    ('{"audio_filepath": "a.wav", "duration": 1, "text": 5}', "m.jsonl:2: 'text' must be a string"),
])
def test_bad_manifest_lines_name_file_and_line(tmp_path, line, needle):
    m = _write(tmp_path / "m.jsonl", ['{"audio_filepath": "a.wav", "duration": 1, "text": "x"}', line])
    with pytest.raises(ManifestError) as err:
        read_manifest(m)
    assert needle in str(err.value)


def test_missing_manifest():
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest("/no/such.jsonl")


def test_bucket_sampler_covers_everything_once_and_respects_budget():
    durations = [0.5 + (i * 7 % 23) / 2 for i in range(200)]
    sampler = DurationBucketSampler(durations, batch_seconds=30.0, num_buckets=5, shuffle=True, seed=3)
    batches = list(sampler)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(200))
    for b in batches:
        assert max(durations[i] for i in b) * len(b) <= 30.0 or len(b) == 1
    sampler.set_epoch(1)
    assert list(sampler) != batches  # reshuffled per epoch
    sampler.set_epoch(0)
    assert list(sampler) == batches  # deterministic per (seed, epoch)


def test_bucket_sampler_resume_skips_consumed_batches():
    durations = [float(i % 10 + 1) for i in range(100)]
    sampler = DurationBucketSampler(durations, batch_seconds=20.0, seed=1)
    full = list(sampler)
    sampler.set_epoch(0, start_batch=3)
    assert list(sampler) == full[3:]


def test_bucket_sampler_ranks_are_disjoint_and_equal_length():
    durations = [float(i % 13 + 1) for i in range(101)]
    ranks = [list(DurationBucketSampler(durations, 25.0, seed=5, rank=r, world_size=3)) for r in range(3)]
    assert len({len(r) for r in ranks}) == 1
    seen = [i for r in ranks for b in r for i in b]
    assert len(seen) == len(set(seen))


def test_error_rates():
    er = ErrorRates()
    er.update("안녕 하세요", "안녕하세요")   # only a space differs
    er.update("오늘 날씨", "오늘 날씨가")
    r = er.result()
    assert r["num_utterances"] == 2
    assert r["cer"] == pytest.approx(100 * 1 / 9, abs=1e-3)           # 0 + 1 edits over 5 + 4 chars
    assert r["cer_with_spaces"] == pytest.approx(100 * 2 / 11, abs=1e-3)  # 1 + 1 over 6 + 5
    assert r["wer"] == pytest.approx(100 * 3 / 4, abs=1e-3)           # 2 + 1 over 2 + 2 words


def test_speed_perturbation_changes_training_lengths_only(tmp_path):
    from hypersp.config import compose
    from hypersp.testing import sine_wave, write_manifest_lines
    from hypersp.audio.io import write_wav
    from hypersp.checkpoint import build_tokenizer_and_task

    write_wav(tmp_path / "a.wav", sine_wave(2.0), 16000)
    m = write_manifest_lines(tmp_path / "m.jsonl", [{"audio_filepath": "a.wav", "duration": 2.0, "text": "가나"}])
    cfg = compose(task="synthetic", overrides=[f"task.train_manifest={m}", "task.speed_perturb=[0.5]"])
    tokenizer, task = build_tokenizer_and_task(cfg)
    task.fit_tokenizer()
    train_frames = task.dataset(str(m), train=True)[0].features.shape[0]
    eval_frames = task.dataset(str(m), train=False)[0].features.shape[0]
    assert eval_frames == 198                      # 1 + (32000 - 400) // 160
    assert abs(train_frames - 2 * eval_frames) <= 2  # half speed: twice as long


def _augment(tmp_path, **overrides):
    from hypersp.config import compose
    from hypersp.tasks.speech_recognition import WaveformAugment

    cfg = compose(task="synthetic", overrides=[f"task.{k}={v}" for k, v in overrides.items()])
    return WaveformAugment.from_config(cfg.task)


def test_waveform_augment_is_off_by_default(tmp_path):
    assert _augment(tmp_path) is None


def test_additive_noise_hits_the_requested_snr(tmp_path):
    import numpy as np
    from hypersp.testing import sine_wave

    aug = _augment(tmp_path, noise_snr_db="[10,10]", noise_prob=1.0)
    clean = sine_wave(2.0)
    noisy = aug(clean.copy())
    noise = noisy - clean
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean(noise ** 2))
    assert abs(snr - 10.0) < 0.5 and noisy.shape == clean.shape


def test_noise_from_a_folder(tmp_path):
    import numpy as np
    from hypersp.audio.io import write_wav

    (tmp_path / "noise").mkdir()
    write_wav(tmp_path / "noise" / "hum.wav", 0.5 * np.sin(2 * np.pi * 50 * np.arange(8000) / 16000).astype("float32"), 16000)
    aug = _augment(tmp_path, noise_snr_db="[0,0]", noise_prob=1.0, noise_dir=str(tmp_path / "noise"))
    out = aug(np.zeros(16000, dtype="float32") + 0.1)
    spectrum = np.abs(np.fft.rfft(out - out.mean()))
    assert abs(int(np.argmax(spectrum)) * 16000 / len(out) - 50) <= 2  # the hum from the folder is what was added


def test_telephone_channel_on_a_16k_task_removes_the_upper_band(tmp_path):
    import numpy as np

    aug = _augment(tmp_path, telephone_prob=1.0)
    t = np.arange(16000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype("float32")
    out = aug(wave)
    assert len(out) == len(wave)  # back at the task's 16 kHz
    spectrum = np.abs(np.fft.rfft(out))
    freqs = np.fft.rfftfreq(len(out), 1 / 16000)
    assert spectrum[np.abs(freqs - 6000) < 20].max() < 0.01 * spectrum[np.abs(freqs - 1000) < 20].max()


def test_leading_silence_puts_quiet_before_the_speech_and_keeps_it_whole(tmp_path):
    import numpy as np

    aug = _augment(tmp_path, leading_silence_s="[0.5,1.0]", leading_silence_prob=1.0)
    wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype("float32")
    for _ in range(5):
        out = aug(wave)
        lead = len(out) - len(wave)
        assert 8000 <= lead <= 16000
        np.testing.assert_array_equal(out[lead:], wave)  # the speech itself is untouched
        assert np.sqrt(np.mean(out[:lead] ** 2)) < 10 ** (-50 / 20) * 1.2  # quiet: at most -50 dBFS


@pytest.mark.parametrize("overrides, needle", [
    ({"noise_snr_db": "[5]"}, "task.noise_snr_db"),
    ({"leading_silence_s": "[1.0,0.5]"}, "task.leading_silence_s"),
    ({"leading_silence_s": "[0,1]", "leading_silence_prob": 2.0}, "task.leading_silence_prob"),
    ({"telephone_prob": 1.5}, "task.telephone_prob"),
    ({"speed_perturb": "[0.0]"}, "task.speed_perturb"),
    ({"noise_snr_db": "[0,5]", "noise_dir": "/no/such/dir"}, "task.noise_dir"),
])
def test_bad_augmentation_settings_name_the_key(tmp_path, overrides, needle):
    with pytest.raises(ValueError, match=needle):
        _augment(tmp_path, **overrides)
