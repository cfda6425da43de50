"""Korean inverse text normalization, punctuation and the display form (issue 17 parts 1-2)."""
import re

import numpy as np
import pytest

from hypersp.prepare.synthetic.korean_text import _SLOT, _TEMPLATES, generate_sentences, hand_written_sentences, render_template
from hypersp.prepare.synthetic.open_test_text import open_test_sentences
from hypersp.registry import ITNS, PUNCTUATORS
from hypersp.text.display import display_form
from hypersp.text.itn import get_itn, itn, parse_native, parse_sino
from hypersp.text.normalize import korean
from hypersp.text.punctuation import EndingPunctuator, punctuate


def test_registered_and_configurable():
    assert "korean" in ITNS.names() and "korean_endings" in PUNCTUATORS.names()
    assert get_itn(native=False)("세 시 삼십 분") == "세 시 30분"
    assert get_itn(large_numbers="digits")("삼만 오천 원") == "35,000원"
    with pytest.raises(TypeError):
        get_itn(nonsense=True)


def test_numeral_parsers_are_canonical():
    assert parse_sino("삼십이") == 32 and parse_sino("만") == 10000 and parse_sino("일억") == 10**8
    assert parse_sino("천오백구십이") == 1592 and parse_sino("이천이십육") == 2026
    for word in ("일십", "이사", "만만", "일만", "억", "문제", "영"):
        assert parse_sino(word) is None, word
    assert parse_native("세") == 3 and parse_native("스무") == 20 and parse_native("스물한") == 21
    assert parse_native("스물") is None and parse_native("하나") is None


def test_itn_inverts_the_one_reader():
    from hypersp.text import itn as itn_module, numbers

    # the native counters ITN writes in digits are counters the reader reads natively
    assert set(itn_module.ITN_NATIVE_COUNTERS) <= set(numbers.NATIVE_COUNTERS)
    for n in (1, 15, 2026, 10000, 15700, 35000, 21428571, 10**8):
        assert parse_sino(numbers.sino(n).replace(" ", "")) == n
    assert [parse_native(numbers.native(n)) for n in range(1, 100)] == list(range(1, 100))


@pytest.mark.parametrize("spoken,written", [
    # Sino-Korean cardinals + counters
    ("교재 삼십이 쪽을 펴 주세요", "교재 32쪽을 펴 주세요"),
    ("다음 시간까지 교재 칠 장을 읽어 오세요", "다음 시간까지 교재 7장을 읽어 오세요"),
    ("교재 삼 장부터 칠 장까지입니다", "교재 3장부터 7장까지입니다"),
    ("십오 번 문제를 함께 풀어 봅시다", "15번 문제를 함께 풀어 봅시다"),
    ("보증 기간은 삼 년입니다", "보증 기간은 3년입니다"),
    ("환불은 삼 영업일 안에 처리됩니다", "환불은 3영업일 안에 처리됩니다"),
    ("삼각형 내각의 합은 언제나 백팔십 도입니다", "삼각형 내각의 합은 언제나 180도입니다"),
    ("회의는 십 분 후에 다시 시작하겠습니다", "회의는 10분 후에 다시 시작하겠습니다"),
    ("지하철 이 호선", "지하철 2호선"),
    ("삼십 명이 왔습니다", "30명이 왔습니다"),
    ("삼 층 회의실", "3층 회의실"),
    ("삼십이쪽을", "32쪽을"),                                   # glued, as older text and models write it
    # native numerals + native counters
    ("두 명이 참석합니다", "2명이 참석합니다"),
    ("다섯 개 이상 구매하시면", "5개 이상 구매하시면"),
    ("스무 살입니다", "20살입니다"),
    ("예를 열두 가지 들어 보겠습니다", "예를 12가지 들어 보겠습니다"),
    ("회의실 예약이 한 시간 남았습니다", "회의실 예약이 1시간 남았습니다"),
    ("스물다섯 명이 참석할 예정입니다", "25명이 참석할 예정입니다"),
    # money
    ("오만 원입니다", "5만 원입니다"),
    ("가격은 삼만 오천 원입니다", "가격은 3만 5000원입니다"),
    ("요금이 만 오천칠백 원 청구되었습니다", "요금이 15,700원 청구되었습니다"),
    ("가격은 팔백오십 원입니다", "가격은 850원입니다"),
    ("월 이천백사십이만팔천오백칠십일원 이상", "월 2142만 8571원 이상"),
    ("포인트 오천 점이 적립되었습니다", "포인트 5000점이 적립되었습니다"),
    # dates
    ("이천이십육 년 삼월 이일", "2026년 3월 2일"),
    ("이천이십육 년 삼 월 이 일", "2026년 3월 2일"),
    ("중간고사는 유월 십오일에 있습니다", "중간고사는 6월 15일에 있습니다"),
    ("납부 기한은 시월 이십팔일까지입니다", "납부 기한은 10월 28일까지입니다"),
    ("천오백구십이 년에 일어났습니다", "1592년에 일어났습니다"),
    ("이천십일년 일월 일일부터", "2011년 1월 1일부터"),
    # times
    ("오후 세 시 삼십 분에 회의가 있습니다", "오후 3시 30분에 회의가 있습니다"),
    ("내일 오전 열한 시 반", "내일 오전 11시 반"),
    ("세 시 이 분", "3시 2분"),
    ("세 시에서 다섯 시 반 사이에 연락드릴 겁니다", "3시에서 5시 반 사이에 연락드릴 겁니다"),
    # digit by digit
    ("공일공 일이삼사 오육칠팔", "010-1234-5678"),
    ("전화번호 뒷자리 일이삼사 맞으십니까", "전화번호 뒷자리 1234 맞으십니까"),
    ("계좌 번호 공공삼 사오육 칠팔구공", "계좌 번호 003-456-7890"),
    ("연락처는 공일공 일이삼사 오육칠팔입니다", "연락처는 010-1234-5678입니다"),
    ("뒷자리 일이삼사를 불러 주세요", "뒷자리 1234를 불러 주세요"),
    # percent, decimals
    ("삼십 퍼센트 할인해 드립니다", "30% 할인해 드립니다"),
    ("사십칠 퍼센트입니다", "47%입니다"),
    ("삼 점 오", "3.5"),
    ("중력 가속도는 약 구 점 팔입니다", "중력 가속도는 약 9.8입니다"),
    ("삼 점 오 퍼센트", "3.5%"),
])
def test_rule_families(spoken, written):
    assert itn(spoken) == written


@pytest.mark.parametrize("text", [
    "이 문제는 어렵습니다", "일을 했습니다", "사 측에서 연락이 왔습니다", "이 분이 팀장님입니다",
    "이 번 문제", "이 쪽으로 오세요", "이 점을 기억하세요", "이 장에서는 미분을 다룹니다", "이 일도 중요합니다",
    "화장실은 이 층 계단 옆에 있습니다", "오 분", "다시 한 번 설명할게요", "두 번째 문제", "첫 번째",
    "세 분이 오셨습니다", "이월 금액", "이사님께 보고하겠습니다", "일일이 확인하세요", "삼삼오오 모였습니다",
    "사이에 있습니다", "이 시에서 화자는", "구분해 주세요", "사원 교육", "만 팔 세 이하", "만육세 이하",
    "오천 점 이상", "백팔십",
])
def test_ambiguous_words_left_unchanged(text):
    expected = {"오 분": "5분", "만 팔 세 이하": "만 8세 이하", "오천 점 이상": "5000점 이상"}.get(text, text)
    assert itn(text) == expected


@pytest.fixture(scope="module")
def generated():
    return generate_sentences(3000, seed=17)


def test_round_trip_over_generated_sentences(generated):
    # The korean normalizer reads digits with the reader ITN inverts (hypersp.text.numbers), so the written
    # form comes back exactly, spaces included: 3시 -> 세 시, 6월 -> 유월, 010-1234-5678 -> 공일공 일이삼사 오육칠팔.
    assert [x for x in generated if korean(x) != x] == []
    # 3000 / 3000; with the earlier separate readers 1974 exactly, 2574 up to spaces
    assert [(x, itn(x)) for x in generated if korean(itn(x)) != x] == []
    converted = sum(itn(x) != x for x in generated)
    assert converted > 1000  # 1180 of 3000 (seed 17) hold a number ITN writes in digits
    # every reading family takes part in the round trip
    written = " ".join(itn(x) for x in generated)
    for pattern in (r"\d+시 ", r"(^| )6월", r"(^| )10월", r"뒷자리 \d+", r"\d+만 \d+원", r"\d+%"):
        assert re.search(pattern, written), pattern


def test_round_trip_over_open_test_sentences():
    # written independently of the generator; ITN changes 25 of them (OPEN_CHANGED below)
    assert [x for x in open_test_sentences() if korean(itn(x)) != x] == []


# Open-test sentences (written independently of the generator) that ITN changes: each holds a number and
# each conversion was checked by hand. 13 more hold a number ITN leaves in words (다섯 쪽, 이 층, 한 번, 한 달,
# 세 단계, 여섯 자리, 두 번, 둘째, 사흘, 하루); the other 202 are number-free.
OPEN_CHANGED = {
    "삼각형 내각의 합은 언제나 백팔십 도입니다", "임진왜란은 천오백구십이 년에 일어났습니다",
    "여기서 헷갈리기 쉬운 개념이 두 가지 있습니다", "중력 가속도는 약 구 점 팔입니다",
    "과제를 늦게 내면 하루에 십 점씩 감점됩니다", "이 작곡가는 평생 아홉 개의 교향곡을 남겼습니다",
    "이 영상은 십오 분 정도 걸립니다", "오늘 강의는 예정보다 십 분 일찍 끝내겠습니다",
    "해외 지사와의 화상 회의는 저녁 여덟 시에 합니다", "인턴 두 명이 다음 주부터 합류합니다",
    "디자인 시안은 세 가지 버전으로 준비했습니다", "이번 프로젝트의 위험 요소를 세 가지로 정리했습니다",
    "다음 회의 전까지 각자 아이디어를 세 개씩 생각해 오세요", "배송비는 오만 원 이상 구매 시 무료입니다",
    "이 노트북은 무게가 일 킬로그램 정도입니다", "주문한 케이크를 오후 다섯 시에 찾으러 올게요",
    "이 자전거는 바퀴 크기가 이십 인치입니다", "무료 수선은 구매 후 일 년까지 가능합니다",
    "고객님 명의로 된 회선이 두 개 확인됩니다", "견인차가 삼십 분 안에 도착할 예정입니다",
    "카드 결제일을 이십오 일로 변경하고 싶어요", "변경 수수료는 삼만 원입니다",
    "이번 달 청구 금액이 평소보다 두 배나 많아요", "지하철 이 호선에서 잃어버리셨나요",
    "자기 부담금 십오만 원을 내시면 수리가 가능합니다",
}


def test_false_conversion_rate_on_number_free_sentences():
    # 1) generator, hand-written: only the five sentences that hold a number change
    changed = {x for x in hand_written_sentences() if itn(x) != x}
    assert changed == {"시험 시간은 오십 분입니다", "발표는 한 사람당 오 분씩입니다",
                       "오늘 논의한 내용을 세 가지로 요약하겠습니다", "회의실 예약이 한 시간 남았습니다",
                       "요금제를 바꾸시면 매달 만 원 정도 절약됩니다"}
    # 2) generator, templates without a numeric slot: nothing changes
    numeric = {"day", "daypoint", "dayat", "chapters", "date", "time", "clocktime", "clock", "money", "minutes",
               "small", "page", "percent", "count", "people", "phone", "year", "place", "month"}
    rng = np.random.default_rng(5)
    plain = {render_template(t, rng, r) for _ in range(10) for r, ts in _TEMPLATES.items() for t in ts
             if not {m.group(1) for m in _SLOT.finditer(t)} & numeric}
    assert len(plain) > 300 and [x for x in plain if itn(x) != x] == []
    # 3) open test: the changed sentences are exactly the hand-checked ones; 0 of 202 number-free change
    open_changed = {x for x in open_test_sentences() if itn(x) != x}
    assert open_changed == OPEN_CHANGED
    false_rate = len(open_changed - OPEN_CHANGED) / 202
    assert false_rate <= 0.005


@pytest.mark.parametrize("text,expected", [
    ("교재 삼십이 쪽을 펴 주세요", "교재 삼십이 쪽을 펴 주세요."),
    ("회의를 시작하겠습니다", "회의를 시작하겠습니다."),
    ("다음 주에는 휴강입니다", "다음 주에는 휴강입니다."),
    ("이 제품 정말 좋아요", "이 제품 정말 좋아요."),
    ("다른 색상도 보여 드릴까요", "다른 색상도 보여 드릴까요?"),
    ("모두 참석하셨나요", "모두 참석하셨나요?"),
    ("전화번호 뒷자리 일이삼사 맞으십니까", "전화번호 뒷자리 일이삼사 맞으십니까?"),
    ("찾으시는 상품이 있으신가요", "찾으시는 상품이 있으신가요?"),
    ("본인 확인을 위해 성함을 말씀해 주시겠어요", "본인 확인을 위해 성함을 말씀해 주시겠어요?"),
    ("교환하고 싶은데 어떻게 해야 돼요", "교환하고 싶은데 어떻게 해야 돼요?"),
    ("시간이 없으니까", "시간이 없으니까."),
    ("회의실", "회의실"),                      # a fragment: no mark
    ("끝났습니다.", "끝났습니다."),            # already marked
])
def test_punctuation_cases(text, expected):
    assert punctuate(text) == expected


# Hand labels, open test: its questions (every other sentence is a statement). Generated sentences: every
# ending the generator produces (seed 17) was read and labelled by hand; the question endings are these.
OPEN_QUESTIONS = {
    "셰익스피어의 비극 중에서 가장 유명한 작품은 무엇일까요", "혹시 작년에 이 과목을 들은 사람 있나요",
    "탄소 배출을 줄이려면 어떤 정책이 필요할까요", "이 안건은 표결로 결정하는 게 어떨까요",
    "사내 게시판에 공지를 올려 주시겠어요", "이 원피스 다른 색깔도 있나요", "현금 영수증 발급해 드릴까요",
    "멤버십 포인트로 결제할 수 있나요", "매장 앞에 주차해도 되나요", "아이가 쓸 건데 안전한 소재인가요",
    "선물 받은 물건인데 영수증 없이 교환되나요", "부모님 선물로 드릴 건데 추천해 주시겠어요",
    "포장 뜯은 이어폰도 반품이 될까요", "유아용 카시트도 대여가 되나요", "온라인에서 주문한 물건을 매장에서 받을 수 있나요",
    "다친 분은 안 계신가요", "항공권 출발 날짜를 하루 앞당길 수 있을까요", "호텔 예약을 취소하면 위약금이 있나요",
    "지금 통화 가능한 시간이 언제세요", "렌터카 반납 장소를 공항으로 바꿀 수 있나요", "지하철 이 호선에서 잃어버리셨나요",
    "제 설명이 충분하셨나요", "스마트폰 액정이 깨졌는데 보험 처리가 되나요",
}
GENERATED_QUESTION_ENDINGS = ("하시겠습니까", "주시겠어요", "있으신가요", "맞으십니까", "드릴까요", "하나요",
                              "주시겠습니까", "있나요", "들리시나요", "결제하시겠어요", "보이시나요", "참석하셨나요",
                              "동의하시나요", "없으신가요", "들리나요", "어떻게 되세요")


def test_punctuation_accuracy(generated):
    punct = EndingPunctuator()
    gen_ok = sum(punct.mark(x) == ("?" if x.endswith(GENERATED_QUESTION_ENDINGS) else ".") for x in generated)
    assert gen_ok / len(generated) == 1.0            # 3000 / 3000
    sentences = open_test_sentences()
    open_ok = sum(punct.mark(x) == ("?" if x in OPEN_QUESTIONS else ".") for x in sentences)
    assert open_ok / len(sentences) >= 0.995         # 239 / 240: 소리가 나요 (a statement) gets '?'


def test_display_form():
    assert display_form("교재 삼십이 쪽을 펴 주세요") == "교재 32쪽을 펴 주세요."
    assert display_form("오후 세 시에 방문할 예정입니다") == "오후 3시에 방문할 예정입니다."
    assert display_form("전화번호 뒷자리 일이삼사 맞으십니까") == "전화번호 뒷자리 1234 맞으십니까?"
    assert display_form("오만 원입니다", punctuation=False) == "5만 원입니다"
    assert display_form("오만 원입니다", itn=False) == "오만 원입니다."
    assert display_form("오만  원입니다", itn=False, punctuation=False) == "오만 원입니다"
    assert display_form("오만 원입니다", itn=str.upper, punctuation="korean_endings") == "오만 원입니다."
