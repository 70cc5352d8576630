# syntax=docker/dockerfile:1
# The one ssmd image. Every component runs from it:
#   docker run IMAGE run connector /etc/ssmd/env.yaml   (archiver, gateway, secmaster alike)
#   docker run IMAGE worker /etc/ssmd/env.yaml          (Temporal worker)
#   docker run IMAGE                                    (ssmd up: embedded default, simulator)
# No secrets are baked in: keys are mounted at runtime under $SSMD_SECRETS_ROOT.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a self-contained virtualenv with ssmd and its dependencies ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/ssmd
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ssmd ./ssmd
COPY tui ./tui
COPY exchanges ./exchanges
COPY sql ./sql
RUN /opt/ssmd/bin/pip install '.[all]' \
 && /opt/ssmd/bin/python -m compileall -q /opt/ssmd/lib \
 && /opt/ssmd/bin/ssmd --version

# --- runtime: slim base, the virtualenv, an unprivileged user ---
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="ssmd" \
      org.opencontainers.image.description="Capture, stream and archive Kalshi market data." \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 ssmd \
 && useradd --system --uid 10001 --gid ssmd --home-dir /var/lib/ssmd --shell /usr/sbin/nologin ssmd \
 && mkdir -p /var/lib/ssmd /etc/ssmd /var/run/secrets/ssmd \
 && chown ssmd:ssmd /var/lib/ssmd
COPY --from=build /opt/ssmd /opt/ssmd
ENV PATH=/opt/ssmd/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/ssmd \
    SSMD_DATA_DIR=/var/lib/ssmd/data \
    SSMD_SECRETS_ROOT=/var/run/secrets/ssmd \
    SSMD_METRICS_PORT=9464
WORKDIR /var/lib/ssmd
USER 10001:10001
# gateway (WebSocket + REST), metrics
EXPOSE 8765 9464
# Healthy while the component's Prometheus endpoint answers (every component serves it).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % os.environ.get('SSMD_METRICS_PORT', '9464'), timeout=2); sys.exit(0)"]
# SIGTERM starts ssmd's staged shutdown (drain, flush, manifests).
STOPSIGNAL SIGTERM
ENTRYPOINT ["ssmd"]
CMD ["up"]
