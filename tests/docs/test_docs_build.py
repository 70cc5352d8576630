"""The documentation site builds with ``mkdocs build --strict``, and its reference pages are
generated from the code: every command of the CLI, every field of the environment file and
every alert (with its runbook) is on the site, and the README's links resolve."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    # no -q: mkdocs' quiet mode drops the warnings that --strict turns into a failure
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def _page(site: Path, name: str) -> str:
    text = (site / name / "index.html").read_text(encoding="utf-8")
    return html.unescape(text)


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "hooks" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_page_lists_every_command_with_its_parameters(site: Path) -> None:
    page = _page(site, "reference/cli")
    assert "ssmd up" in page
    assert "ssmd data coverage" in page
    assert "--whole-day" in page  # a parameter of data coverage
    assert "--workers" in page  # a parameter of up
    assert "Reading this file in the repository" not in page  # the repo-only note is dropped
    app, _script = _hook()._cli_app(ROOT)  # the app behind the `ssmd` script, wherever it lives

    def paths(a, chain):  # type: ignore[no-untyped-def]
        for name in a:
            if not name.startswith("-"):
                yield (*chain, name)
                yield from paths(a[name], (*chain, name))

    commands = list(paths(app, ()))
    assert ("data", "coverage") in commands
    for path in commands:
        assert f'id="{"-".join(path)}"' in page, f"ssmd {' '.join(path)} is missing from the CLI reference"


def test_environment_page_names_the_real_fields(site: Path) -> None:
    page = _page(site, "reference/environment")
    for field in ("schedule.day_start", "gateway.drop_policy", "healer.lookback_seconds",
                  "storage.buckets.raw", "keys.NAME.source", "subscriptions.markets.series"):
        assert field in page, field
    import msgspec

    model = _hook()._find_module(ROOT, "ssmd", r"^class Environment\(", "ssmd.config.model")
    Environment = model.Environment

    for field in msgspec.structs.fields(Environment):
        assert f"<code>{field.encode_name}</code>" in page, field.encode_name
    # a field docstring made it through
    assert "IANA timezone of the trading day" in page


def test_metrics_page_lists_the_metrics(site: Path) -> None:
    page = _page(site, "reference/metrics")
    for name in ("ssmd_connector_messages_received_total", "ssmd_gateway_slow_consumers",
                 "ssmd_archiver_lag_seconds", "ssmd_healer_pending_gaps"):
        assert name in page, name


def test_every_alert_has_a_runbook(site: Path) -> None:
    rules = _hook().alert_rules(ROOT)
    assert {r["alert"] for r in rules} >= {"ConnectorNoData", "ArchiverLag", "TradingDayFailed"}
    runbooks = _page(site, "operations/runbooks")
    metrics = _page(site, "reference/metrics")
    for rule in rules:
        name = rule["alert"]
        assert f'id="{name.lower()}"' in runbooks, f"alert {name} has no runbook section"
        assert name in metrics, f"alert {name} is missing from the alerts table"


def test_chaos_page_is_in_the_nav(site: Path) -> None:
    assert (site / "operations" / "chaos" / "index.html").exists()


@pytest.mark.parametrize("doc", ["README.md", "CONTRIBUTING.md"])
def test_relative_links_resolve(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links
    for link in links:
        if re.match(r"[a-z]+://", link) or link.startswith("#"):
            continue
        target = (ROOT / link.split("#", 1)[0]).resolve()
        assert target.exists(), f"{doc}: link {link} points at nothing"


def test_readme_stays_short() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size < 16_000, f"README.md is {size} bytes: move the detail into docs/"
