# hypersp on CUDA: every command (prepare, train, eval, serve, export) runs in this image.
#   docker build -t hypersp .
#   docker run --gpus all --shm-size 8G -it -p 15001-15005:15001-15005 hypersp hypersp-train --help
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip libsndfile1 ffmpeg \
 && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv /opt/hypersp
ENV PATH=/opt/hypersp/bin:$PATH
# CUDA 12.8 build of PyTorch (the CPU wheel is what CI uses; see Makefile).
RUN pip install --index-url https://download.pytorch.org/whl/cu128 "torch==2.13.0"

WORKDIR /opt/hypersp-src
COPY setup.py README.md ./
COPY hypersp ./hypersp
COPY hypersp_cli ./hypersp_cli
COPY examples ./examples
RUN pip install ".[serve,export]"

WORKDIR /workspace
EXPOSE 15001 15002 15003 15004 15005
CMD ["hypersp-train", "--help"]
