"""LibriSpeech preparer: flac + *.trans.txt, standard split names."""
from hypersp.registry import TASKS
from hypersp.prepare.librispeech import LibriPrepareConfig
from hypersp.testing.corpus_fixtures import assert_prepared, make_librispeech, read_manifests

FAST = {"progress": False, "shards": 4}


def test_task_defaults():
    cls = TASKS.get("librispeech")
    cfg = TASKS.config_class("librispeech")()
    assert (cfg.sample_rate, cfg.text_normalizer, cls.default_tokenizer) == (16000, "english", "english_char")
    assert isinstance(cls.prepare_options(), LibriPrepareConfig)


def test_every_field_and_count(tmp_path):
    fx = make_librispeech(tmp_path / "raw")
    report = TASKS.get("librispeech").prepare(tmp_path / "raw", tmp_path / "out", 2, FAST)
    by_id = assert_prepared(fx, tmp_path / "out", report)
    assert sorted(report["manifests"]) == ["dev-clean", "test-other", "train-clean-100"]
    assert by_id["1688-142285-0000"]["text"] == "there's iron they say in all our blood"
    assert by_id["1272-128104-0001"]["chapter"] == "128104"


def test_uppercase_option(tmp_path):
    make_librispeech(tmp_path / "raw")
    TASKS.get("librispeech").prepare(tmp_path / "raw", tmp_path / "out", 1, {**FAST, "lowercase": False})
    rec = read_manifests(tmp_path / "out")["train-clean-100"][0]
    assert rec["text"] == rec["text_raw"] == "NORTHANGER ABBEY"
