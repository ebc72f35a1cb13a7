# The two commands of the README: `make book` builds the HTML book, `make test` runs the tests.
# Both create the environment (.venv) when it is missing and prepare the data first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The tests run every chapter in fast mode; `make test BOOK_FAST=0` runs them in full.
TEST_FAST ?= 1
FAST = $(or $(BOOK_FAST),$(TEST_FAST))
# Seconds one chapter cell may run under `make test` before it fails as hung; the failure names
# the chapter and the cell (conftest.py). Fast mode: the slowest cell measured on 2 busy cores
# (scripts/stress_execute.py --times) took 22 s (05_rnn, beside another execution and a
# JupyterLab walk), 56 s at worst (03_cnn, CI's 2 threads beside 2 CPU burners); a hang waits
# forever, so 120 s loses nothing. Full mode: as _config.yml.
CELL_TIMEOUT ?= $(if $(filter 0,$(FAST)),900,120)
# The chapters `make test` executes; CI points it at a copy (see book-executed).
NOTEBOOKS ?= book
# More pytest arguments: CI passes --overwrite to keep the outputs of the chapters it executes.
PYTEST_ARGS ?=
# CI's copy of the sources, whose chapters `make test` executes and `make book-executed` builds.
EXECUTED ?= .ci/executed
# What the executed chapters depend on besides their own code: the mode and the companion code.
# When it changes, the execution cache is dropped (Jupyter Book's cache keys on the notebooks only).
BOOK_STAMP = mode=$${BOOK_FAST:-0} companion=$$(cat companion/*.py companion/*/*.py | sha256sum | cut -c1-16)

# The Chinese edition (book/zh/, issue 24) is its own Sphinx project: built after the English one
# from the folder $(1), into _build/zh/, then copied to _build/html/zh/ beside the English pages.
# Its chapters' code is the English code (translations-check), so it executes nothing while that
# check passes (a Chinese chapter whose code is not synced would execute): `make book` finds each
# chapter's run in the English build's execution cache (jupyter-cache hashes the code
# cells, source and metadata, and the kernelspec, not the markdown); `make book-executed` copies
# the executed English outputs in (scripts/translations.py outputs).
ZH_BUILD = cd $(1) && $(CURDIR)/$(BIN)/jupyter-book build . -W -n --keep-going \
	  --path-output $(CURDIR)/_build/zh && cd $(CURDIR) && rm -rf _build/html/zh && \
	  cp -r _build/zh/_build/html _build/html/zh
# A copy's configuration with execution off (it builds from chapters executed already).
EXECUTE_OFF = $(BIN)/python -c "import sys, yaml; c = yaml.safe_load(open(sys.argv[1])); \
	  c['execute']['execute_notebooks'] = 'off'; yaml.safe_dump(c, open(sys.argv[1], 'w'), \
	  sort_keys=False, allow_unicode=True)" $(1)

.PHONY: book book-executed pages test setup data vendor clean translations translations-check

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

setup: $(STAMP)

data: setup
	$(BIN)/python -m companion.data

vendor:
	scripts/vendor_js.sh

# Both editions (issue 24): the English book, then the Chinese one (book/zh/) into
# _build/html/zh/. Executes each English chapter whose code changed since the last build (Jupyter
# Book's execution cache); the Chinese chapters execute nothing (their runs are the English ones).
book: data vendor
	@mkdir -p _build; stamp="$(BOOK_STAMP)"; \
	if [ "$$(cat _build/.book_stamp 2>/dev/null)" != "$$stamp" ]; then \
	  rm -rf _build/.jupyter_cache; echo "$$stamp" > _build/.book_stamp; fi
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(call ZH_BUILD,book/zh)
	@echo "The book is at $(CURDIR)/_build/html/index.html (中文版: _build/html/zh/index.html)"

# CI: the book built, into _build/html, from the copy of the sources in $(EXECUTED) whose
# chapters `make test NOTEBOOKS=$(EXECUTED)/book PYTEST_ARGS=--overwrite` has just executed
# (.ci/run makes the copy), instead of executing every chapter a second time; book/ is untouched.
book-executed: data vendor
	@ls $(EXECUTED)/book/*.ipynb >/dev/null 2>&1 || { echo "book-executed: no executed \
	  chapters in $(EXECUTED)/book (.ci/run makes them)" >&2; exit 1; }
	$(call EXECUTE_OFF,$(EXECUTED)/_config.yml)
	$(BIN)/jupyter-book build $(EXECUTED) -W -n --keep-going --path-output .
	$(PYTHON) scripts/translations.py outputs $(EXECUTED)/book
	$(call EXECUTE_OFF,$(EXECUTED)/book/zh/_config.yml)
	$(call ZH_BUILD,$(EXECUTED)/book/zh)
	@echo "The book is at $(CURDIR)/_build/html/index.html (中文版: _build/html/zh/index.html)"

# Every page of the built book in headless Chromium (Debian's chromium; see scripts/check_pages.py),
# then the intro run in a real JupyterLab: slider, Train, live curves (scripts/check_jupyterlab.py).
pages: setup
	$(BIN)/python scripts/check_pages.py --require-explorers _build/html
	BOOK_FAST=$${BOOK_FAST:-1} $(BIN)/python scripts/check_jupyterlab.py

# The Chinese chapters are not executed again: their code is the English chapters' code, which
# translations-check makes sure of.
test: data translations-check
	BOOK_FAST=$(FAST) $(BIN)/python -m pytest tests --nbmake $(NOTEBOOKS) \
	  --ignore=$(NOTEBOOKS)/zh --nbmake-timeout=$(CELL_TIMEOUT) $(PYTEST_ARGS)

# The Chinese edition (book/zh/): copy the English code cells into the Chinese chapters and list
# stale and missing translations; the check fails on any in a chapter that book/zh/_toc.yml
# publishes. A plain python3 (standard library only), in well under a second.
translations:
	$(PYTHON) scripts/translations.py sync

translations-check:
	$(PYTHON) scripts/translations.py check

clean:
	rm -rf _build
