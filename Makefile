# Dream — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DREAM  := $(VENV)/bin/dream

.PHONY: install run test browser services-up services-down bench docker-up docker-down lock clean agent

install: $(VENV)/.installed

# setup.py builds the parsers' C accelerator in place (src/dream/parsing/_speedups.*.so).
# The `dev` extra includes `server`: the base distribution is only the collector's.
$(VENV)/.installed: pyproject.toml setup.py src/dream/parsing/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[server,dev]'
	touch $@

## Serve api + worker on :8080 with the embedded PostgreSQL and the direct pipeline.
run: install
	$(DREAM) serve --host 127.0.0.1 --port 8080

## The whole suite against a real Kafka broker and a real PostgreSQL (started as needed).
## Services the suite starts it stops; ones it found running stay, and a last line says so.
test: install browser
	$(PY) scripts/services.py kafka-libs >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; $(PY) scripts/services.py note; exit $$status

## Debian's chromium for the dashboard's browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium: tests/frontend skip (and fail under CI=true)"

## Start / stop a local Kafka (KRaft) broker and PostgreSQL; `up` prints the DREAM_* variables.
services-up: install
	@$(PY) scripts/services.py up

services-down: install
	@$(PY) scripts/services.py down

## End-to-end and parsing benchmarks (figures printed; nothing asserted). Kafka and PostgreSQL
## stay up for the next run; the last line says so (`make services-down` stops them).
bench: install
	$(PY) scripts/services.py kafka-libs >/dev/null
	$(PY) -m bench.run $(BENCH_ARGS); status=$$?; $(PY) scripts/services.py note; exit $$status

## Dream, Kafka, PostgreSQL, MinIO, Prometheus and Grafana on one Docker host.
docker-up:
	docker compose up -d --build

docker-down:
	docker compose down

## Re-pin the image's dependencies after changing pyproject.toml: the `server` extra (the base
## install is only the collector's) and `export` (the image answers Parquet exports).
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra server --extra export --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header --quiet \
		-o requirements.lock

## The collector agent (agent/, Go, standard library only) for every OS it supports, static and
## reproducible: build/agent/dream-agent-<os>-<arch>[.exe]. AGENT_VERSION defaults to git's.
AGENT_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
AGENT_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
agent:
	@mkdir -p build/agent
	@for target in $(AGENT_TARGETS); do \
		os=$${target%/*}; arch=$${target#*/}; ext=$$( [ $$os = windows ] && echo .exe ); \
		out=$(CURDIR)/build/agent/dream-agent-$$os-$$arch$$ext; \
		(cd agent && CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -buildvcs=false \
			-ldflags "-s -w -X dream/agent/internal/agent.Version=$(AGENT_VERSION)" \
			-o $$out ./cmd/dream-agent) || exit 1; \
		echo "$$out"; \
	done

clean:
	-$(PY) scripts/services.py down
	rm -rf $(VENV) .cache .dream .pytest_cache
