# Two commands do all the set-up on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PARAMS ?= params/default.yml
# ONLY="04_dropout_batchnorm ...": execute just these chapters (the book keeps the others' last runs)
ONLY ?=
# RECORD=1: copy the build's scorecard into the verdict ledger results/ (PRESET-DATE-DESIGN.csv)
RECORD ?=
MATHJAX := book_static/mathjax/tex-svg-full.js
MATHJAX_VERSION := 3.2.2
# Trained networks and other results are cached here (delete the folder to start clean).
export SINGLEDIR_CACHE ?= $(CURDIR)/.cache
export PYTHONUNBUFFERED := 1

.PHONY: book test bench env clean chromium folder-example datasets

# Chapter 7's example of "your own model": a LeNet trained by a plain PyTorch script.
EXAMPLE_WEIGHTS := $(SINGLEDIR_CACHE)/examples/lenet-mnist5k.pt

book: $(VENV)/.installed $(MATHJAX) $(EXAMPLE_WEIGHTS) datasets
	$(PY) -m singledir.book --params $(PARAMS) $(if $(strip $(ONLY)),--only $(ONLY)) $(if $(strip $(RECORD)),--record)

$(EXAMPLE_WEIGHTS): examples/lenet.py | $(VENV)/.installed
	$(PY) examples/lenet.py --out $@

test: $(VENV)/.installed $(MATHJAX) chromium
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) benchmarks/run_all.py

env: $(VENV)/.installed

# The environment: pinned versions (requirements.lock); torch and torchvision install from this
# machine's disk. Re-installed when pyproject.toml or the lock changes.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -c requirements.lock -e . > $(VENV)/pip.log 2>&1 \
	  || { grep -v "^WARNING: Location" $(VENV)/pip.log | tail -30; exit 1; }
	$(PY) -c "import singledir, torch, torchvision, jupyter_book, papermill"
	touch $@

# MathJax served from the book itself, from the npm registry's mathjax package.
$(MATHJAX):
	@mkdir -p $(dir $@) && tmp=$$(mktemp -d) && \
	  (cd $$tmp && npm pack --silent mathjax@$(MATHJAX_VERSION) >/dev/null) && \
	  tar -xzf $$tmp/mathjax-$(MATHJAX_VERSION).tgz -C $$tmp package/es5/tex-svg-full.js && \
	  mv $$tmp/package/es5/tex-svg-full.js $@ && rm -rf $$tmp

# params/folder_example.yml reads this ImageFolder tree (mnist5k written out as PNG files).
folder-example: $(VENV)/.installed
	$(PY) examples/export_folder.py --dataset mnist5k --out $(SINGLEDIR_CACHE)/examples/mnist5k-png

# A parameter file on Fashion-MNIST reads Debian's dataset-fashion-mnist package, installed here where
# missing (the package registries are the only network the set-up uses).
FASHION_DIR := /usr/share/datasets/fashion-mnist
datasets:
	@if grep -qs "fashion_mnist" $(PARAMS) && [ ! -f $(FASHION_DIR)/train-images-idx3-ubyte.gz ]; then \
	  echo "installing Debian's dataset-fashion-mnist for $(PARAMS)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq dataset-fashion-mnist >/dev/null; fi

# The real-browser test (tests/test_browser.py) drives Debian's Chromium.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for tests/test_browser.py"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf _build
