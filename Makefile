# The two commands of README.md: `make book` and `make test`. Everything else is a step of them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
VENV_FLAGS ?=
# The CPU wheel of torch 2.13.0 lies on this project's machines and pip takes it from there.
# A GPU box keeps its own torch: `make test VENV_FLAGS=--system-site-packages` (torch already
# importable is never reinstalled) or `make test TORCH_SPEC="torch==<yours>"`.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# `make book CHAPTERS="05 10"` executes only those chapters (the others are listed without outputs).
CHAPTERS ?=

.PHONY: setup fetch prepare book browser test clean-book

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev,book]"
	touch $(STAMP)

setup: $(STAMP)

fetch: setup
	$(BIN)/python -m support fetch --all

# Fetches every chapter's resources and trains its cached models, one at a time, with progress.
prepare: setup
	$(BIN)/python -m support prepare $(CHAPTERS)

# Builds the book in the `local` profile after `prepare`; executed notebooks are cached in
# _build/.jupyter_cache. That cache keys on notebook sources only, so a change under support/ clears it.
SUPPORT_STAMP := _build/.support-stamp
book: prepare
	@if [ -f $(SUPPORT_STAMP) ] && [ -n "$$(find support pyproject.toml -newer $(SUPPORT_STAMP) -name '*.py' -o -newer $(SUPPORT_STAMP) -name pyproject.toml)" ]; then \
		echo "support/ changed since the last build: re-executing every chapter"; rm -rf _build/.jupyter_cache; fi
	$(BIN)/python -m support book $(CHAPTERS)
	@touch $(SUPPORT_STAMP)
	@echo "Book: $(CURDIR)/_build/html/index.html"

# Debian's headless chromium and its driver, for the browser tests of the built book (tests/test_published_book.py).
# Installed with apt-get where this runs as root (the project's machines and CI); elsewhere it says what to run.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and chromium-driver (Debian) for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver >/dev/null; \
	else echo "The browser tests need Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver" >&2; \
		exit 1; fi

# Unit tests, every notebook in the `smoke` profile (nbval), a smoke build of the book and its browser checks.
# pytest's exit code 5 (no tests collected) is a failure here.
test: fetch browser
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

clean-book:
	rm -rf _build
