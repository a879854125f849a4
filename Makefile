# The Makefile is the interface: CI, the README and developers call these targets, nothing else.
SHELL := /bin/bash
.DEFAULT_GOAL := help

RUNTIME ?= python3.12
ARCH    ?= x86_64
STACK   ?= sentiment
LAYER   ?=
export RUNTIME ARCH STACK LAYER

VENV := .venv
PY   := $(VENV)/bin/python
# The dev venv needs Python >= 3.12 (current numpy/pandas wheels require it). PYTHON overrides;
# otherwise the first of these that exists is used (pyenv installs count).
PYTHON ?= $(shell for p in python3.12 python3.13 python3.14 \
	$$HOME/.pyenv/versions/3.12*/bin/python $$HOME/.pyenv/versions/3.13*/bin/python; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	  && { command -v $$p; break; }; done)
LAYER_LOCKS := $(wildcard layers/*/requirements.txt)

.PHONY: help venv test test-fast test-unit test-functional test-layers test-deploy test-cfn test-engine \
	test-integration test-browser test-backfill lint format layers lock function deploy destroy redrive demo \
	local-up local-down logs backfill bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

$(VENV)/.stamp: $(LAYER_LOCKS) requirements-dev.txt requirements-lint.txt
	@if [ -z "$(PYTHON)" ]; then echo "error: Python >= 3.12 not found. Install one (e.g. 'pyenv install 3.12' or your OS package python3.12) or run 'make PYTHON=/path/to/python3.12 ...'." >&2; exit 1; fi
	@echo "==> creating or updating $(VENV) with $(PYTHON)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@# Runtime dependencies come from the layers' hashed locks: one source of truth. The locks
	@# are complete, so --no-deps (vaderSentiment's `requests` is deliberately left out).
	@$(PY) -m pip install -q --no-deps --require-hashes $(addprefix -r ,$(LAYER_LOCKS))
	@$(PY) -m pip install -q -r requirements-dev.txt
	@# checkov pins old versions of shared libraries, so it gets a venv of its own.
	@test -x $(VENV)/tools/checkov/bin/python || $(PYTHON) -m venv $(VENV)/tools/checkov
	@$(VENV)/tools/checkov/bin/python -m pip install -q -r requirements-lint.txt
	@touch $@

venv: $(VENV)/.stamp ## create or update the dev environment in .venv

test: venv ## run the whole test suite (all tiers, slow tests included: what CI runs)
	$(PY) -m pytest

test-fast: venv ## the edit loop: every tier without the tests marked slow
	$(PY) -m pytest -m "not slow"

test-unit: venv ## unit tests (no I/O)
	$(PY) -m pytest tests/unit

test-functional: venv ## handler end to end on a local S3 endpoint
	$(PY) -m pytest tests/functional

test-layers: venv ## layer builder tests
	$(PY) -m pytest tests/layers

test-deploy: venv ## templates and deployer against a local endpoint
	$(PY) -m pytest tests/deploy

test-cfn: venv ## the template resolver shared by the local service and the deploy tests
	$(PY) -m pytest tests/cfn

test-engine: venv ## differential tests of the scoring engine
	$(PY) -m pytest tests/engine

test-integration: venv ## built artifacts under the real Lambda runtime
	$(PY) -m pytest tests/integration

test-browser: venv ## the insights pages in Chromium (chromium + chromium-driver)
	$(PY) -m pytest tests/browser

test-backfill: venv ## make backfill: the CLI on a local endpoint, then end to end on the local service
	$(PY) -m pytest tests/unit/test_backfill_plan.py tests/unit/test_objects_payload.py \
		tests/functional/test_objects_handler.py tests/backfill tests/integration/test_backfill.py

lint: venv ## ruff, cfn-lint and checkov
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/cfn-lint infra/templates/*.yaml
	$(VENV)/tools/checkov/bin/checkov --quiet --compact --skip-download -d infra/templates --framework cloudformation

format: venv ## apply ruff's formatting and fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

layers: venv ## build the Lambda layers (LAYER=name for one; RUNTIME, ARCH, LAYER_BUILDER)
	$(PY) -m infra.layerbuild build $(if $(LAYER),--layer $(LAYER)) --runtime $(RUNTIME) --arch $(ARCH)

lock: venv ## re-pin layers/<LAYER>/requirements.txt from requirements.in (with hashes)
	$(PY) -m infra.layerbuild lock $(if $(LAYER),--layer $(LAYER))

function: venv ## package every functions/<name>/ into build/functions/<name>.zip
	$(PY) -m infra.deploy package

deploy: venv ## deploy bootstrap, layer and app stacks (needs `make layers` first)
	$(PY) -m infra.deploy deploy

destroy: venv ## remove the app stack (EMPTY_BUCKETS=yes to delete data too)
	$(PY) -m infra.deploy destroy

redrive: venv ## send the failure queue's events back to the function
	$(PY) -m infra.deploy redrive

demo: venv ## the whole pipeline on a local AWS endpoint, through the real Lambda runtime
	$(PY) -m infra.local demo

local-up: venv ## start the local endpoint and Lambda service and leave them running
	$(PY) -m infra.local up

local-down: venv ## stop what local-up started
	$(PY) -m infra.local down

logs: venv ## print the local function logs, CloudWatch style
	$(PY) -m infra.local logs

backfill: venv ## score what already sits under PREFIX of the input bucket (DRY_RUN=1; EXECUTION=arn watches)
	$(PY) -m infra.backfill

bench: venv ## print the benchmark figures (handler, engine, cold start)
	@for b in tests/bench/bench_*.py; do echo "==> $$b"; $(PY) $$b || exit 1; done

clean: ## remove build outputs (keeps .venv)
	rm -rf build
