# Everything runs from the project's own files: `make setup` builds .venv from the requirements.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= dev
ARGS   ?=
STAMP  := $(VENV)/.installed

.PHONY: setup preview test lint typecheck unit bench docs up destroy clean

setup: $(STAMP)

# Reinstalls only when a requirements file changes (idempotent).
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

preview: setup  ## offline preview: make preview STACK=prod ARGS="--json out/prod.json"
	$(BIN)/python -m preview --stack $(STACK) $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest

test: lint typecheck unit  ## ruff, mypy, pytest

bench: setup
	$(BIN)/python -m bench

docs: setup  ## regenerate the generated docs (catalog and rule tables, policy profiles)
	$(BIN)/python docs/generate.py

# Real deployments, for users who have the Pulumi CLI and AWS credentials.
POLICY := --policy-pack policies $(if $(wildcard policies/profiles/$(STACK).json),--policy-pack-config policies/profiles/$(STACK).json,)

up: setup
	pulumi up --stack $(STACK) $(POLICY) $(ARGS)

destroy: setup
	pulumi destroy --stack $(STACK) $(ARGS)

clean:
	rm -rf .build .pytest_cache .mypy_cache .ruff_cache
