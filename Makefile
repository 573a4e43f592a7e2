# Two commands matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1

VENV := .venv/bin
APP_PACKAGES := ivr shell telephony bot actions compliance speech records qa campaigns console flows agents

.PHONY: run test setup services train lint format lock bench fuzz soak clean

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

# Tests are type-checked too (strictness: pyproject [tool.mypy]). Every tests/ directory with its
# own conftest.py gets its own mypy run (each conftest is a module named `conftest`); the others
# share one. MYPYPATH=tests resolves the shared helpers (`helpers.*`).
TEST_CONFTEST_DIRS = $(filter-out tests/soak,$(patsubst %/conftest.py,%,$(wildcard tests/*/conftest.py)))
TEST_SHARED = $(wildcard tests/*.py) $(filter-out $(addsuffix /,$(TEST_CONFTEST_DIRS)) tests/soak/,$(wildcard tests/*/))

lint: setup
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy $(APP_PACKAGES)
	MYPYPATH=tests $(VENV)/mypy $(TEST_SHARED)
	@for d in $(TEST_CONFTEST_DIRS); do echo "mypy $$d"; MYPYPATH=tests $(VENV)/mypy $$d || exit 1; done
	@echo "mypy tests/soak"; MYPYPATH=tests:tests/campaigns:tests/flows $(VENV)/mypy tests/soak

format: setup
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

# Re-pin the app environment after changing dependencies in pyproject.toml: installs what
# pyproject asks for, then pins ivr's dependency closure only (scripts/lock.py), never hand-installed tools.
lock: setup
	$(VENV)/pip install -q -c constraints/app.txt -e '.[dev,speech,funasr,s3,bench]'
	$(VENV)/python scripts/lock.py > constraints/app.txt.new
	mv constraints/app.txt.new constraints/app.txt

bench: setup services train
	@$(VENV)/pip install -q -c constraints/app.txt -e '.[bench]'
	@$(VENV)/pip install -q --no-deps -r constraints/bench-nodeps.txt
	@for b in bench/bench_*.py; do echo "== $$b"; $(VENV)/python $$b || exit 1; done

# Coverage-guided fuzzing (atheris) of the ESL codec, the flow loader, the rules parser and the
# campaign list reader: 1M executions each; a defect leaves its input as var/fuzz/NAME-crash-* (see fuzz/__init__.py).
fuzz: setup
	@mkdir -p var/fuzz; for h in esl flows rules lists; do echo "== fuzz $$h (log: var/fuzz/$$h.log)"; \
	  start=$$(date +%s); $(VENV)/python -m fuzz.run $$h --runs 1000000 > var/fuzz/$$h.log 2>&1 \
	  || { tail -40 var/fuzz/$$h.log; exit 1; }; \
	  grep -E "^Done" var/fuzz/$$h.log; echo "fuzz $$h: $$(( $$(date +%s) - start )) s"; done

# The bounded fault soak (README "Fault soak"): 30 minutes, 1,000 concurrent inbound calls and a
# campaign under faults, then the audit; SOAK_ARGS="--minutes 5 --calls 200" (see --help).
soak: setup
	$(VENV)/python tests/soak/soak_run.py $(SOAK_ARGS)

clean:
	rm -rf models/.training-* var/run
