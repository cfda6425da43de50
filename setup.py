from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
version = {}
exec((HERE / "hypersp" / "__init__.py").read_text(), version)

setup(
    name="hypersp",
    version=version["__version__"],
    description="A PyTorch toolkit for Korean speech recognition: prepare, train, evaluate, serve.",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["hypersp", "hypersp.*", "hypersp_cli", "hypersp_cli.*"]),
    package_data={
        "hypersp": [
            "models/*/presets/*.yaml",
            "pretrained/*.pt",
            "pretrained/*.md",
            "pretrained/*.decoding.yaml",
            "pretrained/*.streaming.yaml",
            "pretrained/*.arpa.gz",
            "serve/static/*",
            "serve/templates/*",
        ]
    },
    install_requires=[
        # torch is pinned by the install commands (make install / Dockerfile), not here, so that a
        # plain `pip install hypersp` never swaps a user's CUDA or CPU build.
        "torch>=2.1",
        "numpy",
        "omegaconf>=2.3",
        "sentencepiece",
        "editdistance",
        "soundfile",
        "soxr",
        "tensorboard",
        "tqdm",
        "espeakng-loader",
        "webrtcvad-wheels>=2.0.14",  # the default VAD (vad.name=webrtc): 0.2 MB, no model download
    ],
    extras_require={
        "serve": ["sanic>=25", "websockets"],
        "export": ["onnx", "onnxruntime"],
        # The optional VAD (vad.name=silero; hypersp.inference.vads). silero-vad ships its ONNX model (no
        # download) and is run on onnxruntime; its own torch requirement is met by the torch hypersp already uses.
        "vad": ["silero-vad>=6.2.3", "onnxruntime"],
        # Broad Korean text for the synthetic corpus (hypersp.prepare.synthetic.broad_text; text=broad): real sentences and
        # lexicons read from installed package data, nothing downloaded at run time. Licences (recorded in the
        # module): konlpy GPL-3.0+ (its law/bill corpora are not copyrighted / public works), wordfreq code
        # Apache-2.0 + data CC-BY-SA 4.0, kiwipiepy-model Apache-2.0. About 165 MB of wheels: not in make test.
        "broadtext": ["konlpy>=0.6", "wordfreq>=3.0", "kiwipiepy-model>=0.20"],
        # sherpa-onnx interop (hypersp-export --format sherpa-onnx; tests/test_sherpa_onnx.py, test_kaldi_fbank.py):
        # plain manylinux wheels, about 15 MB together (sherpa-onnx bundles its own onnxruntime); in make test.
        "sherpa": ["sherpa-onnx>=2.0", "kaldi-native-fbank>=1.20"],
        # Spacing correction for the display form (hypersp.text.spacing; on by default when installed): kiwipiepy
        # and its model package kiwipiepy-model (both Apache-2.0), about 100 MB of wheel + model sdist; in make test.
        "spacing": ["kiwipiepy>=0.24,<0.25"],
        "test": ["pytest", "pytest-timeout"],
    },
    entry_points={
        "console_scripts": [
            "hypersp-prepare = hypersp_cli.prepare:main",
            "hypersp-train = hypersp_cli.train:main",
            "hypersp-eval = hypersp_cli.eval:main",
            "hypersp-transcribe = hypersp_cli.transcribe:main",
            "hypersp-serve = hypersp_cli.serve:main",
            "hypersp-export = hypersp_cli.export:main",
            "hypersp-average = hypersp_cli.average:main",
        ],
    },
)
