"""Everyday Korean sentences for the synthetic default corpus, written for hypersp.

Two sources, both original to this repository:

* hand-written sentences in four registers (``lecture``, ``meeting``, ``customer_service``,
  ``call_center``) — the settings of hypersp's demo apps;
* templates whose slots (people, products, topics, days, times, amounts) are filled at random,
  with case particles chosen by the final consonant (batchim) of the word they attach to
  (은/는, 이/가, 을/를, 과/와, 으로/로) and numbers written out in Hangul by :mod:`hypersp.text.numbers`
  (sino-Korean for minutes, dates, money, pages; native Korean for hours, counts of people and things).

Every sentence is Hangul syllables separated by single spaces, 2..12 words, no digits, Latin
letters or punctuation, so it is directly a training target. ``generate_sentences(n, seed)``
returns ``n`` distinct sentences, the same ones for the same arguments.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from hypersp.text.numbers import MONTHS, digit_by_digit, native, sino

REGISTERS = ("lecture", "meeting", "customer_service", "call_center")
MIN_WORDS, MAX_WORDS = 2, 12

_HANGUL_SENTENCE = re.compile(r"^[가-힣]+( [가-힣]+)*$")


def is_clean_sentence(text: str) -> bool:
    """True if ``text`` is Hangul words separated by single spaces, MIN_WORDS..MAX_WORDS words."""
    return bool(_HANGUL_SENTENCE.match(text)) and MIN_WORDS <= len(text.split(" ")) <= MAX_WORDS


# --------------------------------------------------------------------------- particles

_RIEUL = 8  # index of ㄹ among the 28 final-consonant slots (0 = none)


def final_consonant(word: str) -> int:
    """Index (1..27) of the final consonant of the last syllable of ``word``; 0 if it ends in a vowel."""
    ch = word[-1]
    if not ("가" <= ch <= "힣"):
        raise ValueError(f"final_consonant: {word!r} does not end in a Hangul syllable")
    return (ord(ch) - 0xAC00) % 28



# particle written in either form -> (form after a consonant, form after a vowel)
_PARTICLES = {}
for _pair in (("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"),
              ("이나", "나"), ("이랑", "랑"), ("이에요", "예요"), ("이라고", "라고")):
    _PARTICLES[_pair[0]] = _PARTICLES[_pair[1]] = _pair


def josa(word: str, particle: str) -> str:
    """Attach ``particle`` (either form, e.g. "을" or "를") to ``word`` in the form its batchim needs.

    >>> josa("사과", "을"), josa("책", "를"), josa("서울", "으로"), josa("부산", "로")
    ('사과를', '책을', '서울로', '부산으로')
    """
    if particle not in _PARTICLES:
        raise ValueError(f"josa: unknown particle {particle!r}; known: {sorted(_PARTICLES)}")
    after_consonant, after_vowel = _PARTICLES[particle]
    final = final_consonant(word)
    if after_consonant == "으로":
        # ㄹ behaves like a vowel for 으로/로: 서울로, 연필로.
        return word + ("로" if final in (0, _RIEUL) else "으로")
    return word + (after_consonant if final else after_vowel)


# --------------------------------------------------------------------------- numbers
# Every number is written by hypersp's one numeral reader (hypersp.text.numbers), the one the korean
# normalizer reads digits with: Sino-Korean with 만/억 groups apart (삼만 오천), native before native
# counters (세 시), digit by digit for phone numbers (일이삼사), 유월/시월.

_WEEKDAYS = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]

Rng = np.random.Generator


def _choice(rng: Rng, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _date(rng: Rng) -> str:
    month = int(rng.integers(12))
    return f"{MONTHS[month]} {sino(int(rng.integers(1, 29)))}일"


def _clock(rng: Rng) -> str:
    hour = int(rng.integers(1, 13))
    minute = _choice(rng, ["", "", " 반", " 십 분", " 십오 분", " 이십 분", " 삼십 분", " 사십 분", " 사십오 분", " 오십 분"])
    return f"{native(hour)} 시{minute}"


def _time_of_day(rng: Rng) -> str:
    return f"{_choice(rng, ['오전', '오후', '', '내일 오전', '내일 오후'])} {_clock(rng)}".strip()


def _clock_time(rng: Rng) -> str:
    return f"{_choice(rng, ['오전', '오후'])} {_clock(rng)}"


def _day(rng: Rng) -> str:
    kind = int(rng.integers(4))
    if kind == 0:
        return _choice(rng, ["오늘", "내일", "모레", "이번 주말", "이번 달 말", "다음 달 초", "주말"])
    if kind == 1:
        return f"{_choice(rng, ['이번 주', '다음 주', '다음 주'])} {_choice(rng, _WEEKDAYS)}"
    if kind == 2:
        return _choice(rng, _WEEKDAYS)
    return _date(rng)


def _day_point(rng: Rng) -> str:
    """A specific day (never a span like 이번 주 안), to go before a clock time."""
    kind = int(rng.integers(3))
    if kind == 0:
        return _choice(rng, ["오늘", "내일", "모레"])
    if kind == 1:
        return f"{_choice(rng, ['이번 주', '다음 주'])} {_choice(rng, _WEEKDAYS)}"
    return _date(rng)


def _day_at(rng: Rng) -> str:
    """``_day`` with the locative 에, which 오늘/내일/모레 do not take."""
    day = _day(rng)
    return day if day in ("오늘", "내일", "모레") else day + "에"


def _chapter_range(rng: Rng) -> str:
    first = int(rng.integers(1, 15))
    last = first + int(rng.integers(1, 6))
    return f"{sino(first)} 장부터 {sino(last)} 장까지"


def _money(rng: Rng) -> str:
    # Prices with a realistic shape: a few significant figures, in 원 steps of 100 or more.
    magnitude = _choice(rng, ["hundreds", "thousands", "ten_thousands", "hundred_thousands"])
    if magnitude == "hundreds":
        value = int(rng.integers(1, 10)) * 100 + (int(rng.integers(0, 10)) * 10 if rng.random() < 0.3 else 0)
    elif magnitude == "thousands":
        value = int(rng.integers(1, 100)) * 100
    elif magnitude == "ten_thousands":
        value = int(rng.integers(10, 1000)) * 100
    else:
        value = int(rng.integers(100, 3000)) * 1000
    return sino(value)


def _minutes(rng: Rng) -> str:
    return sino(int(_choice(rng, ["2", "3", "5", "5", "10", "10", "15", "20", "30"])))


def _small_sino(rng: Rng) -> str:
    return sino(int(rng.integers(1, 21)))


def _page(rng: Rng) -> str:
    return sino(int(rng.integers(3, 400)))


def _percent(rng: Rng) -> str:
    return sino(int(rng.integers(2, 60)))


def _count(rng: Rng) -> str:
    return native(int(rng.integers(2, 13)))


def _people(rng: Rng) -> str:
    return native(int(rng.integers(2, 31)))


def _phone_tail(rng: Rng) -> str:
    return digit_by_digit("".join(str(int(d)) for d in rng.integers(0, 10, size=4)))


def _year(rng: Rng) -> str:
    return sino(int(rng.integers(1990, 2031)))


# --------------------------------------------------------------------------- vocabulary

_COMMON: Dict[str, Union[Sequence[str], Callable[[Rng], str]]] = {
    "day": _day,
    "daypoint": _day_point,
    "dayat": _day_at,
    "chapters": _chapter_range,
    "date": _date,
    "time": _time_of_day,
    "clocktime": _clock_time,
    "clock": _clock,
    "money": _money,
    "minutes": _minutes,
    "small": _small_sino,
    "page": _page,
    "percent": _percent,
    "count": _count,
    "people": _people,
    "phone": _phone_tail,
    "year": _year,
    "weekday": _WEEKDAYS,
    "city": ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "수원", "제주", "춘천", "전주",
             "청주", "포항", "창원", "강릉", "목포", "여수", "천안", "세종", "원주"],
}

_VOCAB: Dict[str, Dict[str, Union[Sequence[str], Callable[[Rng], str]]]] = {
    "meeting": {
        "person": ["팀장님", "부장님", "과장님", "차장님", "대리님", "실장님", "본부장님", "이사님", "사장님",
                   "민수 씨", "지영 씨", "서연 씨", "준호 씨", "하은 씨", "동현 씨", "수빈 씨", "재원 씨",
                   "김 대리", "박 과장", "최 팀장", "이 주임", "정 선임", "한 책임"],
        "team": ["개발팀", "영업팀", "마케팅팀", "인사팀", "디자인팀", "기획팀", "재무팀", "품질관리팀",
                 "고객지원팀", "연구소", "법무팀", "구매팀", "홍보팀", "운영팀", "물류팀"],
        "topic": ["신제품 출시 일정", "다음 분기 예산", "고객 만족도 조사", "신규 채용 계획", "홈페이지 개편",
                  "하반기 영업 전략", "협력 업체 선정", "사무실 이전", "직원 교육 프로그램", "보안 점검",
                  "서비스 개선 방안", "연말 행사", "월간 매출 보고", "전산 시스템 교체", "해외 진출 계획",
                  "재고 관리", "가격 정책", "광고 캠페인", "고객 불만 처리", "출장 일정", "업무 분담",
                  "신규 프로젝트", "비용 절감 방안", "품질 개선", "회의 운영 방식"],
        "doc": ["보고서", "발표 자료", "회의록", "계약서", "견적서", "기획안", "예산안", "일정표", "설문 결과",
                "제안서", "수정안", "검토 의견", "업무 계획서", "결과 보고서", "요약본"],
        "place": ["대회의실", "소회의실", "세미나실", "본관 회의실", "별관 회의실", "온라인 회의실", "강당",
                  "삼 층 회의실", "오 층 회의실", "본사", "지하 회의실", "임원 회의실"],
        "metric": ["매출", "영업 이익", "신규 고객 수", "방문자 수", "운영 비용", "재구매율", "해지율",
                   "주문 건수", "광고 비용", "생산량"],
        "updown": ["늘었습니다", "줄었습니다", "증가했습니다", "감소했습니다", "올랐습니다", "떨어졌습니다"],
        "status": ["예정대로 진행되고 있습니다", "조금 지연되고 있습니다", "거의 마무리되었습니다",
                   "다시 검토가 필요합니다", "다음 주에 결정하겠습니다", "아직 논의 중입니다",
                   "보류하기로 했습니다", "일정을 앞당기기로 했습니다"],
        "submit": ["제출해 주세요", "보내 주세요", "공유해 주세요", "올려 주세요", "정리해 주시기 바랍니다",
                   "준비해 주세요", "검토해 주세요", "마무리해 주세요"],
        "issue": ["오타", "계산 오류", "빠진 내용", "잘못된 날짜", "중복된 항목", "틀린 숫자"],
    },
    "lecture": {
        "concept": ["미분", "적분", "확률", "함수", "행렬", "벡터", "뉴턴의 운동 법칙", "에너지 보존",
                    "광합성", "세포 분열", "유전", "화학 반응", "원자 구조", "수요와 공급", "기회비용",
                    "인플레이션", "조선 시대의 역사", "산업 혁명", "민주주의", "기억의 원리", "학습 이론",
                    "정규 분포", "표본 조사", "회귀 분석", "알고리즘", "자료 구조", "재귀 함수", "운영 체제",
                    "데이터베이스", "문장 성분", "높임법", "시제", "기후 변화", "판 구조론", "생태계",
                    "윤리학", "논리학", "음계", "화성학", "원근법", "소설의 구성", "시의 운율"],
        "subject": ["수학", "물리학", "화학", "생물학", "경제학", "심리학", "역사", "국어", "통계학",
                    "컴퓨터 과학", "철학", "사회학", "음악", "미술", "지구 과학", "문학"],
        "submitplace": ["학습 관리 시스템", "조교", "학과 사무실", "강의 게시판", "담당 교수", "과제 제출함"],
        "task": ["과제", "보고서", "발표 준비", "조별 과제", "실험 보고서", "독후감", "퀴즈", "연습 문제"],
        "exam": ["중간고사", "기말고사", "쪽지 시험", "모의고사", "실기 시험"],
        "activity": ["토론", "발표", "실험", "조별 활동", "복습", "질의응답", "요약 정리"],
    },
    "customer_service": {
        "product": ["노트북", "냉장고", "세탁기", "운동화", "가방", "휴대폰 케이스", "청소기", "전자레인지",
                    "커피 머신", "겨울 코트", "매트리스", "무선 이어폰", "에어컨", "텔레비전", "책상 의자",
                    "블라우스", "선풍기", "전기 주전자", "공기 청정기", "가습기", "밥솥", "모니터", "키보드",
                    "프린터", "시계", "지갑", "청바지", "침구 세트", "식탁", "화장품 세트", "유모차", "자전거"],
        "defect": ["불량", "흠집", "얼룩", "소음", "고장", "파손", "누락된 부품", "냄새"],
        "color": ["검은색", "흰색", "파란색", "빨간색", "회색", "베이지색", "남색", "분홍색", "초록색",
                  "노란색", "갈색", "하늘색"],
        "size": ["작은 사이즈", "큰 사이즈", "중간 사이즈", "한 치수 큰 것", "한 치수 작은 것"],
        "store": ["가까운 매장", "본점", "서비스 센터", "고객 센터", "지점", "백화점 매장", "물류 센터",
                  "대리점", "직영점", "수리 센터"],
        "courier": ["택배", "퀵서비스", "등기 우편", "화물 배송", "당일 배송", "새벽 배송"],
        "payment": ["신용카드", "체크카드", "계좌 이체", "무통장 입금", "휴대폰 결제", "상품권", "적립금"],
    },
    "call_center": {
        "info": ["성함", "생년월일", "휴대폰 번호", "주소", "가입 정보", "계좌 번호", "요금 내역",
                 "예약 내역", "주문 번호", "이메일 주소", "회원 번호", "카드 번호", "계약 내용", "납부 내역",
                 "사용량", "할인 내역", "주민 번호 앞자리", "본인 인증 번호"],
        "service": ["인터넷", "휴대폰", "가스", "전기", "수도", "케이블 방송", "집 전화", "보험",
                    "신용카드", "정수기", "렌터카", "택배", "보일러", "인터넷 텔레비전"],
        "act": ["해지", "신규 가입", "요금제 변경", "일시 정지", "명의 변경", "설치 예약", "주소 변경",
                "자동 이체 신청", "약정 연장", "분실 신고", "재발급 신청", "환불 신청"],
        "problem": ["연결 장애", "접속 오류", "결제 오류", "통화 품질 문제", "배송 지연", "요금 오류",
                    "고장 접수", "정전", "단수", "화면 끊김"],
        "month": ["이번 달", "지난달", "다음 달", "지난 석 달"],
        "staff": ["기사님", "담당자", "상담원", "설치 기사", "점검 직원", "지점 담당자"],
    },
}

# Templates: "{slot}" is a random vocabulary item, "{slot:을}" attaches the particle in the form the
# item's batchim needs, "{slot2}" is a second, different item of the same slot. Text outside braces
# is fixed.
_TEMPLATES: Dict[str, List[str]] = {
    "meeting": [
        "{time}에 {place}에서 {topic} 회의가 있습니다",
        "{day}까지 {doc:을} {submit}",
        "{topic}에 대해 {team}의 의견을 듣고 싶습니다",
        "{team}에서 {topic:을} 맡기로 했습니다",
        "{person:이} {doc:을} 검토할 예정입니다",
        "지난 회의에서 논의한 {topic:은} {status}",
        "다음 회의는 {daypoint} {clocktime}에 하겠습니다",
        "{topic}에 대해 다른 의견 있으신가요",
        "{person:이} {topic:을} 간단히 설명해 주시겠습니까",
        "{doc}에 {issue:이} 있어서 수정이 필요합니다",
        "그럼 {topic:은} {person:이} 담당하는 것으로 정리하겠습니다",
        "이번 분기 {metric:이} 지난 분기보다 {percent} 퍼센트 {updown}",
        "{team:과} {team2:이} 함께 {topic:을} 준비하겠습니다",
        "오늘 회의 안건은 {topic:과} {topic2}입니다",
        "{person:은} {daypoint} {city:으로} 출장을 갑니다",
        "{topic} 관련 {doc:은} {person:이} 메일로 보내 드리겠습니다",
        "{people} 명이 참석할 예정이니 {place:을} 예약해 주세요",
        "{topic} 건은 {team}에 먼저 확인해 보겠습니다",
        "{doc:을} 보시면 {metric:이} 조금 {updown}",
        "{day}까지 {topic}에 대한 {doc:을} {submit}",
        "{person}께서 {topic} 진행 상황을 말씀해 주시겠어요",
        "회의는 {minutes} 분 후에 다시 시작하겠습니다",
    ],
    "lecture": [
        "오늘은 {concept}에 대해 배워 보겠습니다",
        "지난 시간에는 {concept:을} 공부했습니다",
        "{concept:은} 이 과목에서 아주 중요한 개념입니다",
        "교재 {page} 쪽을 펴 주세요",
        "{small} 번 문제를 함께 풀어 봅시다",
        "다음 시간까지 교재 {small} 장을 읽어 오세요",
        "{concept:과} {concept2}의 차이를 설명해 보세요",
        "{concept:을} 이해하려면 먼저 {concept2:을} 알아야 합니다",
        "{task:은} {day}까지 {submitplace}에 제출하세요",
        "{exam:은} {date}에 있습니다",
        "이번 학기에는 {subject}의 기초를 다루겠습니다",
        "{concept}의 예를 {count} 가지 들어 보겠습니다",
        "{minutes} 분 동안 쉬었다가 다시 시작하겠습니다",
        "{exam} 범위는 교재 {chapters}입니다",
        "{concept:은} {year} 년에 처음 소개되었습니다",
        "오늘 수업은 {activity:으로} 진행하겠습니다",
        "오늘은 {activity:으로} 수업을 마치겠습니다",
        "{concept}에 대해 질문이 있는 사람은 손을 들어 주세요",
        "이 그래프는 {concept:을} 잘 보여 줍니다",
        "다음 주에는 {concept:과} 관련된 {activity:을} 하겠습니다",
        "{subject} 시간에 배운 {concept:을} 떠올려 보세요",
        "{count} 명씩 조를 나누어 {activity:을} 해 보겠습니다",
        "{exam} 점수는 전체 성적의 {percent} 퍼센트입니다",
    ],
    "customer_service": [
        "주문하신 {product:은} {dayat} 배송될 예정입니다",
        "{product:을} 교환하고 싶은데 어떻게 해야 하나요",
        "{product}에 {defect:이} 있어서 반품하려고 합니다",
        "환불은 {small} 영업일 안에 처리됩니다",
        "고객님 {product} 가격은 {money} 원입니다",
        "{product:은} 현재 품절이라서 {dayat} 다시 입고됩니다",
        "{color:으로} 교환해 드릴까요",
        "영수증을 가지고 {store:으로} 방문해 주세요",
        "{product} 사용 방법을 알려 드리겠습니다",
        "포인트 {money} 점이 적립되었습니다",
        "{count} 개 이상 구매하시면 {percent} 퍼센트 할인해 드립니다",
        "배송지를 {city:으로} 변경해 드렸습니다",
        "{product:은} {size:으로} 다시 보내 드리겠습니다",
        "결제는 {payment:으로} 하시겠습니까",
        "{product} 보증 기간은 {small} 년입니다",
        "{courier:으로} 보내 드리면 {dayat} 받으실 수 있습니다",
        "{product:과} {product2:을} 함께 주문하시면 배송비가 무료입니다",
        "주문하신 {product} {color:은} 재고가 없습니다",
        "{product} 수리는 {store}에서 받으실 수 있습니다",
        "반품 배송비 {money} 원은 고객님께서 부담하셔야 합니다",
        "{product:이} {day}까지 도착하지 않으면 다시 연락 주세요",
        "{payment:으로} 결제하신 금액은 {dayat} 환불됩니다",
    ],
    "call_center": [
        "고객님의 {info:을} 확인해 드리겠습니다",
        "{minutes} 분 정도 기다려 주시겠습니까",
        "{service} 요금이 {money} 원 청구되었습니다",
        "{service} {act:을} 도와드리겠습니다",
        "상담원 연결까지 약 {minutes} 분 걸릴 예정입니다",
        "전화번호 뒷자리 {phone} 맞으십니까",
        "{daypoint} {clocktime}에 {staff:이} 방문할 예정입니다",
        "{month} {service} 요금은 {money} 원입니다",
        "{service} {problem:으로} 불편을 드려 죄송합니다",
        "납부 기한은 {date}까지입니다",
        "본인 확인을 위해 {info:을} 말씀해 주시겠어요",
        "{service} {act:은} {day}부터 적용됩니다",
        "{act} 접수가 완료되었습니다",
        "{problem} 신고가 접수되어 {staff:이} 확인하고 있습니다",
        "{month} 사용량은 지난달보다 {percent} 퍼센트 많습니다",
        "말씀하신 {info:이} 등록된 정보와 다릅니다",
        "{act:은} {store_or_phone}에서도 하실 수 있습니다",
        "확인 결과 {service} {problem:은} {time}쯤 복구될 예정입니다",
        "{service} 위약금은 {money} 원입니다",
        "{info:과} {info2:을} 문자로 보내 드리겠습니다",
        "{staff:이} {clock}에서 {clock2} 사이에 연락드릴 겁니다",
        "{city} 지역에 {problem:이} 발생했습니다",
    ],
}

_EXTRA: Dict[str, Dict[str, Union[Sequence[str], Callable[[Rng], str]]]] = {
    "call_center": {"store_or_phone": ["홈페이지", "모바일 앱", "가까운 대리점", "자동 응답 전화", "고객 센터"]},
}

# Hand-written sentences (all original to hypersp), one register each.
_HAND_WRITTEN: Dict[str, List[str]] = {
    "lecture": """
안녕하세요 여러분 오늘 수업을 시작하겠습니다
출석을 먼저 부르겠습니다
지난 시간에 배운 내용을 간단히 복습해 봅시다
칠판에 적은 공식을 잘 보세요
이 부분은 시험에 자주 나오니까 꼭 기억해 두세요
질문이 있으면 언제든지 손을 들어 주세요
오늘은 여기까지 하겠습니다
다음 주에는 휴강입니다
과제 제출 기한을 꼭 지켜 주세요
조별로 모여서 토론해 보세요
이 문제를 풀 수 있는 사람 있나요
정답을 맞힌 학생이 많네요
예시를 하나 더 들어 보겠습니다
그림을 보면서 설명하겠습니다
이 개념은 생각보다 어렵지 않습니다
천천히 다시 한 번 설명할게요
뒤에 앉은 학생들도 잘 들리나요
화면이 잘 보이지 않으면 앞으로 나오세요
지금부터 쪽지 시험을 보겠습니다
책과 공책은 가방에 넣어 주세요
시험 시간은 오십 분입니다
답안지에 이름과 학번을 적으세요
오늘 배운 내용을 한 문장으로 요약해 보세요
이해가 안 되는 부분은 메일로 질문해도 됩니다
수업 자료는 게시판에 올려 두었습니다
녹화된 강의는 내일 올라갑니다
이 실험은 반드시 보호 안경을 쓰고 하세요
결과를 표로 정리해 보면 규칙이 보입니다
왜 이런 결과가 나왔는지 생각해 봅시다
교과서의 설명과 조금 다르게 접근해 보겠습니다
이 공식은 외우기보다 이해하는 것이 중요합니다
지금까지 질문 있나요
마지막으로 중요한 점을 정리하겠습니다
다음 시간에 뵙겠습니다
발표는 한 사람당 오 분씩입니다
발표 순서는 제비뽑기로 정하겠습니다
참고 문헌을 꼭 적어 주세요
다른 사람의 글을 그대로 베끼면 안 됩니다
팀원끼리 역할을 골고루 나누세요
이번 학기 성적은 출석과 과제와 시험으로 평가합니다
휴대폰은 무음으로 바꿔 주세요
잠깐 쉬었다가 하겠습니다
이 그래프에서 가로축은 시간을 나타냅니다
세로축은 온도를 나타냅니다
평균과 중앙값은 항상 같지는 않습니다
이 코드를 직접 실행해 보세요
오류가 나면 메시지를 잘 읽어 보세요
교실을 나갈 때 불을 꺼 주세요
""",
    "meeting": """
회의를 시작하겠습니다
모두 참석하셨나요
오늘 안건부터 말씀드리겠습니다
지난 회의록을 먼저 확인하겠습니다
화면 공유가 잘 보이시나요
목소리가 잘 들리시나요
마이크가 꺼져 있는 것 같습니다
잠시 후에 다시 연결하겠습니다
이 부분은 추가 논의가 필요해 보입니다
좋은 의견 감사합니다
다른 의견 있으시면 말씀해 주세요
시간 관계상 다음 안건으로 넘어가겠습니다
결론부터 말씀드리면 일정이 조금 늦어질 것 같습니다
예산이 부족해서 우선순위를 정해야 합니다
고객 반응이 생각보다 좋았습니다
경쟁사 제품과 비교한 자료를 준비했습니다
이 숫자는 지난달 기준입니다
담당자를 정하고 회의를 마치겠습니다
회의록은 제가 정리해서 공유하겠습니다
다음 주까지 각자 의견을 정리해 오세요
질문이 없으시면 오늘 회의는 여기서 마치겠습니다
수고 많으셨습니다
이 일정이면 충분히 가능할 것 같습니다
현실적으로 어려운 부분이 있습니다
먼저 위험 요소를 점검해 봐야 합니다
그 부분은 제가 확인하고 다시 말씀드리겠습니다
다들 동의하시나요
반대 의견도 편하게 말씀해 주세요
이번 프로젝트의 목표를 다시 한 번 정리하겠습니다
일정표를 보시면 이해가 쉬우실 겁니다
협력 업체와 계약 조건을 다시 협의하겠습니다
결정된 사항은 메일로 안내하겠습니다
다음 회의 때 결과를 공유해 주세요
오늘 논의한 내용을 세 가지로 요약하겠습니다
고객의 요구 사항이 조금 바뀌었습니다
테스트 결과는 대체로 양호합니다
출시 전에 한 번 더 점검하겠습니다
인력이 더 필요할 것 같습니다
이 문제는 윗선에 보고하겠습니다
각 팀의 진행 상황을 들어 보겠습니다
자료를 미리 보내 주셔서 감사합니다
회의실 예약이 한 시간 남았습니다
잠깐 쉬었다가 계속하겠습니다
지금 말씀하신 내용을 회의록에 넣겠습니다
일단 이 방향으로 진행해 보겠습니다
문제가 생기면 바로 공유해 주세요
""",
    "customer_service": """
안녕하세요 무엇을 도와드릴까요
찾으시는 상품이 있으신가요
이 제품은 요즘 가장 많이 팔리는 모델입니다
사이즈는 어떻게 되세요
한 번 입어 보셔도 됩니다
탈의실은 오른쪽에 있습니다
포장해 드릴까요
영수증 드릴까요
교환은 구매일로부터 일주일 안에 가능합니다
사용하신 제품은 환불이 어렵습니다
불편을 드려서 정말 죄송합니다
바로 확인해 보겠습니다
잠시만 기다려 주시겠어요
재고를 확인해 드리겠습니다
이 상품은 온라인에서만 판매합니다
회원 가입을 하시면 할인을 받으실 수 있습니다
주차 확인 도와드릴까요
배송은 보통 이틀 정도 걸립니다
주문 내역은 홈페이지에서 확인하실 수 있습니다
포장을 뜯지 않으셨다면 반품이 가능합니다
설치 기사가 직접 방문해서 설치해 드립니다
다른 색상도 보여 드릴까요
이쪽으로 오시면 더 많은 제품이 있습니다
오늘까지만 할인 행사를 합니다
선물용으로 포장해 드리겠습니다
카드로 결제하시겠어요
일시불로 해 드릴까요
할부는 몇 개월로 해 드릴까요
적립 카드 있으신가요
문의해 주셔서 감사합니다
좋은 하루 보내세요
또 방문해 주세요
주문이 정상적으로 접수되었습니다
배송 조회 번호를 문자로 보내 드렸습니다
제품에 문제가 있으면 언제든지 연락 주세요
사용 설명서는 상자 안에 들어 있습니다
충전기는 따로 구매하셔야 합니다
이 가격은 세금이 포함된 가격입니다
고객님께 맞는 제품을 추천해 드리겠습니다
조금 더 저렴한 제품도 있습니다
현재 매장에는 전시 상품만 남아 있습니다
예약 주문을 도와드리겠습니다
입고되면 바로 연락드리겠습니다
반품 신청은 마이페이지에서 하실 수 있습니다
""",
    "call_center": """
상담원 김지수입니다 무엇을 도와드릴까요
전화 주셔서 감사합니다
본인 확인을 먼저 진행하겠습니다
잠시만 기다려 주십시오
기다려 주셔서 감사합니다
연결이 지연되어 죄송합니다
지금은 상담 가능 시간이 아닙니다
다시 한 번 말씀해 주시겠어요
소리가 잘 들리지 않습니다
조금 크게 말씀해 주시겠습니까
확인해 보니 요금은 정상적으로 납부되었습니다
미납 요금이 있습니다
자동 이체가 등록되어 있지 않습니다
해당 부서로 연결해 드리겠습니다
담당자가 확인 후 다시 전화드리겠습니다
처리 결과는 문자로 안내해 드리겠습니다
다른 문의 사항은 없으신가요
오늘도 좋은 하루 되십시오
이용해 주셔서 감사합니다
통화 내용은 품질 향상을 위해 녹음됩니다
약정 기간이 아직 남아 있습니다
해지하시면 위약금이 발생합니다
지금 가입하시면 첫 달 요금이 무료입니다
주소 변경이 완료되었습니다
카드 분실 신고가 접수되었습니다
새 카드는 일주일 안에 받으실 수 있습니다
비밀번호를 다섯 번 틀리셔서 잠겼습니다
가까운 지점을 방문하시면 바로 해결됩니다
고장 접수를 도와드리겠습니다
기사님 방문 일정을 잡아 드리겠습니다
방문 가능한 시간을 말씀해 주세요
불편을 끼쳐 드려 대단히 죄송합니다
말씀하신 내용은 제가 정확히 기록해 두었습니다
같은 문제가 다시 생기면 바로 연락 주세요
요금제를 바꾸시면 매달 만 원 정도 절약됩니다
현재 사용하시는 요금제는 무제한 요금제입니다
데이터를 거의 다 사용하셨습니다
명의자 본인만 변경하실 수 있습니다
가족 관계 증명서가 필요합니다
서류는 팩스나 우편으로 보내 주시면 됩니다
접수 번호를 알려 드리겠습니다
상담 만족도 조사에 참여해 주시면 감사하겠습니다
전화가 끊어지면 다시 연락드리겠습니다
통화 연결음이 끝나면 말씀해 주세요
""",
}


def _hand_written(register: str) -> List[str]:
    return [line.strip() for line in _HAND_WRITTEN[register].strip().splitlines() if line.strip()]


def hand_written_sentences(register: Optional[str] = None) -> List[str]:
    """The hand-written sentences of one register (or all), in file order."""
    regs = REGISTERS if register is None else (register,)
    return [s for r in regs for s in _hand_written(r)]


def slot_words() -> List[str]:
    """Every fixed (non-numeric) slot value of every register; the words particles attach to."""
    out = []
    for vocab in [_COMMON, *_VOCAB.values(), *_EXTRA.values()]:
        for values in vocab.values():
            if not callable(values):
                out.extend(values)
    return sorted(set(out))


_SLOT = re.compile(r"\{([a-z_]+?)(\d*)(?::([가-힣]+))?\}")


def render_template(template: str, rng: Rng, register: str) -> str:
    """Fill ``template``'s slots from ``register``'s vocabulary (see ``_TEMPLATES`` for the syntax)."""
    vocab = {**_COMMON, **_VOCAB[register], **_EXTRA.get(register, {})}
    used: Dict[str, List[str]] = {}

    def fill(match: "re.Match[str]") -> str:
        key, _index, particle = match.groups()
        if key not in vocab:
            raise KeyError(f"template {template!r}: no slot {key!r} in register {register!r}")
        values = vocab[key]
        for _ in range(20):  # a second {slot2} should differ from {slot}
            word = values(rng) if callable(values) else _choice(rng, values)
            if word not in used.get(key, []):
                break
        used.setdefault(key, []).append(word)
        return josa(word, particle) if particle else word

    return _SLOT.sub(fill, template)


def _check_register(register: Optional[Union[str, Sequence[str]]]) -> List[str]:
    if register is None:
        return list(REGISTERS)
    regs = [register] if isinstance(register, str) else list(register)
    if not regs:
        return list(REGISTERS)
    for r in regs:
        if r not in REGISTERS:
            raise ValueError(f"unknown register {r!r}; choose from {', '.join(REGISTERS)}")
    return regs


def generate_sentences(
    n: int, seed: int = 0, register: Optional[Union[str, Sequence[str]]] = None
) -> List[str]:
    """``n`` distinct Korean sentences, deterministic in (n, seed, register).

    register: one of REGISTERS, a list of them, or None for all four (drawn evenly). About one
    sentence in eight is hand-written (until those run out); the rest come from templates.
    A prefix property holds: generate_sentences(n, s)[:m] == generate_sentences(m, s).
    """
    regs = _check_register(register)
    rng = np.random.default_rng(seed)
    hand = {r: [s for s in _hand_written(r)] for r in regs}
    for r in regs:  # a seed-dependent order of the hand-written pool
        order = rng.permutation(len(hand[r]))
        hand[r] = [hand[r][i] for i in order]
    seen = set()
    out: List[str] = []
    attempts, max_attempts = 0, 50 * n + 1000
    while len(out) < n:
        attempts += 1
        if attempts > max_attempts:
            raise ValueError(
                f"generate_sentences: found only {len(out)} distinct sentences of the {n} asked for "
                f"(registers {regs}); ask for fewer or add templates/vocabulary in {__name__}"
            )
        r = regs[int(rng.integers(len(regs)))]
        if hand[r] and rng.random() < 0.125:
            text = hand[r].pop()
        else:
            text = render_template(_choice(rng, _TEMPLATES[r]), rng, r)
        text = " ".join(text.split())
        if text in seen or not is_clean_sentence(text):
            continue
        seen.add(text)
        out.append(text)
    return out


# --------------------------------------------------------------------------- babble

# Rough jamo frequencies of Korean text (initial and medial in Unicode order; final index 0 = none).
# They only need to keep common sounds common while giving every jamo real coverage.
_INITIAL_WEIGHTS = [9, 2, 6, 6, 1, 5, 4, 5, 1, 6, 2, 14, 7, 1, 3, 2, 2, 2, 6]
_MEDIAL_WEIGHTS = [12, 3, 2, 1, 9, 2, 4, 1, 9, 2, 1, 2, 1, 4, 1, 1, 1, 1, 3, 3, 10]
_FINAL_WEIGHTS = [45, 6, 0.5, 0.3, 12, 0.3, 0.3, 1, 8, 0.5, 1, 0.5, 0.3, 0.3, 0.3, 0.5,
                  6, 2, 0.3, 1, 0.5, 7, 1, 0.5, 0.3, 0.3, 0.3, 0.5]


def _normalized(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


_JAMO_P = [_normalized(w) for w in (_INITIAL_WEIGHTS, _MEDIAL_WEIGHTS, _FINAL_WEIGHTS)]


def babble_sentence(rng: Rng, min_words: int = 2, max_words: int = 7) -> str:
    """Random Hangul syllables in words of 1..4 syllables: phonetic coverage, not language.

    Jamo are drawn independently with rough Korean frequencies, so rare initials, medials and
    finals (ㅃ, ㅢ, ㄺ ...) occur in many neighbourhoods; the result passes ``is_clean_sentence``.
    """
    words = []
    for _ in range(int(rng.integers(min_words, max_words + 1))):
        syllables = []
        for _ in range(int(rng.integers(1, 5))):
            i, m, f = (int(rng.choice(len(p), p=p)) for p in _JAMO_P)
            syllables.append(chr(0xAC00 + (i * 21 + m) * 28 + f))
        words.append("".join(syllables))
    return " ".join(words)
