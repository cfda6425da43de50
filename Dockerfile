# hypersp in one image: every command (prepare, train, eval, transcribe, serve, export), CPU or GPU.
#   docker build -t hypersp .
#   docker run --rm -p 15000:15000 hypersp                           # every demo app: https://localhost:15000/
#   docker run --rm --gpus all --shm-size 8G -it hypersp hypersp-train --help
# Python 3.11 is the version CI tests. The CUDA 12.8 PyTorch wheel brings its own CUDA libraries, so no CUDA
# base image is needed (the host needs the NVIDIA driver and container toolkit for --gpus).
FROM python:3.11.7-slim-bookworm

ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Debian packages follow bookworm's security updates rather than fixed versions.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsndfile1 ffmpeg openssl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 1000 --user-group hypersp

RUN python -m venv /opt/hypersp
ENV PATH=/opt/hypersp/bin:$PATH
WORKDIR /opt/hypersp-src
COPY constraints.txt ./
RUN pip install --index-url https://download.pytorch.org/whl/cu128 "torch==2.13.0"
COPY setup.py README.md LICENSE ./
COPY hypersp ./hypersp
COPY hypersp_cli ./hypersp_cli
COPY examples ./examples
COPY plugins ./plugins
COPY deploy/healthcheck.py /opt/hypersp/healthcheck.py
RUN pip install -c constraints.txt ".[serve,export,vad]" ./plugins/hypersp-example-plugin

USER 1000:1000
WORKDIR /home/hypersp
ENV HYPERSP_PORT=15000
EXPOSE 15000 15001 15002 15003 15004 15005
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 CMD ["python", "/opt/hypersp/healthcheck.py"]
# Reachable from the host (-p), with the generated self-signed certificate (browsers need HTTPS for the microphone).
CMD ["hypersp-serve", "--app", "all", "--host", "0.0.0.0", "--port", "15000"]
