# The archive's commands. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test es-start es-stop bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v java >/dev/null || { echo "Java is missing: apt-get install openjdk-17-jre-headless (Elasticsearch itself needs 21+, see README)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is missing: apt-get install maven"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

# Start Elasticsearch, serve the demo site, crawl it, and answer a search.
demo: install
	$(BIN)/archive es start
	$(BIN)/archive demo

test: install
	$(BIN)/pytest -q

es-start: install
	$(BIN)/archive es start

es-stop: install
	$(BIN)/archive es stop

bench: install
	$(BIN)/python benchmarks/extraction_f1.py
	$(BIN)/python benchmarks/pipeline_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache
