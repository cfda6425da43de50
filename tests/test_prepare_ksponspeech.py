"""KsponSpeech preparer on a generated raw-format fixture (official .trn splits, PCM, CP949)."""
import json

import pytest

from hypersp.registry import TASKS
from hypersp.prepare.ksponspeech import KsponPrepareConfig, split_from_path
from hypersp.testing.corpus_fixtures import assert_prepared, make_ksponspeech, read_manifests

FAST = {"progress": False, "shards": 8}


@pytest.fixture(scope="module")
def kspon(tmp_path_factory):
    return make_ksponspeech(tmp_path_factory.mktemp("kspon") / "KsponSpeech")


def test_task_registered_with_defaults():
    cls = TASKS.get("ksponspeech")
    cfg = TASKS.config_class("ksponspeech")()
    assert (cfg.name, cfg.sample_rate, cfg.features.sample_rate, cfg.text_normalizer) == ("ksponspeech", 16000, 16000, "korean")
    assert cls.default_tokenizer == "jamo"
    assert isinstance(cls.prepare_options(), KsponPrepareConfig)
    assert cls.prepare_options().transcript_side == "spelling"


def test_official_trn_splits_every_field_and_count(kspon, tmp_path):
    out = tmp_path / "out"
    report = TASKS.get("ksponspeech").prepare(kspon.root, out, 1, FAST)
    assert report["state"]["text_source"] == "trn"
    assert report["state"]["trn_encodings"] == {"train.trn": "utf-8", "dev.trn": "utf-8", "eval_clean.trn": "utf-8",
                                                "eval_other.trn": "utf-8"}
    by_id = assert_prepared(kspon, out, report)
    assert sorted(report["manifests"]) == ["dev", "eval_clean", "eval_other", "train"]
    # odd-length eval pcm: duration from the floor of bytes / 2
    odd = by_id["KsponSpeech_E00001"]
    size = __import__("os").path.getsize(odd["audio_filepath"])
    assert size % 2 == 1 and odd["duration"] == pytest.approx((size // 2) / 16000, abs=1e-4)
    assert report["examples"]["malformed_tag"][0]["text_raw"] == "(그러니까 잘 모르겠어"
    assert report["examples"]["unreadable_label"][0]["text_raw"] == "this line has no separator"


def test_pronunciation_side_and_keep_digits(kspon, tmp_path):
    report = TASKS.get("ksponspeech").prepare(kspon.root, tmp_path / "p", 1, {**FAST, "transcript_side": "pronunciation"})
    texts = {r["utt_id"]: r["text"] for rs in read_manifests(tmp_path / "p").values() for r in rs}
    assert texts["KsponSpeech_000001"] == "칠 십 퍼센트 확률이라니 아 모 몬 소리야 진짜 백 프로가 왜 안돼"
    assert report["options"]["transcript_side"] == "pronunciation"
    TASKS.get("ksponspeech").prepare(kspon.root, tmp_path / "k", 1, {**FAST, "keep_digits": True})
    texts = {r["utt_id"]: r["text"] for rs in read_manifests(tmp_path / "k").values() for r in rs}
    assert texts["KsponSpeech_000001"] == "70% 확률이라니 아 뭐 뭔 소리야 진짜 100%가 왜 안돼"
    assert texts["KsponSpeech_E03001"] == "아 그거 MP3 파일이야"
    assert texts["KsponSpeech_000003"] == "그게 50% 정도야"


def test_per_utterance_txt_fallback_reads_cp949(kspon, tmp_path):
    report = TASKS.get("ksponspeech").prepare(kspon.root, tmp_path / "t", 1, {**FAST, "text_source": "txt"})
    u = report["utterances"]
    assert report["state"]["text_source"] == "txt"
    assert u["kept"] == 5 and u["skipped"]["malformed_tag"] == 1 and u["skipped"]["empty_text"] == 1
    # the eval audio has no per-utterance .txt (as in the release), nor has the orphan
    assert u["skipped"]["orphan_audio"] == 4 and u["found"] == u["kept"] + sum(u["skipped"].values())
    # "b/ n/" is pure ASCII, hence valid UTF-8; the seven Hangul files need the CP949 fallback
    assert report["notes"]["encoding_cp949"] == 7 and report["notes"]["encoding_utf-8"] == 1
    m = read_manifests(tmp_path / "t")
    assert sorted(m) == ["dev", "train"] and len(m["dev"]) == 1
    assert m["dev"][0]["text"] == "그 사람이 세 개 샀대"


def test_trn_required_but_missing_is_a_clear_error(tmp_path):
    (tmp_path / "raw/KsponSpeech_01").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="scripts"):
        TASKS.get("ksponspeech").prepare(tmp_path / "raw", tmp_path / "o", 1, {**FAST, "text_source": "trn"})
    with pytest.raises(ValueError, match="unknown prepare option"):
        TASKS.get("ksponspeech").prepare(tmp_path / "raw", tmp_path / "o", 1, {"transcript": "x"})


def test_split_from_folder_ranges():
    assert split_from_path("/d/KsponSpeech_05/KsponSpeech_0620/KsponSpeech_620000.pcm") == "train"
    assert split_from_path("/d/KsponSpeech_05/KsponSpeech_0621/KsponSpeech_620001.pcm") == "dev"
    assert split_from_path("/d/KsponSpeech_eval/eval_other/KsponSpeech_E03001.pcm") == "eval_other"


def test_manifest_is_readable_by_the_data_layer(kspon, tmp_path):
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest

    TASKS.get("ksponspeech").prepare(kspon.root, tmp_path / "o", 1, FAST)
    entries = read_manifest(tmp_path / "o" / "eval_clean.jsonl")
    assert [e.utt_id for e in entries] and all(e.extra["speaker"] == "" for e in entries)
    odd = next(e for e in entries if e.utt_id == "KsponSpeech_E00001")
    samples = load_audio(odd.audio_filepath, 16000)
    assert len(samples) == round(odd.duration * 16000)
    json.dumps(entries[0].extra, ensure_ascii=False)
