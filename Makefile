# The two commands of the README are `make up` and `make test`; the rest are helpers.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := $(PYTHON) -m uv

.PHONY: install up down status test check faults lint unit integration e2e bench schemas

install:  ## Python workspace from the lock file (installs uv with pip when missing)
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --frozen --quiet --compile-bytecode
	@# Byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, every service start and
	@# test process would otherwise compile every module it imports again (seconds each).
	@$(UV) run --frozen python -m compileall -q -j 0 services shared copctl bench tests >/dev/null

up: install  ## Kafka, MongoDB protocol, Redis, SMTP + chat sinks and the four services
	@$(UV) run copctl dev up $(if $(TRACES),--traces)

down:  ## Stop exactly what `make up` started
	@$(UV) run copctl dev down

status:
	@$(UV) run copctl dev status

lint: install  ## ruff check, ruff format --check, mypy (strict on every package)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

# Tests run on WORKERS processes (pytest-xdist), a module's tests on one of them, the fault suite
# on one while the others run the rest: most of its time is waiting for what it broke to recover.
WORKERS ?= 2

test: lint  ## Lint and type-check, then every test against real Kafka, MongoDB protocol server and Redis
	$(UV) run pytest -n $(WORKERS) --durations=25

check: lint  ## The loop while working: lint, types, unit, integration and e2e; all but the fault suite
	$(UV) run pytest -n $(WORKERS) -m "not faults"

faults: install  ## The fault suite alone (tests/faults): kills and restarts services and infrastructure
	$(UV) run pytest -m faults tests/faults

unit: install
	$(UV) run pytest tests/unit

integration: install
	$(UV) run pytest tests/integration

e2e: install
	$(UV) run pytest tests/e2e

bench: install  ## Throughput and latency against this machine's limit (QUICK=1: the short run); writes bench-results/results.json and .md
	$(UV) run python -m bench $(if $(filter 1,$(QUICK)),--quick)

schemas: install  ## JSON Schemas + AsyncAPI generated from the event models
	$(UV) run copctl schemas --out docs/schemas
