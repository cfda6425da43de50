# hypersp: the two set-up commands are `make quickstart` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# PyTorch is pinned here, not in setup.py: 2.13.0 is the CPU build this project is tested with.
TORCH_SPEC ?= torch==2.13.0

.PHONY: install quickstart demo-models stream-models test clean

$(VENV)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt "$(TORCH_SPEC)"
	$(PY) -m pip install -q -c constraints.txt -e ".[serve,export,vad,spacing,sherpa,test]"
	touch $@

install: $(VENV)/.installed

# Generate the synthetic Korean corpus, train a small model, evaluate it, print CER/WER.
quickstart: install
	PATH="$(abspath $(VENV))/bin:$$PATH" bash examples/synthetic/quickstart.sh

# Rebuild the shipped demo models demo_ko_16k / demo_ko_8k into hypersp/pretrained/ (under 3 h on 2 CPU cores).
# The demo corpus draws sentences from the broad text pool, whose packages are the optional extra `broadtext`.
demo-models: install
	$(PY) -m pip install -q -c constraints.txt -e ".[broadtext]"
	PATH="$(abspath $(VENV))/bin:$$PATH" bash examples/synthetic/run.sh

# Rebuild the shipped streaming models demo_ko_16k_stream / demo_ko_8k_stream from demo-models' corpus and models
# (about an hour each, one after the other: 3,000 fine-tuning steps took 53 / 50 min at 16 / 8 kHz).
stream-models: install
	SHIP=1 PATH="$(abspath $(VENV))/bin:$$PATH" bash examples/synthetic/stream_finetune.sh data/demo runs/demo
	SHIP=1 RATE=8k PATH="$(abspath $(VENV))/bin:$$PATH" bash examples/synthetic/stream_finetune.sh data/demo runs/demo

# Install the example plugin through pip (so it is found by its entry point) and run the suite.
test: install
	$(PY) -m pip install -q ./plugins/hypersp-example-plugin
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) runs/quickstart data/synthetic
