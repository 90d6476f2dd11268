# syntax=docker/dockerfile:1
# One image for intake, router and sla (and the one-shot `switchboard migrate` / `topics`):
#   docker build -t switchboard:local .
#   docker run --rm switchboard:local switchboard --help
# The builder installs the package and its dependencies into /opt/venv (wheels only, no compiler);
# the runtime stage copies that venv onto a clean python:3.11-slim and runs as a non-root user.

FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, in their own layer: source edits do not reinstall them.
COPY pyproject.toml ./
RUN mkdir -p shared services \
    && touch shared/__init__.py services/__init__.py \
    && pip install . \
    && pip uninstall -y switchboard
COPY shared ./shared
COPY services ./services
RUN pip install --no-deps . \
    && find /opt/venv -name '__pycache__' -type d -prune -exec rm -rf {} + \
    && pip uninstall -y pip setuptools wheel

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HTTP_HOST=0.0.0.0
RUN groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid switchboard --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin switchboard
COPY --from=builder /opt/venv /opt/venv
USER 10001:10001
WORKDIR /tmp
# intake 8081, router 8082, sla 8083 (HTTP_PORT overrides)
EXPOSE 8081 8082 8083
CMD ["switchboard", "--help"]
