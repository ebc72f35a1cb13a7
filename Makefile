# The two commands of the README: `make book` builds the HTML book, `make test` runs the tests.
# Both create the environment (.venv) when it is missing and prepare the data first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The tests run every chapter in fast mode; `make test BOOK_FAST=0` runs them in full.
TEST_FAST ?= 1
# More pytest arguments: CI passes --overwrite to keep the chapters nbmake executed.
PYTEST_ARGS ?=
# What the executed chapters depend on besides their own code: the mode and the companion code.
# When it changes, the execution cache is dropped (Jupyter Book's cache keys on the notebooks only).
BOOK_STAMP = mode=$${BOOK_FAST:-0} companion=$$(cat companion/*.py companion/*/*.py | sha256sum | cut -c1-16)

.PHONY: book book-executed pages test setup data vendor clean

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

# Executes each chapter whose code changed since the last build (Jupyter Book's execution cache).
book: data vendor
	@mkdir -p _build; stamp="$(BOOK_STAMP)"; \
	if [ "$$(cat _build/.book_stamp 2>/dev/null)" != "$$stamp" ]; then \
	  rm -rf _build/.jupyter_cache; echo "$$stamp" > _build/.book_stamp; fi
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# CI: build from the chapters `make test PYTEST_ARGS=--overwrite` has just executed (their
# outputs are in the notebooks) instead of executing every chapter a second time.
book-executed: data vendor
	sed 's/^\(  execute_notebooks:\).*/\1 off/' _config.yml > _config.executed.yml
	grep -q "execute_notebooks: off" _config.executed.yml
	$(BIN)/jupyter-book build . -W -n --keep-going --config _config.executed.yml
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# Every page of the built book in headless Chromium (Debian's chromium; see scripts/check_pages.py),
# then the intro run in a real JupyterLab: slider, Train, live curves (scripts/check_jupyterlab.py).
pages: setup
	$(BIN)/python scripts/check_pages.py _build/html
	BOOK_FAST=$${BOOK_FAST:-1} $(BIN)/python scripts/check_jupyterlab.py

test: data
	BOOK_FAST=$${BOOK_FAST:-$(TEST_FAST)} $(BIN)/python -m pytest tests --nbmake book \
	  --nbmake-timeout=900 $(PYTEST_ARGS)

clean:
	rm -rf _build
