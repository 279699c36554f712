# syntax=docker/dockerfile:1
# One image for every CRM process. It has no service-specific CMD: docker-compose.yml and the
# Kubernetes manifests name the process (crm-<service>-<api|relay|worker>) to run.
# Both stages share one base so the virtual environment's interpreter path stays valid.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
# Compile bytecode now: the runtime root filesystem is read-only. Copy (not hardlink) out of
# the cache mount, and never let uv download another interpreter.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/crm/venv
WORKDIR /src
# Third-party dependencies first: this layer changes only when uv.lock does. The lockfile
# alone describes every workspace member, so no member pyproject.toml is needed yet.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace
# Then the workspace packages, installed as wheels so the runtime image needs no sources.
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to the process and reaps zombies, so every process stops
# gracefully whether or not it installs its own signal handlers.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 crm \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
       --shell /usr/sbin/nologin crm
# Owned by root and read-only for the process user: nothing is written outside /tmp.
COPY --from=build /opt/crm/venv /opt/crm/venv
ENV PATH=/opt/crm/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    CRM_HTTP_HOST=0.0.0.0
WORKDIR /opt/crm
USER 10001:10001
LABEL org.opencontainers.image.title="crm-platform" \
      org.opencontainers.image.description="CRM services: crm-<service>-<api|relay|worker>"
# Kubernetes must pass the process as `args` (not `command`) to keep tini.
ENTRYPOINT ["/usr/bin/tini", "--"]
