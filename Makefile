# The archive's commands. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install browser redis seaweedfs demo test test-cluster es-start es-stop bench clean screenshots

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

test: install browser redis seaweedfs
	$(BIN)/pytest -q

# The browser tests drive Debian's chromium through chromedriver (no browser download at run
# time). As root (CI's fresh clone) this installs them when missing; otherwise it says how.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium and chromium-driver for the browser tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install -y chromium chromium-driver' (tests/test_browser.py fails without it)"; \
	  fi; \
	fi

# The crawl queue's tests start their own redis-server (Debian's) on 127.0.0.1:6390-6399.
redis:
	@if ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing redis-server for the crawl queue tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server || { DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; }; \
	  else \
	    echo "redis-server is missing: run 'sudo apt-get install -y redis-server' (tests/test_queue.py fails without it)"; \
	  fi; \
	fi

# The S3 storage tests start a real SeaweedFS (an S3 server) on 127.0.0.1:8390-8399, built from
# the Go module proxy into ~/.cache/newsroom-archive/weed (needs Go; done once).
seaweedfs:
	.ci/seaweedfs

# Screenshots of the search page and of an article's diff, for the README (docs/*.png).
screenshots: install browser
	$(BIN)/python docs/screenshots.py

# A real three-node cluster on 127.0.0.1:9280-9282 (tests/test_cluster.py).
test-cluster: install
	$(BIN)/pytest -q -m cluster

es-start: install
	$(BIN)/archive es start

es-stop: install
	$(BIN)/archive es stop

bench: install
	@command -v nginx >/dev/null || command -v /usr/sbin/nginx >/dev/null || apt-get install -y nginx
	$(BIN)/python benchmarks/extraction_f1.py
	$(BIN)/python benchmarks/pipeline_throughput.py

clean:
	rm -rf $(VENV) .pytest_cache
