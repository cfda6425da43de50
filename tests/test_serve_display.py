"""The display form in the served paths (issue 17 part 4): demo apps' results carry ``text`` (spoken) and
``display``, subtitles show the display form unless the request says ``"display": false``, live events carry
both, the page starts in the server's ``serve.display`` form, and the setting is validated."""
import json

import numpy as np
import pytest

import hypersp
from hypersp.audio.io import resample
from hypersp.text.display import display_form

SENTENCE = "오늘 회의는 세 시에 시작합니다"  # the demo model writes it exactly (tests/test_engine.py)


@pytest.fixture(scope="module")
def asr():
    return hypersp.load("demo_ko_16k", decoding="ctc_beam", beam_size=4, lm="")


@pytest.fixture(scope="module")
def speech():
    """The sentence as 16 kHz float32 samples, with a second of silence after it."""
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer

    x, rate = EspeakSynthesizer().synthesize(SENTENCE, rate_wpm=160, seed=1)
    x = resample(x.astype(np.float32) / 32768.0, rate, 16000)
    return np.concatenate([np.zeros(4000, np.float32), x, np.zeros(16000, np.float32)])


def app(name):
    from hypersp.registry import APPS

    return APPS.get(name)(APPS.config_class(name)())


def test_apps_return_both_forms_and_subtitles_follow_the_setting(asr, speech):
    minutes = app("minutes").recognize(asr, speech[None, :], 16000, settings={"display": True})
    assert minutes["text"] == SENTENCE and minutes["display"] == "오늘 회의는 3시에 시작합니다."
    assert [s["display"] for s in minutes["segments"]] == [display_form(s["text"]) for s in minutes["segments"]]
    subs = app("subtitles").recognize(asr, speech[None, :], 16000, settings={})
    assert "3시에 시작합니다." in subs["srt"] and "3시에" in subs["vtt"]  # the display form by default
    spoken = app("subtitles").recognize(asr, speech[None, :], 16000, settings={"display": False})
    assert "세 시에 시작합니다" in spoken["srt"] and "3시" not in spoken["vtt"]
    assert spoken["text"] == subs["text"] and spoken["display"] == subs["display"]  # JSON: both, always
    stereo = np.stack([speech, np.zeros_like(speech)])
    tel = app("offline_tel").recognize(asr, stereo, 16000, settings={"display": False, "words": False})
    assert tel["segments"] and all(s["display"] == display_form(s["text"]) for s in tel["segments"])


def test_live_events_carry_both_forms(asr, speech):
    session = asr.stream(16000)
    events = []
    for i in range(0, speech.size, 1600):
        events += session.accept(speech[i:i + 1600])
    events += session.finish()
    finals = [e for e in events if e["final"] and e["text"]]
    partials = [e for e in events if not e["final"] and e["text"]]
    assert finals and all(e["display"] == display_form(e["text"]) for e in finals)
    assert "3시" in " ".join(e["display"] for e in finals)
    # a partial is not a finished sentence: written numbers, but no sentence-final mark or spacing correction yet
    assert partials and all(e["display"] == display_form(e["text"], punctuation=False, spacing=False) for e in partials)


def test_display_setting_is_a_checked_boolean():
    from hypersp.serve.protocol import ProtocolError, parse_settings

    assert parse_settings({"display": False}) == {"display": False}  # a POST body's top-level key
    assert parse_settings({"settings": {"display": True, "words": False}}) == {"display": True, "words": False}
    with pytest.raises(ProtocolError, match="'display' must be true or false"):
        parse_settings({"settings": {"display": "no"}})


def test_page_starts_in_the_configured_form():
    pytest.importorskip("sanic")
    from hypersp.serve.server import render_page

    def page_settings(html):
        return json.loads(html.split("window.HYPERSP = ")[1].split(";</script>")[0])

    assert page_settings(render_page(app("online_resp")))["display"] is True
    assert page_settings(render_page(app("minutes"), display=False))["display"] is False
    assert 'id="display"' in render_page(app("minutes"))
