"""Fixtures of the deployment tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ssmd.kalshi.auth import private_pem
from tests.deploy.helpers import ROOT, kustomize, self_signed_cert


@pytest.fixture(scope="session")
def rendered() -> list[dict[str, Any]]:
    """Every object of ``kubectl kustomize k8s/overlays/prod``."""
    return kustomize(ROOT / "k8s" / "overlays" / "prod")


@pytest.fixture(scope="session")
def sealing_key() -> rsa.RSAPrivateKey:
    """The controller's private key (4096-bit like the controller's default is slow; 2048 proves the format)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def cert_pem(sealing_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cert") / "sealed-secrets-cert.pem"
    path.write_bytes(self_signed_cert(sealing_key))
    return path


@pytest.fixture(scope="session")
def kalshi_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def kalshi_pem(kalshi_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kalshi") / "kalshi.pem"
    path.write_text(private_pem(kalshi_key))
    return path
