# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/choreo run

test: $(STAMP)
	sh scripts/install-browser.sh
	sh scripts/install-services.sh
	$(BIN)/python -m pytest -q -ra

bench: $(STAMP)
	$(BIN)/choreo bench analyze

clean:
	rm -rf $(VENV) build *.egg-info tests/output
