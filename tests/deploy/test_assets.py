"""Compose file, Dockerfile and Grafana dashboard, parsed as the tools would read them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ssmd.config.load import load_environment
from tests.deploy.helpers import COMPONENTS, ROOT
from tests.deploy.test_alerts import exported_metric_names

_SECRETISH = re.compile(r"PASSWORD|TOKEN|SECRET_ACCESS|_KEY(_ID)?$|ROOT_USER")
_INTERPOLATED = re.compile(r"^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$")


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


def test_compose_runs_every_component_on_the_full_stack() -> None:
    services = _compose()["services"]
    assert {"nats", "redis", "minio", "temporal", *COMPONENTS} <= set(services)
    assert "--jetstream" in services["nats"]["command"]
    assert services["temporal"]["command"][:2] == ["server", "start-dev"]
    for component in COMPONENTS:
        svc = services[component]
        expected = ["worker", "/etc/ssmd/env.yaml"] if component == "worker" else [
            "run", component, "/etc/ssmd/env.yaml"]
        assert svc["command"] == expected
        assert svc["build"]["context"] == ".." and svc["build"]["dockerfile"] == "Dockerfile"
        assert "./environments/compose.yaml:/etc/ssmd/env.yaml:ro" in svc["volumes"]
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"] and svc["user"] == "10001:10001"
        assert svc["environment"]["SSMD_SECRETS_ROOT"] == "/var/run/secrets/ssmd"
    assert services["gateway"]["ports"] == ["8765:8765"]
    assert "temporal" in services["worker"]["depends_on"]


def test_compose_environment_points_at_the_compose_services() -> None:
    env = load_environment(str(ROOT / "deploy" / "environments" / "compose.yaml"))
    services = _compose()["services"]
    hosts = {
        env.transport.url.split("//")[1].split(":")[0],  # type: ignore[union-attr]
        env.storage.endpoint.split("//")[1].split(":")[0],  # type: ignore[union-attr]
        env.cache.url.split("//")[1].split(":")[0],  # type: ignore[union-attr]
        env.orchestrator.address.split(":")[0],
    }
    assert hosts <= set(services)
    assert env.orchestrator.type == "temporal" and env.transport.type == "nats"
    assert env.keys["kalshi"].source == "sealed-secret/kalshi-creds"


def test_compose_holds_no_secret_value() -> None:
    for name, svc in _compose()["services"].items():
        environment = svc.get("environment", {})
        for key, value in environment.items():
            if _SECRETISH.search(key):
                assert _INTERPOLATED.match(str(value)), f"{name}.{key} must come from deploy/.env, not the file"
    example = (ROOT / "deploy" / "env.example").read_text()
    assert re.search(r"^MINIO_ROOT_PASSWORD=$", example, re.M)
    assert {".env", "secrets/"} <= set((ROOT / "deploy" / ".gitignore").read_text().split())


def _dockerfile() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_is_multistage_slim_nonroot_with_healthcheck() -> None:
    lines = _dockerfile()
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2 and any(" AS build" in s for s in stages)
    assert re.search(r"python:3\.11-slim", "\n".join(lines))
    runtime = lines[lines.index(stages[-1]):]
    user = [line for line in runtime if line.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK ") and "/metrics" in line for line in runtime)
    assert 'ENTRYPOINT ["ssmd"]' in runtime
    for line in lines:
        if line.startswith(("ENV ", "ARG ")):
            assert not re.search(r"(PASSWORD|API_KEY|API_SECRET|TOKEN)\s*=", line), line
        assert not re.search(r"COPY .*(\.pem|\.env|secrets)", line), line


def test_healthcheck_command_passes_only_while_metrics_answer() -> None:
    from prometheus_client import start_http_server

    from ssmd.metrics import REGISTRY

    line = next(x for x in _dockerfile() if x.startswith("HEALTHCHECK "))
    command = json.loads(line[line.index("CMD ") + 4 :])
    assert command[0] == "python"
    server, thread = start_http_server(0, addr="127.0.0.1", registry=REGISTRY)
    port = server.server_address[1]
    env = {**os.environ, "SSMD_METRICS_PORT": str(port)}
    try:
        assert subprocess.run([sys.executable, *command[1:]], env=env, timeout=30).returncode == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    failed = subprocess.run([sys.executable, *command[1:]], env=env, timeout=30, capture_output=True)
    assert failed.returncode != 0


def test_dockerignore_keeps_keys_and_local_state_out_of_the_build() -> None:
    patterns = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", "**/*.pem", "**/.env", "**/secrets", "ssmd-data"} <= patterns
    copied = {line.split()[1] for line in _dockerfile() if line.startswith("COPY ") and "--from" not in line}
    assert not copied & patterns


def _exprs(dashboard: dict[str, Any], kind: str) -> list[str]:
    return [
        t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])
        if t.get("datasource", p.get("datasource", {})).get("type") == kind
    ]


def test_dashboard_is_valid_and_uses_only_exported_metrics() -> None:
    dashboard = json.loads(Path(ROOT / "deploy" / "grafana" / "ssmd.json").read_text())
    assert dashboard["uid"] and dashboard["title"] == "ssmd"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    used = {m for e in _exprs(dashboard, "prometheus") for m in re.findall(r"\bssmd_[a-z0-9_]+", e)}
    assert used <= exported_metric_names(), used - exported_metric_names()
    seed = {
        "ssmd_connector_messages_received_total", "ssmd_connector_messages_published_total",
        "ssmd_connector_lag_seconds", "ssmd_connector_errors_total", "ssmd_gateway_clients_connected",
        "ssmd_gateway_messages_sent_total", "ssmd_gateway_subscriptions_active",
        "ssmd_archiver_bytes_written_total", "ssmd_archiver_files_written_total",
    }
    assert seed <= used
    assert _exprs(dashboard, "loki")
