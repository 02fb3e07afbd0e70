# Developer shortcuts for logel. `make test` and `make book` create .venv and
# install everything they need (Python 3.11, pip and make are the prerequisites).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PY ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV = .venv
BIN = $(VENV)/bin

# One BLAS thread per process: the arrays are small and joblib already runs one process per
# core, so multi-threaded BLAS only oversubscribes a 2-core machine (override on the command line).
OMP_NUM_THREADS ?= 1
OPENBLAS_NUM_THREADS ?= 1
MKL_NUM_THREADS ?= 1
export OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS

# Budget used when nbval executes the book's notebooks. `make test` runs every chapter end to end
# at the smoke budget (minutes); the book budget, whose verdicts every chapter asserts, is what
# `make book` executes (raise_on_error: a failing cell fails the build), and CI runs both. For
# nbval at the book budget: `make nbval NB_BUDGET=book`.
NB_BUDGET ?= smoke

# Source folders that exist (benchmarks/ may not exist yet).
LINT_DIRS = $(wildcard logel tests benchmarks)

.PHONY: help install notebooks lint unit nbval test book clean benchmark lab

help:
	@echo "make install    create $(VENV) and pip install -e '.[test,book,mujoco]'"
	@echo "make test       install, lint, unit tests, nbval on the book notebooks"
	@echo "make book       build the Jupyter Book into _build/html (execution forced)"
	@echo "make check-pages  check the built pages in headless Chromium (math, images, links)"
	@echo "make notebooks  generate book/**/*.ipynb from the MyST .md sources (setup cell first)"
	@echo "make lab        install JupyterLab + jupytext into $(VENV) and open the book in it"
	@echo "make benchmark  run benchmarks/bench_*.py (results in benchmarks/results/)"
	@echo "make clean      remove _build and generated notebooks"

$(VENV)/.installed: pyproject.toml
	@if [ ! -x "$(BIN)/python" ]; then $(PY) -m venv $(VENV); fi
	$(BIN)/pip install -e ".[test,book,mujoco]"
	touch $@

install: $(VENV)/.installed

# Convert every jupytext MyST notebook under book/ into an .ipynb next to it (jupytext), with a
# first code cell that installs logel at the book's commit where it is missing (Colab; a no-op
# here): scripts/notebooks.py. The book workflow publishes these to the `notebooks` branch.
notebooks: $(VENV)/.installed
	$(BIN)/python scripts/notebooks.py generate

# JupyterLab with jupytext (the [lab] extra), opening the book: every chapter's .md opens as a
# notebook (binder/overrides.json makes "Jupytext Notebook" the default viewer of .md files).
LAB_SETTINGS = $(VENV)/share/jupyter/lab/settings
lab: $(VENV)/.installed
	$(BIN)/pip install -e ".[lab]"
	mkdir -p $(LAB_SETTINGS) && cp binder/overrides.json $(LAB_SETTINGS)/overrides.json
	$(BIN)/jupyter lab book/intro.md

lint: $(VENV)/.installed
	@if [ -z "$(LINT_DIRS)" ]; then echo "nothing to lint"; exit 0; fi
	$(BIN)/ruff check $(LINT_DIRS)

unit: $(VENV)/.installed
	PYTHONHASHSEED=0 $(BIN)/pytest tests -q

# nbval only collects .ipynb under book/ (never _build/); --timeout lifts the
# 600 s pytest-timeout default above the per-cell nbval timeout.
nbval: notebooks
	LOGEL_BUDGET=$(NB_BUDGET) $(BIN)/pytest --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 --timeout=960 -p no:python -p no:cacheprovider book/ -q

test: install lint unit nbval

# _config.yml sets execute_notebooks: force, so every build re-executes every
# notebook; the cache is removed as well so that a stale one is never reused.
# The generated notebooks must exist at build time: the launch buttons then open the .ipynb.
book: notebooks
	rm -rf _build/.jupyter_cache
	LOGEL_BUDGET=$${LOGEL_BUDGET:-book} $(BIN)/jupyter-book build . -W -n --keep-going

# Open every page of the built book in headless Chromium and check that MathJax typeset the
# math without errors, that images and internal links (and their #anchors) resolve; saves a
# screenshot of every book page in _build/screenshots. MathJax comes from a pinned PyPI wheel
# and is served locally, so the check needs no CDN. Run `make book` first.
MATHJAX_WHEEL = django-static-mathjax==3.2.2.1

.PHONY: check-pages
check-pages: $(VENV)/.installed
	@if [ ! -f _build/html/index.html ]; then echo "no _build/html: run 'make book' first"; exit 1; fi
	@shopt -s nullglob; whl=(_build/mathjax/django_static_mathjax-*.whl); \
	if [ $${#whl[@]} -eq 0 ]; then \
		$(BIN)/pip download --no-deps --quiet -d _build/mathjax "$(MATHJAX_WHEEL)"; \
		whl=(_build/mathjax/django_static_mathjax-*.whl); \
	fi; \
	$(BIN)/python scripts/check_book_pages.py _build/html --mathjax "$${whl[0]}" \
		--screenshots _build/screenshots

clean:
	rm -rf _build
	find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -delete

benchmark: $(VENV)/.installed
	@shopt -s nullglob; files=(benchmarks/bench_*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "no benchmarks/bench_*.py to run"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python "$$f"; done
