"""Spacing correction (hypersp.text.spacing, the optional ``spacing`` extra) and its place in display_form."""
import pytest

from hypersp.registry import SPACERS
from hypersp.text import spacing
from hypersp.text.display import display_form


def test_display_form_without_kiwipiepy_skips_spacing(monkeypatch):
    monkeypatch.setattr(spacing, "spacing_available", lambda: False)
    assert display_form("오늘 도 세 시 에 만납니다") == "오늘 도 3시 에 만납니다."


def test_named_spacer_without_kiwipiepy_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_kiwi(name, *args, **kwargs):
        if name.startswith("kiwipiepy"):
            raise ImportError("No module named 'kiwipiepy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(spacing, "_KIWI", None)
    monkeypatch.setattr(builtins, "__import__", no_kiwi)
    with pytest.raises(spacing.SpacingUnavailable, match=r"hypersp\[spacing\]"):
        display_form("오늘 도", spacing="kiwi")


def test_spacer_config_is_checked():
    assert "kiwi" in SPACERS.names()
    with pytest.raises(ValueError, match="attach or full"):
        spacing.get_spacer("kiwi", mode="sometimes")
    with pytest.raises(TypeError, match="no setting"):
        spacing.get_spacer("kiwi", colour="red")


@pytest.fixture(scope="module")
def kiwi():
    """The tests below need the optional extra (pip install 'hypersp[spacing]'); skipped without it."""
    return pytest.importorskip("kiwipiepy")


@pytest.mark.parametrize("spoken, spaced", [
    ("오늘 도 좋은 하루 되십시오", "오늘도 좋은 하루 되십시오"),            # particle
    ("방문 점검은 평일 오전에 만 가능합니다", "방문 점검은 평일 오전에만 가능합니다"),
    ("팀별 목표를 표로 정리해두 었습니다", "팀별 목표를 표로 정리해두었습니다"),  # ending
    ("고대 그리스 철학자 들은 근원을 고민했습니다", "고대 그리스 철학자들은 근원을 고민했습니다"),  # noun suffix
])
def test_attach_joins_split_particles_and_endings(spoken, spaced, kiwi):
    assert spacing.correct_spacing(spoken) == spaced


@pytest.mark.parametrize("text", [
    "냉장고를 교환하고 싶은데 어떻게 해야 하나요",      # kiwi's own spacing would write 해야하나요
    "하반기 영업 전략에 대해 구매팀의 의견을 듣고 싶습니다",
    "이 문제는 교재 삼십이 쪽에 있습니다",
    "전화번호 뒷자리 구공육이 맞으십니까",
])
def test_attach_leaves_well_spaced_text_alone(text, kiwi):
    assert spacing.correct_spacing(text) == text


def test_only_spaces_change_and_full_mode_respaces(kiwi):
    text = "이 냄비는 인덕션에서 도 사용할 수 있습니다"
    for mode in ("attach", "full"):
        out = spacing.get_spacer("kiwi", mode=mode)(text)
        assert out.replace(" ", "") == text.replace(" ", "")
    assert spacing.get_spacer("kiwi", mode="full")("교재삼십이쪽을펴주세요") != "교재삼십이쪽을펴주세요"
    assert spacing.correct_spacing("") == "" and spacing.correct_spacing(" 하나 ") == "하나"


def test_display_form_spaces_before_itn(kiwi):
    # the split particle is joined first, so the number and its counter reach ITN as one phrase
    assert display_form("교재 삼십이 쪽 을 펴 주세요") == "교재 32쪽을 펴 주세요."
    assert display_form("교재 삼십이 쪽 을 펴 주세요", spacing=False) == "교재 32쪽 을 펴 주세요."
