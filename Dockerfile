# syntax=docker/dockerfile:1
# One image for the four services and the local chat sink; the command chooses what runs:
#   docker run --rm -e HTTP_HOST=0.0.0.0 -p 8083:8083 cop-platform cop-recognition
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
# Dependencies first, in their own layer: rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
# Then the project itself, installed as a wheel (not editable), so the venv is self-contained.
COPY shared/ shared/
COPY services/ services/
COPY copctl/ copctl/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE}
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SEARCH_INDEX_DIR=/data/search-index
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app \
    && mkdir -p /data/chat /data/search-index \
    && chown -R app:app /data
COPY --from=build /app/.venv /app/.venv
WORKDIR /app
USER 10001:10001
EXPOSE 8080 8081 8082 8083 8084
# Defaults to the events service; pass cop-knowledge, cop-recognition or cop-notifier for the others.
CMD ["cop-events"]
