"""Registered tasks for the six corpora, each with its ``hypersp-prepare`` preparer.

=============  ======================================  =========  ============  =================
task           corpus                                  rate (Hz)  tokenizer     splits
=============  ======================================  =========  ============  =================
klecspeech     AIHub 한국어 강의 음성 (lectures)          16000      jamo          train/valid/test*
kconfspeech    AIHub 회의 음성 (meetings)                 16000      jamo          train/valid/test*
krespspeech    AIHub 고객 응대 음성 (customer response)    16000      jamo          train/valid/test*
ktelspeech     AIHub 상담 음성 (call center)              8000       jamo          train/valid/test*
ksponspeech    AIHub 한국어 음성 (KsponSpeech, ETRI)       16000      jamo          official .trn
librispeech    LibriSpeech (OpenSLR 12)                16000      english_char  standard names
=============  ======================================  =========  ============  =================

\\* test is carved out of AIHub Training by session (see :mod:`hypersp.prepare.aihub`).
Shared discovery / parallel / resumable / report machinery: :mod:`hypersp.prepare.framework`.
"""
from hypersp.tasks.corpora import (  # noqa: F401  (imported for their @register_task)
    kconfspeech,
    klecspeech,
    krespspeech,
    ksponspeech,
    ktelspeech,
    librispeech,
)
