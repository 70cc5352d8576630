"""`ssmd key list|show|verify|set`, as an operator runs them; no key material ever shows."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa

from ssmd.cli.main import main
from ssmd.config.load import load_environment
from ssmd.kalshi.auth import private_pem
from ssmd.metrics import REGISTRY
from ssmd.ops.keystatus import update_key_metrics
from tests.deploy.helpers import unseal

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"

ENV_YAML = """
name: kalshi-test
feed: kalshi
schema: trade:v1
transport: {type: memory}
storage: {type: local, path: STORAGE}
keys:
  kalshi:
    type: api_key
    fields: [api_key, api_secret]
    source: sealed-secret/kalshi-creds
    rotation_days: 30
  feed-token:
    type: secret
    required: false
    fields: [token]
    source: env
"""


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kalshi-test.yaml"
    path.write_text(ENV_YAML.replace("STORAGE", str(tmp_path / "data")))
    monkeypatch.setenv("SSMD_SECRETS_ROOT", str(tmp_path / "secrets"))
    monkeypatch.delenv("FEED-TOKEN_TOKEN", raising=False)
    return path


def _plain_forms(values: list[str]) -> list[str]:
    """A value as it could leak: itself, any PEM body line, and its base64."""
    forms = []
    for value in values:
        forms.append(value)
        forms.append(base64.b64encode(value.encode()).decode())
        forms.extend(line for line in value.splitlines() if len(line) > 20 and "-----" not in line)
    return forms


def _seal(env_file: Path, cert_pem: Path, pem: Path, out: Path, *extra: str) -> int:
    return main(["key", "set", str(env_file), "kalshi", "--field", f"api_key={KEY_ID}",
                 "--field", f"api_secret=@{pem}", "--cert", str(cert_pem), "--out", str(out), *extra])


def test_set_produces_a_sealed_secret_the_controller_can_open(
    env_file: Path, cert_pem: Path, kalshi_pem: Path, sealing_key: rsa.RSAPrivateKey, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "k8s" / "kalshi-creds.sealedsecret.yaml"
    assert _seal(env_file, cert_pem, kalshi_pem, out) == 0
    streams = capsys.readouterr()
    text = out.read_text()
    for form in _plain_forms([KEY_ID, kalshi_pem.read_text()]):
        assert form not in text and form not in streams.out and form not in streams.err
    assert not [p for p in out.parent.iterdir() if p != out], "no temporary or plaintext file is left"
    manifest = yaml.safe_load(text)
    assert (manifest["apiVersion"], manifest["kind"]) == ("bitnami.com/v1alpha1", "SealedSecret")
    assert manifest["metadata"] | {"annotations": None} == {"name": "kalshi-creds", "namespace": "ssmd",
                                                            "annotations": None}
    assert manifest["spec"]["template"]["metadata"]["name"] == "kalshi-creds"
    assert manifest["spec"]["template"]["type"] == "Opaque"
    sealed = manifest["spec"]["encryptedData"]
    assert set(sealed) == {"api_key", "api_secret", "rotated_at"}
    label = b"ssmd/kalshi-creds"
    assert unseal(sealing_key, sealed["api_key"], label) == KEY_ID.encode()
    assert unseal(sealing_key, sealed["api_secret"], label) == kalshi_pem.read_bytes()
    assert datetime.fromisoformat(unseal(sealing_key, sealed["rotated_at"], label).decode()).tzinfo
    # strict scope: the same ciphertext does not open as another Secret or namespace
    for other in (b"ssmd/other", b"default/kalshi-creds", b""):
        with pytest.raises(ValueError):
            unseal(sealing_key, sealed["api_key"], other)


def test_each_value_gets_its_own_session_key(
    env_file: Path, cert_pem: Path, kalshi_pem: Path, sealing_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert _seal(env_file, cert_pem, kalshi_pem, a, "--namespace", "prod", "--name", "kalshi-creds") == 0
    assert _seal(env_file, cert_pem, kalshi_pem, b, "--namespace", "prod", "--name", "kalshi-creds") == 0
    sealed_a = yaml.safe_load(a.read_text())["spec"]["encryptedData"]["api_key"]
    sealed_b = yaml.safe_load(b.read_text())["spec"]["encryptedData"]["api_key"]
    assert sealed_a != sealed_b
    assert unseal(sealing_key, sealed_a, b"prod/kalshi-creds") == unseal(sealing_key, sealed_b, b"prod/kalshi-creds")
    raw = base64.b64decode(sealed_a)
    tampered = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    with pytest.raises(InvalidTag):
        unseal(sealing_key, tampered, b"prod/kalshi-creds")


def test_set_to_stdout_prints_only_ciphertext(
    env_file: Path, cert_pem: Path, kalshi_pem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["key", "set", str(env_file), "kalshi", "--field", f"api_key={KEY_ID}",
                 "--field", f"api_secret=@{kalshi_pem}", "--cert", str(cert_pem)]) == 0
    streams = capsys.readouterr()
    assert yaml.safe_load(streams.out)["kind"] == "SealedSecret"
    for form in _plain_forms([KEY_ID, kalshi_pem.read_text()]):
        assert form not in streams.out + streams.err


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["api_key=x"], "missing: api_secret"),
        (["api_key=x", "api_secret=y", "passphrase=z"], "has no field 'passphrase'"),
        (["api_key=x", "api_key=y", "api_secret=z"], "given twice"),
        (["api_key", "api_secret=y"], "want FIELD=VALUE or FIELD=@FILE"),
        (["api_key=x", "api_secret=@/nonexistent/kalshi.pem"], "cannot read /nonexistent/kalshi.pem"),
    ],
)
def test_set_rejects_bad_fields_and_writes_nothing(
    env_file: Path, cert_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    fields: list[str], message: str,
) -> None:
    out = tmp_path / "out.yaml"
    args = [a for f in fields for a in ("--field", f)]
    assert main(["key", "set", str(env_file), "kalshi", *args, "--cert", str(cert_pem), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ssmd: ") and message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_set_rejects_a_certificate_that_is_not_one(
    env_file: Path, kalshi_pem: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.yaml"
    assert _seal(env_file, kalshi_pem, kalshi_pem, out) == 2
    err = capsys.readouterr().err
    assert "kubeseal --fetch-cert" in err and "PRIVATE" not in err
    assert not out.exists()


def _unseal_into_mount(manifest: Path, sealing_key: rsa.RSAPrivateKey, root: Path) -> None:
    """What the controller and kubelet do: decrypt into a Secret, mount it as one file per entry."""
    doc = yaml.safe_load(manifest.read_text())
    name, namespace = doc["metadata"]["name"], doc["metadata"]["namespace"]
    folder = root / name
    folder.mkdir(parents=True)
    for field, value in doc["spec"]["encryptedData"].items():
        (folder / field).write_bytes(unseal(sealing_key, value, f"{namespace}/{name}".encode()))


def test_sealed_key_mounted_in_a_pod_verifies_lists_and_shows_masked(
    env_file: Path, cert_pem: Path, kalshi_pem: Path, sealing_key: rsa.RSAPrivateKey, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sealed.yaml"
    assert _seal(env_file, cert_pem, kalshi_pem, out) == 0
    _unseal_into_mount(out, sealing_key, tmp_path / "secrets")
    capsys.readouterr()

    assert main(["key", "verify", str(env_file), "kalshi"]) == 0
    out_text = capsys.readouterr().out
    assert "RSA 2048-bit" in out_text and "verifies" in out_text and "ok: key kalshi" in out_text

    assert main(["key", "list", str(env_file), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["kalshi"]["missing"] == [] and rows["kalshi"]["due"] is False
    assert 29 * 86400 < rows["kalshi"]["expires_in_seconds"] <= 30 * 86400
    assert rows["feed-token"]["missing"] == ["token"] and rows["feed-token"]["rotated_at"] is None

    assert main(["key", "show", str(env_file), "kalshi", "--json"]) == 0
    shown = capsys.readouterr().out
    view = json.loads(shown)
    assert [f["value"] for f in view["fields"]] == ["****", "****"]
    assert view["fields"][0]["location"].endswith("secrets/kalshi-creds/api_key")
    assert main(["key", "show", str(env_file), "kalshi"]) == 0
    shown += capsys.readouterr().out
    assert "**** (set)" in shown
    for form in _plain_forms([KEY_ID, kalshi_pem.read_text()]):
        assert form not in shown + out_text


def test_verify_names_the_problem_without_key_material(
    env_file: Path, tmp_path: Path, kalshi_key: rsa.RSAPrivateKey, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "secrets" / "kalshi-creds"
    folder.mkdir(parents=True)
    (folder / "api_key").write_text(KEY_ID)
    assert main(["key", "verify", str(env_file), "kalshi"]) == 1
    assert "key kalshi.api_secret is not set" in capsys.readouterr().err

    pem = private_pem(kalshi_key)
    lines = pem.splitlines()
    broken = "\n".join([lines[0], *lines[1:-1][:5], lines[-1]])
    (folder / "api_secret").write_text(broken)
    assert main(["key", "verify", str(env_file), "kalshi"]) == 1
    err = capsys.readouterr().err
    assert "kalshi.api_secret" in err and "not a valid PEM private key" in err
    assert all(line not in err for line in lines[1:-1])

    (folder / "api_secret").write_text(private_pem(kalshi_key).replace("PRIVATE", "PUBLIC"))
    assert main(["key", "verify", str(env_file), "kalshi"]) == 1
    assert "public key" in capsys.readouterr().err


def test_rotation_due_is_exported_for_the_key_alerts(env_file: Path, tmp_path: Path) -> None:
    folder = tmp_path / "secrets" / "kalshi-creds"
    folder.mkdir(parents=True)
    for field in ("api_key", "api_secret"):
        (folder / field).write_text("x")
    (folder / "rotated_at").write_text("2026-01-01T00:00:00Z")
    env = load_environment(str(env_file))
    now_ns = int(datetime.fromisoformat("2026-02-05T00:00:00+00:00").timestamp()) * 1_000_000_000
    update_key_metrics(env, now_ns)
    value = REGISTRY.get_sample_value("ssmd_key_expiry_seconds", {"key": "kalshi"})
    assert value == -5 * 86400  # 30 days after Jan 1 is Jan 31: five days overdue
    assert REGISTRY.get_sample_value("ssmd_key_expiry_seconds", {"key": "feed-token"}) is None
