# Dream — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DREAM  := $(VENV)/bin/dream

.PHONY: install run test browser syscall-tracer workflow-linter services-up services-down bench docker-up docker-down lock clean agent agent-deb agent-rpm agent-msi \
	agent-packages packaging-tools dr-drill dr-up dr-status dr-failover dr-failback dr-down

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
test: install browser packaging-tools syscall-tracer workflow-linter
	$(PY) scripts/services.py kafka-libs >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; $(PY) scripts/services.py note; exit $$status

## Debian's chromium for the dashboard's browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium: tests/frontend skip (and fail under CI=true)"

## What the agent's packages are built and inspected with (tests/agent): rpm (rpmbuild, rpm -qpl),
## msitools' wixl and msiinfo; dpkg-deb is Debian's own.
packaging-tools:
	@command -v rpmbuild >/dev/null 2>&1 && command -v wixl >/dev/null 2>&1 && command -v msiinfo >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq rpm msitools wixl >/dev/null) \
		|| echo "warning: could not install rpm/msitools/wixl: the agent's rpm and MSI tests skip (and fail under CI=true)"

## strace: tests/test_durable_writes.py reads what the blob store and the spool sync from their
## system calls (a power cut cannot be staged).
syscall-tracer:
	@command -v strace >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq strace >/dev/null) \
		|| echo "warning: could not install strace: tests/test_durable_writes.py skips (and fails under CI=true)"

## shellcheck: tests/test_workflows.py runs actionlint (built there with Go) on .github/workflows,
## and actionlint reads each `run:` script with shellcheck.
workflow-linter:
	@command -v shellcheck >/dev/null 2>&1 \
		|| (apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null) \
		|| echo "warning: could not install shellcheck: tests/test_workflows.py skips (and fails under CI=true)"

## Start / stop a local Kafka (KRaft) broker and PostgreSQL; `up` prints the DREAM_* variables.
services-up: install
	@$(PY) scripts/services.py up

services-down: install
	@$(PY) scripts/services.py down

## Disaster-recovery drill: two sites here (Kafka + PostgreSQL each, MirrorMaker 2 A → B, a
## streaming standby), site A killed mid-stream (its mirror and worker 2 s behind), failover to
## B; prints what was acknowledged, stored, lost and duplicated, RPO and RTO, then fails back to
## A (docs/operations.md). Stops all it started. DR_ARGS="--lag 0": no lag forced.
DR_ARGS ?= --failback --lag 2
dr-drill: install
	$(PY) scripts/dr.py drill $(DR_ARGS)

## The drill's steps by hand (.cache/dr/, apart from services-up's): both sites and the mirror
## up, what runs, site A killed and B promoted, back to A, everything stopped.
dr-up dr-status dr-failover dr-failback dr-down: install
	@$(PY) scripts/dr.py $(@:dr-%=%)

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
AGENT_TARGETS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
AGENT_OUT ?= $(CURDIR)/build/agent
agent:
	@mkdir -p $(AGENT_OUT)
	@for target in $(AGENT_TARGETS); do \
		os=$${target%/*}; arch=$${target#*/}; ext=$$( [ $$os = windows ] && echo .exe ); \
		out=$(AGENT_OUT)/dream-agent-$$os-$$arch$$ext; \
		(cd agent && CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -buildvcs=false \
			-ldflags "-s -w -X dream/agent/internal/agent.Version=$(AGENT_VERSION)" \
			-o $$out ./cmd/dream-agent) || exit 1; \
		echo "$$out"; \
	done

## Debian packages of the Linux builds: $(AGENT_OUT)/dream-agent_<version>_<arch>.deb (binary in
## /usr/bin, the systemd service and timer). Install properties: DREAM_URL=... DREAM_API_KEY=...
## DREAM_FACULTY=... apt install ./dream-agent_*.deb (docs/agent.md).
AGENT_DEB_VERSION ?= $(shell echo '$(AGENT_VERSION)' | sed -e 's/^v//' -e 's/[^0-9A-Za-z.+~]/+/g' -e 's/^[^0-9]/0+&/')
agent-deb: agent
	@for target in $(filter linux/%,$(AGENT_TARGETS)); do \
		arch=$${target#*/}; root=$(AGENT_OUT)/deb-$$arch; rm -rf $$root; \
		install -D -m 0755 $(AGENT_OUT)/dream-agent-linux-$$arch $$root/usr/bin/dream-agent; \
		for unit in dream-agent.service dream-agent.timer; do \
			mkdir -p $$root/lib/systemd/system; \
			sed -e 's|{{.Binary}}|/usr/bin/dream-agent|g' -e 's|{{.Config}}|/etc/dream/agent.conf|g' \
				-e 's|{{.IntervalSeconds}}|300|g' -e 's|{{.Interval}}|5m|g' \
				agent/packaging/$$unit > $$root/lib/systemd/system/$$unit; \
		done; \
		install -D -m 0755 agent/packaging/deb/postinst $$root/DEBIAN/postinst; \
		install -D -m 0755 agent/packaging/deb/prerm $$root/DEBIAN/prerm; \
		sed -e 's/@VERSION@/$(AGENT_DEB_VERSION)/' -e "s/@ARCH@/$$arch/" agent/packaging/deb/control \
			> $$root/DEBIAN/control; \
		dpkg-deb --root-owner-group -Zxz --build $$root $(AGENT_OUT)/dream-agent_$(AGENT_DEB_VERSION)_$$arch.deb \
			>/dev/null || exit 1; \
		echo $(AGENT_OUT)/dream-agent_$(AGENT_DEB_VERSION)_$$arch.deb; \
	done

## RPMs of the Linux builds, from the tree agent-deb stages (same files, same install properties:
## DREAM_URL=... DREAM_API_KEY=... DREAM_FACULTY=... dnf install ./dream-agent-*.rpm).
agent-rpm: agent-deb
	@for target in $(filter linux/%,$(AGENT_TARGETS)); do \
		arch=$${target#*/}; rpmarch=$$( [ $$arch = arm64 ] && echo aarch64 || echo x86_64 ); \
		rpmbuild -bb --quiet --target $$rpmarch --define "_topdir $(AGENT_OUT)/rpmbuild" \
			--define "_rpmdir $(AGENT_OUT)" --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
			--define "agent_version $(AGENT_DEB_VERSION)" --define "staged $(AGENT_OUT)/deb-$$arch" \
			agent/packaging/rpm/dream-agent.spec >/dev/null || exit 1; \
		echo $(AGENT_OUT)/dream-agent-$(AGENT_DEB_VERSION)-1.$$rpmarch.rpm; \
	done

## The Windows installer of the windows/amd64 build (wixl has no arm64 target: Windows on Arm runs
## it emulated, or `dream-agent-windows-arm64.exe install`). Install properties: msiexec /i ...
## DREAM_URL=... DREAM_API_KEY=... DREAM_FACULTY=... (docs/agent.md).
AGENT_MSI_VERSION ?= $(shell echo '$(AGENT_DEB_VERSION)' | grep -oE '^[0-9]+(\.[0-9]+){0,2}' || echo 0)
agent-msi: agent
	@# wixl finds a relative Source from the working directory (an absolute one it cannot)
	@cd $(AGENT_OUT) && wixl --arch x64 -D Version=$(AGENT_MSI_VERSION) -D Binary=dream-agent-windows-amd64.exe \
		-o dream-agent-$(AGENT_DEB_VERSION)-x64.msi $(CURDIR)/agent/packaging/msi/dream-agent.wxs
	@echo $(AGENT_OUT)/dream-agent-$(AGENT_DEB_VERSION)-x64.msi

## Every package built here: deb and rpm (Linux), MSI (Windows). macOS: docs/agent.md.
agent-packages: agent-deb agent-rpm agent-msi

clean:
	-$(PY) scripts/services.py down
	rm -rf $(VENV) .cache .dream .pytest_cache
