"""The four AIHub (TmaxSoft) preparers on generated raw-format fixtures."""
import json

import pytest

from hypersp.registry import TASKS
from hypersp.prepare.aihub import AIHubPrepareConfig, is_test_session, parse_location, split_of
from hypersp.testing.corpus_fixtures import AIHUB_CORPORA, assert_prepared, make_aihub, read_manifests

FAST = {"progress": False, "shards": 8}


@pytest.mark.parametrize("corpus", AIHUB_CORPORA)
def test_every_field_and_count(corpus, tmp_path):
    fx = make_aihub(tmp_path / "raw", corpus)
    report = TASKS.get(corpus).prepare(fx.root, tmp_path / "out", 2, FAST)
    by_id = assert_prepared(fx, tmp_path / "out", report)
    assert sorted(report["manifests"]) == ["dev", "test", "train"]
    rate = 8000 if corpus == "ktelspeech" else 16000
    assert {r["sample_rate"] for r in by_id.values()} == {rate}
    # the audio path is the file on disk, not the JSON's audioPath
    assert all("원천데이터" in r["audio_filepath"] or "/Training/" in r["audio_filepath"] or "/Validation/" in r["audio_filepath"]
               for r in by_id.values())
    assert not any(" 2/" in r["audio_filepath"] for r in by_id.values()), "the macOS copy must not win over the original"


@pytest.mark.parametrize("corpus", AIHUB_CORPORA)
def test_tasks_registered_with_defaults(corpus):
    cls = TASKS.get(corpus)
    cfg = TASKS.config_class(corpus)()
    assert cfg.name == corpus and cfg.text_normalizer == "korean" and cls.default_tokenizer == "jamo"
    assert isinstance(cls.prepare_options(), AIHubPrepareConfig)
    rate = 8000 if corpus == "ktelspeech" else 16000
    assert cfg.sample_rate == cfg.features.sample_rate == rate


def test_ktel_features_are_designed_for_8khz():
    cfg = TASKS.config_class("ktelspeech")()
    assert cfg.features.f_max == 4000.0 and cfg.features.n_mels == 64


def test_test_split_is_per_session_and_deterministic():
    # Fixed values: the carve-out (sha1 of "<corpus>/<domain>/<session>") must never change
    # between versions or machines, or test utterances would leak into training.
    picks = [f"S{i:08d}" for i in range(1000) if is_test_session("ktelspeech", "D60", f"S{i:08d}", 0.01)]
    assert picks == ["S00000162", "S00000167", "S00000225", "S00000325", "S00000382", "S00000423", "S00000523",
                     "S00000633", "S00000664", "S00000856", "S00000878", "S00000904"]
    many = [i for i in range(20000) if is_test_session("ktelspeech", "D60", f"S{i:08d}", 0.01)]
    assert 140 <= len(many) <= 260                       # ~1 % of sessions
    assert split_of("ktelspeech", "train", "D60", "S00000162", 0.01) == "test"
    assert split_of("ktelspeech", "train", "D61", "S00000162", 0.01) == "train"   # domain is part of the name
    assert split_of("ktelspeech", "valid", "D60", "S00000162", 0.01) == "dev"   # Validation is never carved
    assert split_of("ktelspeech", "train", "D60", "S00000162", 0.0) == "train"


def test_all_utterances_of_a_session_share_a_split(tmp_path):
    from hypersp.testing.corpus_fixtures import make_aihub_bulk

    make_aihub_bulk(tmp_path / "raw", "ktelspeech", utterances=600, per_session=3)
    report = TASKS.get("ktelspeech").prepare(tmp_path / "raw", tmp_path / "out", 1, {**FAST, "test_fraction": 0.2})
    splits_of_session = {}
    for split, records in read_manifests(tmp_path / "out").items():
        for r in records:
            splits_of_session.setdefault(r["session"], set()).add(split)
    assert all(len(s) == 1 for s in splits_of_session.values())
    assert 0 < report["splits"]["test"]["utterances"] < report["splits"]["train"]["utterances"]
    assert report["utterances"]["kept"] == 600


@pytest.mark.parametrize("parts,expected", [
    (("data", "1.Training", "라벨링데이터", "KtelSpeech_train_D60_label_0", "J91", "S00007727"), ("train", "D60", "S00007727")),
    (("data", "[원천]KtelSpeech_valid_D62_wav_0", "D62", "J93", "S00000001"), ("valid", "D62", "S00000001")),
    (("KlecSpeech", "Training", "D12 2", "G02", "S001024"), ("train", "D12", "S001024")),
    (("KlecSpeech", "Validation", "D99", "G02", "S000014"), ("valid", "D99", "S000014")),
    (("x", "J01", "S1"), ("", "", "S1")),
])
def test_parse_location(parts, expected):
    assert parse_location(parts) == expected


def test_pronunciation_side_and_options_in_report(tmp_path):
    fx = make_aihub(tmp_path / "raw", "klecspeech")
    report = TASKS.get("klecspeech").prepare(fx.root, tmp_path / "out", 1,
                                             {**FAST, "transcript_side": "pronunciation", "keep_digits": True})
    texts = {r["text_raw"]: r["text"] for rs in read_manifests(tmp_path / "out").values() for r in rs}
    assert texts["(60)/)육십) 명이 (그러니까)(긍게*) 왔어요 ／ @이름1 님"] == "육십 명이 긍게 왔어요 님"
    assert report["options"]["transcript_side"] == "pronunciation"
    json.dumps(report, ensure_ascii=False)
