# One image for every Dream process; the command chooses: `api`, `worker`, `migrate`, `replay`.
# Dependencies come from requirements.lock (hashes pinned), so a rebuild installs the same bits;
# the lock holds the `server` extra (the base distribution is only the collector's) and `export`
# (pyarrow: /v1/export?format=parquet), see `make lock`.

FROM python:3.11.11-slim-bookworm AS build
# DREAM_REQUIRE_SPEEDUPS: the parsers' C accelerator must build here (setup.py), never fall back.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DREAM_REQUIRE_SPEEDUPS=1
# gcc compiles dream.parsing._speedups; only this stage has it (Debian's current bookworm build).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
RUN python -m venv /opt/dream
COPY requirements.lock ./
RUN /opt/dream/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml setup.py README.md ./
COPY src ./src
RUN /opt/dream/bin/pip install --no-deps . \
 && /opt/dream/bin/python -c "import dream.parsing._speedups"

FROM python:3.11.11-slim-bookworm
RUN groupadd --system --gid 10001 dream \
 && useradd --system --uid 10001 --gid dream --home-dir /var/lib/dream --create-home dream
COPY --from=build /opt/dream /opt/dream
ENV PATH=/opt/dream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DREAM_HOST=0.0.0.0 \
    DREAM_LOG_FORMAT=json \
    DREAM_DATA_DIR=/var/lib/dream
USER 10001:10001
WORKDIR /var/lib/dream
EXPOSE 8080 9464
# `dream healthcheck` asks the api's /healthz, or the worker's metrics port, whichever runs here.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["dream", "healthcheck"]
ENTRYPOINT ["dream"]
CMD ["api"]
