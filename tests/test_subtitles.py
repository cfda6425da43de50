"""SRT/WebVTT writers and cue lengths."""
import re

from hypersp.inference.subtitles import SubtitleConfig, display_width, make_cues, to_srt, to_vtt


def test_cue_lengths_lines_and_formats():
    text = "오늘은 음성 인식 모델의 구조와 학습 방법을 자세히 살펴보겠습니다 그리고 실습도 함께 진행합니다"
    segs = [{"start": 1.0, "end": 16.0, "text": text}, {"start": 20.0, "end": 20.3, "text": "네 <좋아요> & -->"},
            {"start": 25.0, "end": 26.0, "text": "  "}]
    cfg = SubtitleConfig()
    cues = make_cues(segs, cfg)
    assert len(cues) >= 3
    for a, b in zip(cues, cues[1:]):
        assert a["end"] <= b["start"] + 1e-9
    for c in cues:
        assert cfg.min_cue_s - 1e-9 <= c["end"] - c["start"] <= cfg.max_cue_s + 1e-9
        lines = c["text"].split("\n")
        assert len(lines) <= cfg.max_lines
        assert all(display_width(l) <= cfg.max_line_chars or " " not in l for l in lines)
    assert " ".join(" ".join(c["text"].split("\n")) for c in cues[:-1]) == text  # nothing lost
    srt = to_srt(cues)
    assert srt.startswith("1\n00:00:01,000 --> ")
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d", l) for l in srt.splitlines() if "-->" in l and "," in l[:12])
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT\n\n00:00:01.000 --> ")
    assert "&lt;좋아요&gt; &amp; -&gt;" in vtt and "<좋아요>" not in vtt
    assert vtt.count("-->") == len(cues)  # the "-->" in the text was defused
