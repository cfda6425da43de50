"""Tiny raw-format fixtures of the six corpora, with the pitfalls real downloads have.

Each ``make_*`` writes a directory tree in the corpus's *raw* layout (as unzipped from the
official archives) with generated tones as audio, and returns a :class:`CorpusFixture` that
says what a correct preparer must produce with default options: the kept utterances (split,
text, speaker, duration, rate) and every skip count. hypersp's tests use them; a plugin that
adds a preparer for a variant layout can use them too.

Pitfalls covered (see ``corpora-formats.md``):

- KsponSpeech: headerless PCM16, an **odd byte count** in eval, CP949 per-utterance ``.txt``,
  UTF-8 ``.trn`` with BOM and CRLF, eval paths with the ``KsponSpeech_eval/`` prefix, dual
  notation with and without the slash, noise tags, fillers, ``w1+w2``, bare ``%``, an
  unbalanced bracket, an empty-after-normalization line, a zero-length ``.pcm``, an orphan
  audio, an orphan ``.trn`` line, a line without ``::``, ``.DS_Store``/``Thumbs.db``/``._*``.
- AIHub (klec/kconf/kresp/ktel): label and audio trees that differ (``라벨링데이터`` vs
  ``원천데이터``, ``[라벨]`` prefixes, with and without the ``Dnn`` level) or one shared folder,
  JSON ``audioPath`` that does not match the disk, UTF-8 BOM, a CP949 transcript, full-width
  ``／``, malformed dual forms ``(60)/)육십)`` and ``(A)(B)``, anonymization ``@이름1``,
  ``Zone.Identifier`` and ``.DS_Store``, a macOS ``D60 2`` duplicate folder, an orphan label,
  an orphan audio, an unreadable wav, a too-short wav, a session without JSON, a one-utterance
  folder whose stems differ, 8 kHz audio for ktelspeech and a 5-digit utterance name.
- LibriSpeech: flac + ``*.trans.txt``, docs files, an orphan line, an orphan flac, a corrupt flac.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

AIHUB_CORPORA = ("klecspeech", "kconfspeech", "krespspeech", "ktelspeech")
_CAMEL = {"klecspeech": "KlecSpeech", "kconfspeech": "KconfSpeech", "krespspeech": "KrespSpeech", "ktelspeech": "KtelSpeech"}


@dataclass
class CorpusFixture:
    """What was written and what a correct preparer must report for it (default options)."""

    root: Path
    corpus: str
    kept: Dict[str, Dict[str, Any]] = field(default_factory=dict)   # utt_id -> expected manifest fields
    skipped: Dict[str, int] = field(default_factory=dict)           # reason -> count
    files: Dict[str, int] = field(default_factory=dict)             # files_on_disk category -> count
    notes: Dict[str, int] = field(default_factory=dict)             # report notes that must be present (minimum counts)

    @property
    def found(self) -> int:
        return len(self.kept) + sum(self.skipped.values())


def tone(seconds: float, sample_rate: int, freq: float = 220.0) -> np.ndarray:
    """An int16 sine tone with a little noise (deterministic)."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    rng = np.random.default_rng(n)
    x = 0.3 * np.sin(2 * math.pi * freq * t) + 0.01 * rng.standard_normal(n)
    return np.clip(x * 32767, -32768, 32767).astype(np.int16)


def write_wav(path: Path, seconds: float, sample_rate: int, fmt: str = "WAV") -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(seconds, sample_rate), sample_rate, subtype="PCM_16", format=fmt)


def write_pcm(path: Path, seconds: float, odd: bool = False) -> int:
    """Headerless little-endian PCM16 at 16 kHz; ``odd`` appends one stray byte. Returns bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tone(seconds, 16000).astype("<i2").tobytes() + (b"\x00" if odd else b"")
    path.write_bytes(data)
    return len(data)


def write_text(path: Path, text: str, encoding: str = "utf-8", bom: bool = False, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.replace("\n", newline).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


# ------------------------------------------------------------------------------------------
# KsponSpeech
# ------------------------------------------------------------------------------------------
KSPON_LINES = {
    # stem: (split, folder, raw transcript, expected text (spelling, digits read) or skip reason, seconds)
    "KsponSpeech_000001": ("train", "KsponSpeech_01/KsponSpeech_0001",
                           "b/ (70%)/(칠 십 퍼센트) 확률이라니 아/ (뭐+ 뭔)/(모+ 몬) 소리야 진짜 (100%)(백 프로)가 왜 안돼? n/",
                           "칠 십 퍼센트 확률이라니 아 뭐 뭔 소리야 진짜 백 프로가 왜 안돼", 0.6),
    "KsponSpeech_000002": ("train", "KsponSpeech_01/KsponSpeech_0001",
                           "그럼 (20년)/(이십 년) 전+ 전처럼 이메일로 l/ 소통하면 되잖아. l/",
                           "그럼 이십 년 전 전처럼 이메일로 소통하면 되잖아", 0.5),
    "KsponSpeech_000003": ("train", "KsponSpeech_01/KsponSpeech_0001", "그게 50% 정도야", "그게 오십 퍼센트 정도야", 0.4),
    "KsponSpeech_001001": ("train", "KsponSpeech_01/KsponSpeech_0002", "u/ 그 PC/ 방에서 뭐+뭔 일이야",
                           "그 PC 방에서 뭐 뭔 일이야", 0.45),
    "KsponSpeech_001002": ("train", "KsponSpeech_01/KsponSpeech_0002", "(그러니까 잘 모르겠어", "malformed_tag", 0.3),
    "KsponSpeech_620001": ("dev", "KsponSpeech_05/KsponSpeech_0621", "그 사람이 (3개)/(세 개) 샀대", "그 사람이 세 개 샀대", 0.35),
    "KsponSpeech_620002": ("dev", "KsponSpeech_05/KsponSpeech_0621", "b/ n/", "empty_text", 0.3),
    "KsponSpeech_620003": ("dev", "KsponSpeech_05/KsponSpeech_0621", "이건 빈 파일", "duration_out_of_bounds", 0.0),
    "KsponSpeech_E00001": ("eval_clean", "KsponSpeech_eval/eval_clean", "어/ 일단은 억지로 과장해서",
                           "어 일단은 억지로 과장해서", 0.5),
    "KsponSpeech_E00002": ("eval_clean", "KsponSpeech_eval/eval_clean", "o/ 저는 (2시)/(두 시)에 갈게요*",
                           "저는 두 시에 갈게요", 0.4),
    "KsponSpeech_E03001": ("eval_other", "KsponSpeech_eval/eval_other", "아/ 그거 (MP3)/(엠피 쓰리) 파일이야?",
                           "아 그거 엠피 쓰리 파일이야", 0.45),
}


def make_ksponspeech(root: Path) -> CorpusFixture:
    """KsponSpeech as unzipped: ``root/KsponSpeech_0N/...``, ``KsponSpeech_eval/...``, ``scripts/*.trn``."""
    root = Path(root)
    fx = CorpusFixture(root=root, corpus="ksponspeech")
    trn: Dict[str, List[str]] = {"train": [], "dev": [], "eval_clean": [], "eval_other": []}
    n_audio = n_txt = 0
    for stem, (split, folder, raw, expected, seconds) in KSPON_LINES.items():
        odd = stem == "KsponSpeech_E00001"                   # every real eval file is odd-length
        nbytes = write_pcm(root / folder / f"{stem}.pcm", seconds, odd=odd)
        n_audio += 1
        if not split.startswith("eval"):
            # per-utterance label, CP949 as shipped (unused when the .trn lists exist)
            write_text(root / folder / f"{stem}.txt", raw + "\n", encoding="cp949")
            n_txt += 1
        trn[split].append(f"{folder}/{stem}.pcm :: {raw}")
        if expected in ("malformed_tag", "empty_text", "duration_out_of_bounds"):
            fx.skipped[expected] = fx.skipped.get(expected, 0) + 1
        else:
            fx.kept[stem] = {"split": split, "text": expected, "text_raw": raw, "duration": (nbytes // 2) / 16000,
                             "sample_rate": 16000, "speaker": ""}
    # orphan audio (no .trn line) and orphan .trn line (no audio)
    write_pcm(root / "KsponSpeech_05/KsponSpeech_0621/KsponSpeech_620004.pcm", 0.3)
    n_audio += 1
    trn["dev"].append("KsponSpeech_05/KsponSpeech_0621/KsponSpeech_620005.pcm :: 없는 파일이야")
    trn["train"].append("this line has no separator")   # unreadable .trn line
    fx.skipped.update({"orphan_audio": 1, "orphan_label": 1, "unreadable_label": 1})
    for split, lines in trn.items():
        # UTF-8 as found in practice; BOM on one, CRLF line endings and a blank line on another
        write_text(root / "scripts" / f"{split}.trn", "\n".join(lines) + "\n\n", bom=(split == "train"),
                   newline="\r\n" if split == "dev" else "\n")
    (root / "KsponSpeech_01/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "KsponSpeech_eval/eval_clean/Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "KsponSpeech_01/KsponSpeech_0001/._KsponSpeech_000001.pcm").write_bytes(b"\x00\x05\x16\x07")
    fx.files = {"audio": n_audio, "transcript": n_txt, "transcript_list": 4, "os_junk": 3}
    fx.notes = {"odd_length_pcm": 1, "per_utterance_txt_unused": n_txt, "repaired_missing_dual_slash": 1,
                "repaired_mid_word_plus": 1}
    return fx


# ------------------------------------------------------------------------------------------
# AIHub (TmaxSoft) sets
# ------------------------------------------------------------------------------------------
def find_session(corpus: str, domain: str, start: int, want_test: bool, digits: int, fraction: float = 0.01) -> str:
    """First session name ``S<digits>`` from ``start`` whose carve-out is (or is not) test."""
    from hypersp.prepare.aihub import is_test_session

    i = start
    while True:
        name = f"S{i:0{digits}d}"
        if is_test_session(corpus, domain, name, fraction) == want_test:
            return name
        i += 1


class _AIHubTree:
    """Where label and audio files of one (source, domain, session) go, per layout."""

    def __init__(self, root: Path, corpus: str, split_trees: bool):
        self.root, self.corpus, self.split_trees = root, corpus, split_trees
        self.camel = _CAMEL[corpus]

    def dirs(self, source: str, domain: str, sub: str, session: str, with_d_level: bool = False, dup: bool = False):
        if self.split_trees:
            top = self.root / ("1.Training" if source == "train" else "2.Validation")
            tag = "train" if source == "train" else "valid"
            prefix = ("", "") if source == "train" else ("[라벨]", "[원천]")
            dlevel = (domain,) if with_d_level else ()
            label = top.joinpath("라벨링데이터", f"{prefix[0]}{self.camel}_{tag}_{domain}_label_0", *dlevel, sub, session)
            wav_zip = f"{prefix[1]}{self.camel}_{tag}_{domain}_wav_0" + (" 2" if dup else "")
            audio = top.joinpath("원천데이터", wav_zip, *dlevel, sub, session)
            return label, audio
        folder = self.root / self.camel / ("Training" if source == "train" else "Validation")
        d = folder / (f"{domain} 2" if dup else domain) / sub / session
        return d, d


def _session_json(corpus: str, domain: str, sub: str, session: str, speakers: List[Dict[str, Any]],
                  dialogs: List[tuple]) -> str:
    camel = _CAMEL[corpus]
    return json.dumps({"dataSet": {
        "version": "1.0", "date": "20210110",
        "typeInfo": {"category": "상담", "subcategory": "금융", "place": None, "speakers": speakers, "inputType": "모바일"},
        # audioPath as AIHub writes it: does not match the shipped folders
        "dialogs": [{"speaker": spk, "audioPath": f"{camel}/{domain}/{sub}/{session}/{stem}.wav",
                     "textPath": f"{camel}/{domain}/{sub}/{session}/{stem}.txt"} for spk, stem in dialogs],
    }}, ensure_ascii=False, indent=1)


def make_aihub(root: Path, corpus: str) -> CorpusFixture:
    """One of klecspeech/kconfspeech/krespspeech/ktelspeech in its raw layout (see module doc).

    ktelspeech and kconfspeech use separate 라벨링데이터/원천데이터 trees; klecspeech and
    krespspeech one shared folder per session. ktelspeech audio is 8 kHz.
    """
    from hypersp.prepare.aihub import split_of

    if corpus not in AIHUB_CORPORA:
        raise ValueError(f"corpus {corpus!r}; choose one of {AIHUB_CORPORA}")
    root = Path(root)
    rate = 8000 if corpus == "ktelspeech" else 16000
    digits = 8 if corpus == "ktelspeech" else 6
    domain, vdomain = {"klecspeech": ("D12", "D99"), "kconfspeech": ("D26", "D20"),
                       "krespspeech": ("D50", "D51"), "ktelspeech": ("D60", "D62")}[corpus]
    sub = {"klecspeech": "G02", "kconfspeech": "G02", "krespspeech": "J01", "ktelspeech": "J91"}[corpus]
    utt = (lambda i: f"{i + 1:04d}") if corpus == "ktelspeech" else (lambda i: f"{i:06d}")
    tree = _AIHubTree(root, corpus, split_trees=corpus in ("ktelspeech", "kconfspeech"))
    fx = CorpusFixture(root=root, corpus=corpus)
    files = {"audio": 0, "transcript": 0, "session_json": 0, "os_junk": 0}

    s_a = find_session(corpus, domain, 7727, want_test=False, digits=digits)
    s_t = find_session(corpus, domain, 8000, want_test=True, digits=digits)
    s_p = find_session(corpus, domain, 9000, want_test=False, digits=digits)
    s_v = f"S{1:0{digits}d}"

    def expect(source, dom, session, stem, text, raw, seconds, speaker="", speaker_type=""):
        split = split_of(corpus, source, dom, session, 0.01)
        uid = f"{dom}_{session}_{stem}"
        fx.kept[uid] = {"split": split, "text": text, "text_raw": raw, "duration": round(int(round(seconds * rate)) / rate, 4),
                        "sample_rate": rate, "speaker": speaker, "speaker_type": speaker_type, "session": session,
                        "domain": dom}

    def skip(reason):
        fx.skipped[reason] = fx.skipped.get(reason, 0) + 1

    def wav(d: Path, stem: str, seconds: float):
        write_wav(d / f"{stem}.wav", seconds, rate)
        files["audio"] += 1

    def txt(d: Path, stem: str, raw: str, **kw):
        write_text(d / f"{stem}.txt", raw, **kw)
        files["transcript"] += 1

    # --- session A (train): two speakers, JSON with mismatched audioPath, junk files ----------
    lab, aud = tree.dirs("train", domain, sub, s_a)
    speakers = [{"id": "10614", "gender": "여", "type": "상담원", "age": "30대", "residence": "서울"},
                {"id": "qpccbzaz", "gender": "남", "type": "고객", "age": "20(?)", "residence": None}]
    u = [utt(i) for i in range(5)]
    lines = [
        ("n/ 네 해지 처리해드리겠습니다. 고객님 정말 죄송합니다만 카드번호를.",
         "네 해지 처리해드리겠습니다 고객님 정말 죄송합니다만 카드번호를", 0.6, "10614", "상담원", {}),
        ("그러니까 이 (1922년)/(천구백이십이 년)에 o/ 조선 교육령을 어/ 다시 발표합니다.",
         "그러니까 이 천구백이십이 년에 조선 교육령을 어 다시 발표합니다", 0.7, "qpccbzaz", "고객", {"bom": True}),
        ("(60)/)육십) 명이 (그러니까)(긍게*) 왔어요 ／ @이름1 님", "육십 명이 그러니까 왔어요 님", 0.8, "10614", "상담원", {}),
    ]
    for i, (raw, text, sec, spk, role, kw) in enumerate(lines):
        wav(aud, u[i], sec)
        txt(lab, u[i], raw + "\n", **kw)
        expect("train", domain, s_a, u[i], text, raw, sec, spk, role)
    txt(lab, u[3], "오디오가 없는 전사\n")                      # orphan label
    skip("orphan_label")
    wav(aud, u[4], 0.3)                                          # orphan audio
    skip("orphan_audio")
    write_text(lab / f"{s_a}.json", _session_json(corpus, domain, sub, s_a, speakers,
                                                   [("10614", u[0]), ("qpccbzaz", u[1]), ("10614", u[2]), ("10614", u[3])]))
    files["session_json"] += 1
    (aud / f"{u[0]}.wav:Zone.Identifier").write_text("[ZoneTransfer]\r\nZoneId=3\r\n")
    (lab / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    files["os_junk"] += 2
    # macOS "D60 2"-style duplicate of one wav
    _, dup = tree.dirs("train", domain, sub, s_a, dup=True)
    wav(dup, u[0], 0.6)
    skip("duplicate")

    # --- session T (train, hashed into test): one speaker, no dialogs, 5-digit name in ktel ---
    lab, aud = tree.dirs("train", domain, sub, s_t)
    stem = "00001" if corpus == "ktelspeech" else utt(0)
    raw = "아이스 아메리카노 (2잔)/(두 잔) 주세요"
    wav(aud, stem, 0.5)
    txt(lab, stem, raw)
    expect("train", domain, s_t, stem, "아이스 아메리카노 두 잔 주세요", raw, 0.5, "b0001", "고객")
    write_text(lab / f"{s_t}.json", _session_json(corpus, domain, sub, s_t,
                                                   [{"id": "b0001", "gender": "여", "type": "고객"}], []))
    files["session_json"] += 1

    # --- session P (train): one-utterance folder whose stems differ (KrespSpeech style) -------
    lab, aud = tree.dirs("train", domain, sub, s_p)
    raw = "예약 확인 부탁드려요"
    wav(aud, f"{s_p}_{utt(0)}", 0.4)
    txt(lab, f"{s_p}_{utt(0)}_label", raw)
    expect("train", domain, s_p, f"{s_p}_{utt(0)}", raw, raw, 0.4, "p0001", "")
    write_text(lab / f"{s_p}.json", _session_json(corpus, domain, sub, s_p, [{"id": "p0001", "gender": "남"}], []))
    files["session_json"] += 1

    # --- session V (Validation, D level present, no JSON): encodings and failures --------------
    lab, aud = tree.dirs("valid", vdomain, sub, s_v, with_d_level=True)
    v = [utt(i) for i in range(5)]
    raw = "b/ 그래서 오늘 안건은 (3가지)/(세 가지)입니다 n/"
    wav(aud, v[0], 0.9)
    txt(lab, v[0], raw, encoding="cp949")                        # CP949 fallback
    expect("valid", vdomain, s_v, v[0], "그래서 오늘 안건은 세 가지입니다", raw, 0.9)
    wav(aud, v[1], 0.3)
    txt(lab, v[1], "(그러니까 잘 모르겠어요")                      # unbalanced bracket
    skip("malformed_tag")
    wav(aud, v[2], 0.3)
    txt(lab, v[2], "n/ b/")                                      # nothing left
    skip("empty_text")
    aud.mkdir(parents=True, exist_ok=True)
    (aud / f"{v[3]}.wav").write_bytes(b"RIFF\x00\x00not really a wave file")
    files["audio"] += 1
    txt(lab, v[3], "깨진 오디오")
    skip("unreadable_audio")
    wav(aud, v[4], 0.02)                                         # shorter than min_duration 0.05 s
    txt(lab, v[4], "너무 짧아")
    skip("duration_out_of_bounds")

    fx.files = files
    fx.notes = {"paired_by_folder": 1, "session_without_json": 1, "encoding_cp949": 1, "encoding_utf-8-sig": 1,
                "repaired_flipped_dual_bracket": 1, "repaired_missing_dual_slash": 1, f"sample_rate_{rate}": len(fx.kept)}
    return fx


def make_aihub_bulk(root: Path, corpus: str, utterances: int, per_session: int = 50, seconds: float = 0.2) -> int:
    """A large, clean AIHub tree (split label/audio trees) for throughput benchmarks.

    Writes ``utterances`` wav+txt pairs in sessions of ``per_session`` with a session JSON
    each; returns the number of files written.
    """
    import io

    import soundfile as sf

    root = Path(root)
    rate = 8000 if corpus == "ktelspeech" else 16000
    tree = _AIHubTree(root, corpus, split_trees=True)
    buf = io.BytesIO()
    sf.write(buf, tone(seconds, rate), rate, subtype="PCM_16", format="WAV")
    wav_bytes = buf.getvalue()  # one encoded wav, written many times (fast)
    n_files = 0
    sessions = math.ceil(utterances / per_session)
    done = 0
    for s in range(sessions):
        session = f"S{s + 1:08d}"
        source = "valid" if s % 50 == 49 else "train"
        lab, aud = tree.dirs(source, "D60", "J91", session)
        lab.mkdir(parents=True, exist_ok=True)
        aud.mkdir(parents=True, exist_ok=True)
        dialogs = []
        for i in range(min(per_session, utterances - done)):
            stem = f"{i + 1:04d}"
            (aud / f"{stem}.wav").write_bytes(wav_bytes)
            (lab / f"{stem}.txt").write_text(f"n/ 네 고객님 (1번)/(일 번) 문의 {i} 확인해 드리겠습니다.\n", encoding="utf-8")
            dialogs.append(("10614" if i % 2 else "cust", stem))
            n_files += 2
            done += 1
        (lab / f"{session}.json").write_text(_session_json(corpus, "D60", "J91", session, [
            {"id": "10614", "type": "상담원"}, {"id": "cust", "type": "고객"}], dialogs), encoding="utf-8")
        n_files += 1
    return n_files


# ------------------------------------------------------------------------------------------
# LibriSpeech
# ------------------------------------------------------------------------------------------
def make_librispeech(root: Path) -> CorpusFixture:
    """``root/LibriSpeech/{dev-clean,train-clean-100,test-other}/...`` with flac and trans.txt."""
    root = Path(root)
    base = root / "LibriSpeech"
    fx = CorpusFixture(root=root, corpus="librispeech")
    chapters = {
        ("dev-clean", "1272", "128104"): [
            ("0000", "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES AND WE ARE GLAD TO WELCOME HIS GOSPEL", 0.5),
            ("0001", "NOR IS MISTER QUILTER'S MANNER LESS INTERESTING THAN HIS MATTER", 0.4),
            ("0002", "THIS LINE HAS NO AUDIO", None),
        ],
        ("train-clean-100", "19", "198"): [("0000", "NORTHANGER ABBEY", 0.3)],
        ("test-other", "1688", "142285"): [("0000", "THERE'S IRON THEY SAY IN ALL OUR BLOOD", 0.35),
                                           ("0001", "A CORRUPT FILE", "corrupt")],
    }
    files = {"audio": 0, "transcript_list": 0, "docs": 0, "os_junk": 0}
    for (split, spk, chap), lines in chapters.items():
        d = base / split / spk / chap
        d.mkdir(parents=True, exist_ok=True)
        trans = []
        for utt, text, sec in lines:
            uid = f"{spk}-{chap}-{utt}"
            trans.append(f"{uid} {text}")
            if sec is None:
                fx.skipped["orphan_label"] = fx.skipped.get("orphan_label", 0) + 1
                continue
            files["audio"] += 1
            if sec == "corrupt":
                (d / f"{uid}.flac").write_bytes(b"fLaC\x00garbage")
                fx.skipped["unreadable_audio"] = fx.skipped.get("unreadable_audio", 0) + 1
                continue
            write_wav(d / f"{uid}.flac", sec, 16000, fmt="FLAC")
            fx.kept[uid] = {"split": split, "text": text.lower(), "text_raw": text, "speaker": spk,
                            "duration": round(int(round(sec * 16000)) / 16000, 4), "sample_rate": 16000}
        write_text(d / f"{spk}-{chap}.trans.txt", "\n".join(trans) + "\n")
        files["transcript_list"] += 1
    write_wav(base / "train-clean-100/19/198/19-198-0001.flac", 0.3, 16000, fmt="FLAC")   # no transcript line
    files["audio"] += 1
    fx.skipped["orphan_audio"] = 1
    for name in ("README.TXT", "SPEAKERS.TXT"):
        write_text(base / name, "LibriSpeech ASR corpus\n")
        files["docs"] += 1
    (base / "dev-clean/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    files["os_junk"] += 1
    fx.files = files
    return fx


MAKERS = {
    "ksponspeech": make_ksponspeech,
    "librispeech": make_librispeech,
    **{c: (lambda root, c=c: make_aihub(root, c)) for c in AIHUB_CORPORA},
}



# ------------------------------------------------------------------------------------------
# Checking a preparer's output against a fixture
# ------------------------------------------------------------------------------------------
MANIFEST_KEYS = ("audio_filepath", "duration", "text", "text_raw", "utt_id", "speaker", "corpus", "split", "sample_rate")


def read_manifests(out_dir: Path) -> Dict[str, List[Dict[str, Any]]]:
    """``{split: [record, ...]}`` for every ``OUT/<split>.jsonl``."""
    out = {}
    for path in sorted(Path(out_dir).glob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            out[path.stem] = [json.loads(line) for line in f if line.strip()]
    return out


def assert_prepared(fx: CorpusFixture, out_dir: Path, report: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """Assert that manifests and report match the fixture exactly; returns records by utt_id.

    Checks every report count (found = kept + skipped, every skip reason, every file
    category), every manifest field of every kept utterance, and that each record sits in
    the manifest of its split.
    """
    u = report["utterances"]
    assert u["found"] == u["kept"] + sum(u["skipped"].values()), u
    assert u["kept"] == len(fx.kept), (u["kept"], sorted(fx.kept))
    expected_skips = {r: fx.skipped.get(r, 0) for r in u["skipped"]}
    assert u["skipped"] == expected_skips, (u["skipped"], expected_skips)
    assert set(fx.skipped) <= set(u["skipped"]), fx.skipped
    assert u["found"] == fx.found
    files = dict(report["files_on_disk"])
    total = files.pop("total")
    assert total == sum(files.values()), report["files_on_disk"]
    assert files == {c: fx.files.get(c, 0) for c in files}, (files, fx.files)
    for note, minimum in fx.notes.items():
        assert report["notes"].get(note, 0) >= minimum, (note, report["notes"])

    manifests = read_manifests(out_dir)
    assert set(manifests) == set(report["manifests"]) == set(report["splits"]), (sorted(manifests), report["manifests"])
    by_id: Dict[str, Dict[str, Any]] = {}
    for split, records in manifests.items():
        assert report["splits"][split]["utterances"] == len(records)
        for r in records:
            for key in MANIFEST_KEYS:
                assert key in r, (key, r)
            assert r["split"] == split, r
            assert r["corpus"] == fx.corpus, r
            assert os.path.isabs(r["audio_filepath"]) and os.path.isfile(r["audio_filepath"]), r
            assert r["utt_id"] not in by_id, f"duplicate utt_id {r['utt_id']}"
            by_id[r["utt_id"]] = r
    assert set(by_id) == set(fx.kept), (sorted(by_id), sorted(fx.kept))
    for uid, exp in fx.kept.items():
        r = by_id[uid]
        for key, value in exp.items():
            if key == "duration":
                assert abs(r["duration"] - value) < 1e-3, (uid, r["duration"], value)
            else:
                assert r.get(key) == value, (uid, key, r.get(key), value)
    return by_id
