# Two commands on a fresh machine: `make report` and `make test`. Everything else is set up here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export MPLBACKEND := Agg

REGION ?= 渝北区
YEAR   ?= 2024
LANG_  ?= zh

.DEFAULT_GOAL := help
.PHONY: help setup test report lab bench batch check-data clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project with its dependencies and fonts (idempotent)
	@echo "environment ready: $(BIN)/analysis"

check-data: setup  ## validate data/observations.csv and print its summary
	$(BIN)/analysis check-data

# The suite starts ~200 Python processes on the project's own modules: where the environment says not to
# write bytecode (PYTHONDONTWRITEBYTECODE, as on this project's machines), each compiled them anew from
# source. The tests let Python keep its __pycache__ (ignored by git): ≈ 9 CPU s of the suite (measured).
test: setup  ## run the test suite
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q

report: setup  ## build the default report (渝北区 2024, zh) as HTML and PDF
	$(BIN)/analysis report --region $(REGION) --year $(YEAR) --lang $(LANG_) --format html,pdf

lab: setup  ## open JupyterLab on the project's kernel (the .venv interpreter)
	$(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

bench: setup  ## run the benchmarks (metrics panel, report, batch, extraction) and write benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run.py $(BENCH)

batch: setup  ## run jobs/example.yaml (渝北区 2024, zh and en); a second run skips what is up to date
	$(BIN)/analysis batch jobs/example.yaml

clean:  ## remove generated reports and caches (keeps .venv)
	rm -rf reports/*/ .pytest_cache .hypothesis
