"""Train a SentencePiece tokenizer from a manifest's transcripts (routed as ``hypersp-prepare tokenizer``).

    hypersp-prepare tokenizer --manifest data/synthetic/train.jsonl --out data/spm500 \\
        type=unigram vocab_size=500 input=jamo character_coverage=1.0

Transcripts are normalized with ``--text-normalizer`` (the task's ``text_normalizer``; default
``basic``) exactly as training targets are. Writes OUT/tokenizer.model (sentencepiece model with
id 0 = <blank>), OUT/vocab.txt (one piece per line, line number = id) and OUT/tokenizer.json
(the options and the tokenizer's state), then prints the overrides that make training use it:
``tokenizer.name=sentencepiece tokenizer.model_path=OUT/tokenizer.model tokenizer.input=...``.
key=value options are the fields of the ``sentencepiece`` tokenizer config (``type`` is an alias
of ``model_type``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from hypersp_cli.common import run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-prepare tokenizer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", action="append", required=True, help="JSON-lines manifest(s) whose 'text' to train on")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--text-normalizer", default="basic", help="normalizer applied to the transcripts first")
    p.add_argument("options", nargs="*", metavar="key=value", help="vocab_size=500 type=unigram|bpe input=syllable|jamo ...")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)

    def body() -> int:
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        from hypersp.config import ConfigError
        from hypersp.data.manifest import read_manifest
        from hypersp.text.normalize import get_text_normalizer
        from hypersp.tokenizers.sentencepiece import SentencePieceTokenizer, SentencePieceTokenizerConfig

        cfg = OmegaConf.structured(SentencePieceTokenizerConfig)
        OmegaConf.set_struct(cfg, True)
        for item in args.options:
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"option {item!r} is not key=value (example: vocab_size=500)")
            key = "model_type" if key == "type" else key
            try:
                cfg.merge_with(OmegaConf.from_dotlist([f"{key}={value}"]))
            except OmegaConfBaseException as err:
                raise ConfigError(f"option {item!r}: {str(err).splitlines()[0]}. Valid keys: type, "
                                  f"{', '.join(k for k in cfg if k != 'name')}") from None
        if cfg.model_path:
            raise ConfigError("model_path is for loading a trained model; this command trains one")
        normalize = get_text_normalizer(args.text_normalizer)
        texts = [normalize(e.text) for m in args.manifest for e in read_manifest(m)]
        tokenizer = SentencePieceTokenizer(cfg)
        tokenizer.fit(texts)
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save_model(out / "tokenizer.model")
        (out / "vocab.txt").write_text("".join(t + "\n" for t in tokenizer.tokens), encoding="utf-8")
        info = {"config": OmegaConf.to_container(cfg), "text_normalizer": args.text_normalizer,
                "manifests": args.manifest, "sentences": len(texts), "state": tokenizer.state_dict()}
        (out / "tokenizer.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
        lengths = [len(tokenizer.encode(t)) for t in texts]
        summary = {
            "out": str(out), "vocab_size": tokenizer.vocab_size, "model_type": cfg.model_type, "input": cfg.input,
            "sentences": len(texts), "tokens_per_sentence": round(sum(lengths) / max(1, len(lengths)), 2),
            "unknown_dropped": tokenizer.unknown_count,
            "use_with": f"tokenizer.name=sentencepiece tokenizer.model_path={out / 'tokenizer.model'} tokenizer.input={cfg.input}",
        }
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0

    return run("hypersp-prepare tokenizer", body)


if __name__ == "__main__":
    sys.exit(main())
