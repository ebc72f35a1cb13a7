# The two commands of the README: `make book` builds the HTML book, `make test` runs the tests.
# Both create the environment (.venv) when it is missing and prepare the data first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The tests run every chapter in fast mode; `make test BOOK_FAST=0` runs them in full.
TEST_FAST ?= 1

.PHONY: book test setup data vendor clean

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

book: data vendor
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: data
	BOOK_FAST=$${BOOK_FAST:-$(TEST_FAST)} $(BIN)/python -m pytest tests --nbmake book --nbmake-timeout=900

clean:
	rm -rf _build
