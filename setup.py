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
    ],
    extras_require={
        "serve": ["sanic>=25", "websockets"],
        "export": ["onnx", "onnxruntime"],
        # Optional VADs (vad.name=silero | webrtc; hypersp.inference.vads). silero-vad ships its ONNX model (no
        # download) and is run on onnxruntime; its own torch requirement is met by the torch hypersp already uses.
        "vad": ["silero-vad>=6.2.3", "onnxruntime", "webrtcvad-wheels>=2.0.14"],
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
