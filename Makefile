# Two commands matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

VENV := .venv/bin
APP_PACKAGES := ivr telephony bot actions compliance speech records qa campaigns console flows

.PHONY: run test setup services train lint format lock bench clean

run: setup train
	$(VENV)/ivr run

test: setup services train lint
	$(VENV)/pytest

setup:
	@scripts/setup.sh

services:
	@scripts/services.sh

train: setup
	@$(VENV)/ivr train

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy $(APP_PACKAGES)

format: setup
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

# Re-pin the app environment after changing dependencies in pyproject.toml.
lock:
	$(VENV)/pip freeze --exclude-editable | grep -v '^ivr==' > constraints/app.txt

bench: setup services train
	@for b in bench/bench_*.py; do echo "== $$b"; $(VENV)/python $$b || exit 1; done

clean:
	rm -rf models/.training-* var/run
