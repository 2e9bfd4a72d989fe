# One target per habit. Every target installs what it needs first, so each works
# on a fresh clone (Python 3.11+, Java 17+ and Maven on PATH; see README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install test unit integration secured strict-s3 lint demo demo-web bench soak dev settings-table clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

## the README's "test it" command: lint, then unit, integration and reliability tests against a
## real stack, then the secured-Kafka tier and the S3-facing integration tests again against
## versitygw (a strict S3 server), each tier with its own pass count
test: install lint
	$(BIN)/python -m pytest --ignore=tests/secured
	$(MAKE) --no-print-directory secured
	$(MAKE) --no-print-directory strict-s3

## the secured tier: SASL_SSL + ACLs, one user per role (upload-stream dev --secure)
secured: install
	$(BIN)/python -m pytest tests/secured

strict-s3: install
	UPLOAD_STREAM_S3_SERVER=versitygw $(BIN)/python -m pytest -m strict_s3 tests/integration

unit: install
	$(BIN)/python -m pytest tests/unit

integration: install
	$(BIN)/python -m pytest tests/integration

## helm lint/template of the chart, promtool check/test of the rules and the dashboard's queries
.PHONY: deploy-check
deploy-check: install
	$(BIN)/python -m pytest -q tests/unit/deploy/test_helm.py tests/unit/deploy/test_prometheus_rules.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## the README's "run it" command
demo: install
	$(BIN)/python -m upload_stream_cli.demo

## the browser upload page on a local stack, until Ctrl-C
demo-web: install
	$(BIN)/python -m upload_stream_cli.demo --web

bench: install
	$(BIN)/python -m bench

soak: install
	$(BIN)/python -m pytest tests/reliability -m soak

dev: install
	$(BIN)/upload-stream dev

## rewrite the README's configuration table from the settings classes
settings-table: install
	$(BIN)/python -m upload_stream_cli.settings_table --write

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache
