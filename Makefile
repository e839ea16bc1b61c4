# Two commands set everything up on a fresh machine with Python 3.11+:
#   make run   - create .venv, install, initialise the store, start the worker and the dashboard
#   make test  - create .venv with the dev extras and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint docs worker dashboard bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	# pip 23 mis-resolves some extras; a current pip avoids it.
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/monitor init --demo --create-admin
	@echo ""
	@echo "Next steps:"
	@echo "  1. Open http://localhost:$(PORT) and log in (on a first run: user admin, the password printed above;"
	@echo "     '$(BIN)/monitor users set-password admin' sets a new one)."
	@echo "  2. The Alerts page shows the fictional demo stories. Add the feeds you want to watch on the Feeds page,"
	@echo "     in feeds.yaml, or with '$(BIN)/monitor feeds add'."
	@echo "  3. Have alerts sent to you: '$(BIN)/monitor subscribers add YOU@EXAMPLE.ORG' (see --help for filters)."
	@echo ""
	@echo "Starting the worker and the dashboard on http://localhost:$(PORT) (Ctrl-C stops both)"
	@$(BIN)/monitor worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# Regenerates the command-line and settings reference from `--help`; tests/test_docs.py checks it is current.
docs: $(VENV)/.installed
	$(BIN)/python -m monitor.reference > docs/cli.md

worker: $(VENV)/.installed
	$(BIN)/monitor worker

dashboard: $(VENV)/.installed
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

bench: $(VENV)/.installed-dev
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
