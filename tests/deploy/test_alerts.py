"""Alert rules: promtool checks and unit tests, metric names, the PrometheusRule copy."""

from __future__ import annotations

import re
import subprocess

import yaml

from ssmd.metrics import REGISTRY
from tests.deploy.helpers import ROOT, require_tool

RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
_METRIC = re.compile(r"\bssmd_[a-z0-9_]+")
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def exported_metric_names() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + s for s in _SUFFIXES)
    return names


def _rules() -> list[dict[str, str]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_promtool_check_and_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yaml"], cwd=RULES.parent, capture_output=True, text=True, timeout=60
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert "SUCCESS" in test.stdout + test.stderr


def test_seed_alerts_are_verbatim_and_every_design_alert_exists() -> None:
    rules = {r["alert"]: r for r in _rules()}
    assert rules["ConnectorNoData"]["expr"] == "rate(ssmd_connector_messages_received_total[5m]) == 0"
    assert (rules["ConnectorNoData"]["for"], rules["ConnectorNoData"]["labels"]) == ("2m", {"severity": "critical"})
    assert rules["ConnectorHighLag"]["expr"] == "ssmd_connector_lag_seconds > 5"
    assert (rules["ConnectorHighLag"]["for"], rules["ConnectorHighLag"]["labels"]) == ("1m", {"severity": "warning"})
    assert {
        "HighErrorRate", "CircuitBreakerOpen", "DeadLettersAccumulating", "KeyExpiringSoon", "KeyExpired",
        "GatewaySlowConsumers", "ArchiverLag", "TradingDayNotActive",
    } <= set(rules)
    tested = set(re.findall(r"alertname: (\w+)", (RULES.parent / "alerts_test.yaml").read_text()))
    assert tested == set(rules), "every alert has a promtool unit test"


def test_alerts_use_only_metrics_ssmd_exports() -> None:
    exported = exported_metric_names()
    used = {m for r in _rules() for m in _METRIC.findall(r["expr"])}
    assert used and used <= exported, used - exported


def test_prometheusrule_manifest_matches_the_rule_file() -> None:
    manifest = yaml.safe_load((ROOT / "k8s" / "base" / "prometheusrule.yaml").read_text())
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"] == yaml.safe_load(RULES.read_text())
