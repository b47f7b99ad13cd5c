# loanflow — the one entry point. `make run` and `make test` work on a fresh machine that has
# Python >= 3.11 and make: the first run creates .venv (and two tool environments whose pins clash
# with the project's: .venv-sam for aws-sam-cli, .venv-checkov for checkov) from the lock files.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help setup run serve test lint typecheck pytest bench model build validate deploy clean system-deps

help: ## show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "loanflow needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(SAM_STAMP): requirements-sam.lock
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-sam.lock
	@touch $@

$(CHECKOV_STAMP): requirements-checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.lock
	@touch $@

system-deps: ## fonts the contract PDFs and the OCR test documents need (Debian; skipped if present)
	@bash scripts/system-deps.sh

setup: $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) system-deps ## create the virtual environments (once)

run: setup ## bring the local cloud up, drive synthetic applicants end to end, print a summary
	$(BIN)/loanflow local demo

serve: setup ## run the local cloud until Ctrl-C (http://127.0.0.1:3000)
	$(BIN)/loanflow local up

lint: setup ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup ## mypy (pydantic plugin) on the packages and on every function
	$(BIN)/mypy -p loanflow -p localcloud -p loanflow_ml -p loanflow_cli -p synthdocs -p costmodel -p bench
	@for fn in functions/*/; do \
		$(BIN)/mypy --no-incremental "$$fn" || exit 1; \
	done

pytest: setup ## the test suite (unit, functional, workflow, e2e, infra)
	SAM_CLI=$(abspath $(SAM)) CHECKOV_CLI=$(abspath $(CHECKOV_VENV))/bin/checkov $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest ## everything CI runs

bench: setup ## benchmarks; writes bench/results/latest.json
	SAM_CLI=$(abspath $(SAM)) $(BIN)/python -m bench

model: setup ## retrain the shipped credit model, byte for byte (layers/scoring/model)
	$(BIN)/loanflow model reproduce

build: $(SAM_STAMP) ## sam build (layers for the Lambda platform, no Docker)
	$(SAM) build

validate: $(SAM_STAMP) ## sam validate --lint
	$(SAM) validate --lint

deploy: build ## sam deploy --guided
	$(SAM) deploy --guided

clean: ## remove build output and virtual environments
	rm -rf .aws-sam $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache
