"""The production overlay as ArgoCD would apply it: `kubectl kustomize k8s/overlays/prod`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from ssmd.config.load import load_environment
from tests.deploy.helpers import COMPONENTS, ROOT, kustomize


def _objects(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered if o["kind"] == kind}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def test_every_component_runs_the_image_with_its_command(rendered: list[dict[str, Any]]) -> None:
    deployments = _objects(rendered, "Deployment")
    assert set(deployments) == {f"ssmd-{c}" for c in COMPONENTS}
    for component in COMPONENTS:
        container = _container(deployments[f"ssmd-{component}"])
        assert container["image"] == "ghcr.io/your-org/ssmd:0.1.0"
        expected = ["worker", "/etc/ssmd/env.yaml"] if component == "worker" else [
            "run", component, "/etc/ssmd/env.yaml"]
        assert container["args"] == expected
        assert "command" not in container  # the image's ENTRYPOINT is `ssmd`
    assert {o["metadata"]["namespace"] for o in rendered if o["kind"] != "Namespace"} == {"ssmd"}
    assert _objects(rendered, "Namespace")["ssmd"]


def test_environment_configmap_is_the_prod_environment_and_mounted(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    configmaps = _objects(rendered, "ConfigMap")
    (cm_name,) = [n for n in configmaps if n.startswith("ssmd-environment")]
    env_file = tmp_path / "env.yaml"
    env_file.write_text(configmaps[cm_name]["data"]["env.yaml"])
    env = load_environment(str(env_file))
    seed = load_environment("kalshi-prod")
    assert env.name == "kalshi-prod"
    for section in ("schedule", "transport", "storage", "cache"):
        assert getattr(env, section) == getattr(seed, section), section
    assert env.keys["kalshi"].source == "sealed-secret/kalshi-creds"
    assert env.keys["kalshi"].fields == seed.keys["kalshi"].fields
    assert env.orchestrator.type == "temporal"
    assert (env.gateway.host, env.metrics.host) == ("0.0.0.0", "0.0.0.0")
    for name, deployment in _objects(rendered, "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["environment"]["configMap"]["name"] == cm_name, name
        mounts = {m["mountPath"]: m for m in _container(deployment)["volumeMounts"]}
        assert mounts["/etc/ssmd"]["name"] == "environment" and mounts["/etc/ssmd"]["readOnly"]


def test_kalshi_secret_is_mounted_where_the_key_resolver_reads(rendered: list[dict[str, Any]]) -> None:
    for component in ("connector", "secmaster", "worker"):
        deployment = _objects(rendered, "Deployment")[f"ssmd-{component}"]
        container = _container(deployment)
        env = {e["name"]: e.get("value") for e in container["env"]}
        root = env["SSMD_SECRETS_ROOT"]
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert volumes["kalshi-creds"]["secret"]["secretName"] == "kalshi-creds"
        assert mounts["kalshi-creds"]["mountPath"] == f"{root}/kalshi-creds"
        assert mounts["kalshi-creds"]["readOnly"] is True


def _environment(rendered: list[dict[str, Any]], folder: Path) -> Any:
    (data,) = [o["data"]["env.yaml"] for o in rendered if o["kind"] == "ConfigMap"]
    (folder / "env.yaml").write_text(data)
    return load_environment(str(folder / "env.yaml"))


def test_probes_resources_and_pod_security(rendered: list[dict[str, Any]], tmp_path: Path) -> None:
    env = _environment(rendered, tmp_path)
    for name, deployment in _objects(rendered, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == 9464
        assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        if name == "ssmd-worker":
            assert container["readinessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
        else:
            command = container["readinessProbe"]["exec"]["command"]
            assert command[:2] == ["python", "-c"] and f"http://127.0.0.1:{env.control.port}/readyz" in command[2]
        assert container["startupProbe"]["httpGet"]["path"] == "/metrics"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert pod["terminationGracePeriodSeconds"] >= 30
    assert env.control.host == "127.0.0.1"  # the control API (day actions) stays inside the pod


def test_services_monitoring_and_tls_ingress(rendered: list[dict[str, Any]]) -> None:
    services = _objects(rendered, "Service")
    assert set(services) == {f"ssmd-{c}" for c in COMPONENTS}
    for name, svc in services.items():
        assert svc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "ssmd"
        assert "metrics" in {p["name"] for p in svc["spec"]["ports"]}, name
        assert svc["spec"]["selector"] == {"app.kubernetes.io/name": name}
    (monitor,) = _objects(rendered, "ServiceMonitor").values()
    assert monitor["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/part-of": "ssmd"}
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    (route,) = _objects(rendered, "IngressRoute").values()
    assert route["spec"]["entryPoints"] == ["websecure"]
    assert route["spec"]["tls"]["secretName"]
    (service,) = route["spec"]["routes"][0]["services"]
    assert (service["name"], service["port"]) == ("ssmd-gateway", 8765)
    assert "ssmd.your-org.example" in route["spec"]["routes"][0]["match"]
    (rule,) = _objects(rendered, "PrometheusRule").values()
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"ConnectorNoData", "ConnectorHighLag", "KeyExpired", "TradingDayNotActive"} <= alerts


def test_no_plaintext_secret_anywhere(rendered: list[dict[str, Any]]) -> None:
    assert not [o for o in rendered if o["kind"] == "Secret"]
    for path in [*ROOT.joinpath("k8s").rglob("*.yaml"), *ROOT.joinpath("deploy").rglob("*.yaml")]:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                raise AssertionError(f"{path} holds a plain Secret")
            assert "stringData" not in str(doc), path
    for obj in rendered:
        if obj["kind"] == "Deployment":
            for entry in _container(obj)["env"]:
                assert "value" in entry or "valueFrom" in entry
                if re.search(r"PASSWORD|TOKEN|SECRET_ACCESS|_KEY$|_SECRET$", entry["name"]):
                    assert "value" not in entry, f"literal secret value in {entry['name']}"


def test_sealed_secret_from_key_set_joins_the_overlay(tmp_path: Path, cert_pem: Path, kalshi_pem: Path) -> None:
    from ssmd.cli.main import main

    tree = tmp_path / "k8s"
    shutil.copytree(ROOT / "k8s", tree)
    overlay = tree / "overlays" / "prod"
    out = overlay / "kalshi-creds.sealedsecret.yaml"
    assert main(["key", "set", "kalshi-prod", "kalshi", "--field", "api_key=key-id-1",
                 "--field", f"api_secret=@{kalshi_pem}", "--cert", str(cert_pem), "--out", str(out)]) == 0
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    kustomization["resources"].append(out.name)
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    objects = kustomize(overlay)
    (sealed,) = [o for o in objects if o["kind"] == "SealedSecret"]
    assert sealed["metadata"]["namespace"] == "ssmd"
    assert sealed["spec"]["template"]["metadata"]["name"] == "kalshi-creds"
    assert set(sealed["spec"]["encryptedData"]) == {"api_key", "api_secret", "rotated_at"}


def test_argocd_application_points_at_the_prod_overlay() -> None:
    app = yaml.safe_load((ROOT / "k8s" / "argocd" / "application.yaml").read_text())
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    assert app["spec"]["source"]["path"] == "k8s/overlays/prod"
    assert (ROOT / app["spec"]["source"]["path"] / "kustomization.yaml").is_file()
    assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "ssmd"}


async def test_readiness_command_follows_the_control_api(rendered: list[dict[str, Any]]) -> None:
    """The exec probe passes on 200 from /readyz and fails on 503 (a component not running)."""
    import asyncio
    import sys

    from aiohttp import web

    ready = {"value": False}

    async def readyz(_: web.Request) -> web.Response:
        return web.json_response({"ready": ready["value"]}, status=200 if ready["value"] else 503)

    app = web.Application()
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    command = _container(_objects(rendered, "Deployment")["ssmd-connector"])["readinessProbe"]["exec"]["command"]
    script = command[2].replace("127.0.0.1:8766", f"127.0.0.1:{port}")

    async def probe() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stderr=asyncio.subprocess.DEVNULL)
        return await asyncio.wait_for(proc.wait(), 30)

    try:
        assert await probe() != 0
        ready["value"] = True
        assert await probe() == 0
    finally:
        await runner.cleanup()
