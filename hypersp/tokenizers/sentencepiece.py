"""SentencePiece subword tokenizer (Kudo & Richardson 2018), unigram or BPE, trained in-process.

Ids: sentencepiece is trained with ``pad_id=0`` named ``<blank>`` and ``unk_id=1``, no bos/eos, so
its ids *are* hypersp's ids: 0 is the CTC blank (sentencepiece never emits pad), 1 is ``<unk>``,
2.. are pieces. ``vocab_size`` counts both. ``encode`` drops ``<unk>`` pieces (characters outside
``character_coverage``) and counts them, like the other tokenizers (``unknown_count``).

``input: jamo`` trains on text decomposed into conjoining jamo (``hypersp.text.hangul``), so
pieces may split syllables (initial consonant + vowel, final consonant...); ``decode`` composes
the jamo back into syllables. sentencepiece's own normalization is off (``identity``): NFKC
would silently recompose the jamo; hypersp's text normalizers run before the tokenizer anyway.

Persistence: ``state_dict()`` holds the trained model (serialized protobuf, base64) plus the piece
list, so a checkpoint alone rebuilds the tokenizer. ``model_path`` (a ``.model`` file written by
``hypersp-prepare tokenizer``) loads a pre-trained model instead of training in ``fit``.
"""
from __future__ import annotations

import base64
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List

from hypersp.registry import register_tokenizer
from hypersp.text.hangul import compose, decompose, normalize_spaces
from hypersp.tokenizers.base import BLANK, Tokenizer, TokenizerConfig

MODEL_TYPES = ("unigram", "bpe")
INPUTS = ("syllable", "jamo")
UNK = "<unk>"


@dataclass
class SentencePieceTokenizerConfig(TokenizerConfig):
    name: str = "sentencepiece"
    vocab_size: int = 500              # total ids, blank and <unk> included
    model_type: str = "unigram"        # unigram | bpe
    character_coverage: float = 1.0    # fraction of characters covered; the rest become <unk> (dropped)
    input: str = "syllable"            # syllable | jamo (train and encode on decomposed Hangul)
    model_path: str = ""               # a trained .model file to load instead of training in fit()
    max_sentences: int = 2000000       # training sentences used at most (sentencepiece samples them)


@register_tokenizer("sentencepiece", config=SentencePieceTokenizerConfig)
class SentencePieceTokenizer(Tokenizer):
    def __init__(self, cfg: Any = None):
        super().__init__(cfg if cfg is not None else SentencePieceTokenizerConfig())
        self.cfg = self.cfg
        if self.cfg.model_type not in MODEL_TYPES:
            raise ValueError(f"tokenizer.model_type={self.cfg.model_type!r}; choose one of {', '.join(MODEL_TYPES)}")
        if self.cfg.input not in INPUTS:
            raise ValueError(f"tokenizer.input={self.cfg.input!r}; choose one of {', '.join(INPUTS)}")
        self.input = self.cfg.input
        self._sp = None
        self._model_bytes = b""
        if self.cfg.model_path:
            path = Path(self.cfg.model_path)
            if not path.is_file():
                raise FileNotFoundError(f"tokenizer.model_path={str(path)!r} does not exist; train one with "
                                        "`hypersp-prepare tokenizer --manifest train.jsonl --out DIR`")
            self._load_model(path.read_bytes())

    # ---- text ------------------------------------------------------------------------------
    def _normalize(self, text: str) -> str:
        text = normalize_spaces(unicodedata.normalize("NFC", text))
        return decompose(text) if self.input == "jamo" else text

    def fit(self, texts: Iterable[str]) -> None:
        """Train on ``texts`` (skipped when ``model_path`` gave a trained model)."""
        if self.cfg.model_path:
            return
        import sentencepiece as spm

        sentences = [s for s in (self._normalize(t) for t in texts) if s]
        if not sentences:
            raise ValueError("SentencePieceTokenizer.fit: no non-empty training text")
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=model,
                vocab_size=int(self.cfg.vocab_size),
                model_type=self.cfg.model_type,
                character_coverage=float(self.cfg.character_coverage),
                pad_id=0, pad_piece=BLANK, unk_id=1, unk_piece=UNK, bos_id=-1, eos_id=-1,
                normalization_rule_name="identity",
                input_sentence_size=int(self.cfg.max_sentences), shuffle_input_sentence=True,
                minloglevel=2,
            )
        except RuntimeError as err:
            from hypersp.config import ConfigError  # here: the ONNX-only runtime imports this module without omegaconf

            msg = str(err)
            if "smaller than required_chars" in msg:
                raise ConfigError(f"tokenizer.vocab_size={self.cfg.vocab_size} is smaller than the number of distinct "
                                 f"characters to cover ({msg.strip()}); raise tokenizer.vocab_size or lower "
                                 "tokenizer.character_coverage") from None
            if "Vocabulary size" in msg:
                raise ConfigError(f"tokenizer.vocab_size={self.cfg.vocab_size} is too large for this training text "
                                 f"({msg.strip()}); lower tokenizer.vocab_size") from None
            raise
        self._load_model(model.getvalue())

    def _load_model(self, data: bytes) -> None:
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor()
        sp.LoadFromSerializedProto(data)
        if sp.pad_id() != 0 or sp.id_to_piece(0) != BLANK:
            raise ValueError("this sentencepiece model does not reserve id 0 as '<blank>' (pad_id=0); "
                             "train it with hypersp (`hypersp-prepare tokenizer`) so that CTC's blank is id 0")
        self._sp, self._model_bytes = sp, data
        self._set_tokens([sp.id_to_piece(i) for i in range(sp.get_piece_size())])
        self._unk_id = sp.unk_id()

    def _require(self):
        if self._sp is None:
            raise RuntimeError("SentencePieceTokenizer is not trained: call fit(texts), set tokenizer.model_path, "
                               "or load_state_dict() from a checkpoint")
        return self._sp

    def encode(self, text: str) -> List[int]:
        ids = self._require().encode(self._normalize(text), out_type=int)
        kept = [i for i in ids if i != self._unk_id and i != self.blank_id]
        if len(kept) != len(ids):
            self.unknown_count += len(ids) - len(kept)
            self.unknown_symbols[UNK] += len(ids) - len(kept)
        return kept

    def decode(self, ids: Iterable[int]) -> str:
        sp = self._require()
        clean = []
        for i in ids:
            i = int(i)
            if i == self.blank_id:
                continue
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"SentencePieceTokenizer.decode: id {i} is outside the vocabulary (size {len(self.tokens)})")
            clean.append(i)
        text = sp.decode(clean)
        return normalize_spaces(compose(text) if self.input == "jamo" else text)

    def split(self, text: str) -> List[str]:
        return self._require().encode(self._normalize(text), out_type=str)

    def join(self, symbols: List[str]) -> str:
        text = "".join(symbols).replace("\u2581", " ")
        return normalize_spaces(compose(text) if self.input == "jamo" else text)

    # ---- persistence -----------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        self._require()
        return {"tokens": list(self.tokens), "input": self.input,
                "model": base64.b64encode(self._model_bytes).decode("ascii")}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if "model" not in state:
            raise KeyError(f"SentencePieceTokenizer.load_state_dict: missing key 'model' (got {sorted(state)}); "
                           "was this checkpoint trained with another tokenizer?")
        self.input = state.get("input", self.input)
        self._load_model(base64.b64decode(state["model"]))
        if "tokens" in state and list(state["tokens"]) != self.tokens:
            raise ValueError("SentencePieceTokenizer.load_state_dict: saved tokens differ from the saved model's pieces")

    def save_model(self, path: str | Path) -> None:
        """Write the trained model as a sentencepiece ``.model`` file (loadable with ``model_path``)."""
        self._require()
        Path(path).write_bytes(self._model_bytes)
