"""Request signing: RSA-PSS SHA-256 / MGF1-SHA-256 / salt 32, base64, ms timestamps."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ssmd.errors import AuthError
from ssmd.kalshi.auth import (
    generate_key,
    load_private_key,
    load_public_key,
    private_pem,
    public_pem,
    sign,
    sign_headers,
    verify,
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_key()


def test_signature_is_pss_sha256_salt32_over_ts_method_path(key: rsa.RSAPrivateKey) -> None:
    sig = sign(key, "1784475900544", "get", "/trade-api/v2/markets?limit=5&status=open")
    raw = base64.b64decode(sig, validate=True)
    # an independent check with the exact parameters Kalshi uses; raises if anything differs
    key.public_key().verify(
        raw, b"1784475900544GET/trade-api/v2/markets",
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256(),
    )


def test_sign_headers_and_verify(key: rsa.RSAPrivateKey) -> None:
    headers = sign_headers("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", key, "GET", "/trade-api/ws/v2", 1784475900544)
    assert set(headers) == {"KALSHI-ACCESS-KEY", "KALSHI-ACCESS-TIMESTAMP", "KALSHI-ACCESS-SIGNATURE"}
    assert headers["KALSHI-ACCESS-KEY"] == "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
    assert headers["KALSHI-ACCESS-TIMESTAMP"] == "1784475900544"
    public = key.public_key()
    stamp, sig = headers["KALSHI-ACCESS-TIMESTAMP"], headers["KALSHI-ACCESS-SIGNATURE"]
    assert verify(public, stamp, "GET", "/trade-api/ws/v2", sig)
    assert verify(public, stamp, "GET", "/trade-api/ws/v2?x=1", sig)  # query never signed
    assert not verify(public, "1784475900545", "GET", "/trade-api/ws/v2", sig)
    assert not verify(public, stamp, "POST", "/trade-api/ws/v2", sig)
    assert not verify(public, stamp, "GET", "/trade-api/v2/markets", sig)
    assert not verify(generate_key().public_key(), stamp, "GET", "/trade-api/ws/v2", sig)
    assert not verify(public, stamp, "GET", "/trade-api/ws/v2", "not base64!!")
    assert not verify(public, stamp, "GET", "/trade-api/ws/v2", base64.b64encode(b"x" * 256).decode())


def test_signatures_are_randomized(key: rsa.RSAPrivateKey) -> None:
    assert sign(key, "1", "GET", "/p") != sign(key, "1", "GET", "/p")


@pytest.mark.parametrize("pkcs1", [False, True])
def test_load_private_key_pkcs8_and_pkcs1_text_and_file(key: rsa.RSAPrivateKey, tmp_path: Path, pkcs1: bool) -> None:
    pem = private_pem(key, pkcs1=pkcs1)
    assert ("BEGIN RSA PRIVATE KEY" in pem) == pkcs1
    path = tmp_path / "key.pem"
    path.write_text(pem)
    for source in (pem, str(path)):
        loaded = load_private_key(source)
        sig = sign(loaded, "1784475900544", "GET", "/trade-api/ws/v2")
        assert verify(key.public_key(), "1784475900544", "GET", "/trade-api/ws/v2", sig)


def test_load_public_key_from_public_or_private_pem(key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "pub.pem"
    path.write_text(public_pem(key))
    sig = sign(key, "5", "GET", "/x")
    assert verify(load_public_key(str(path)), "5", "GET", "/x", sig)
    assert verify(load_public_key(private_pem(key)), "5", "GET", "/x", sig)


def test_bad_keys_give_one_clear_error_without_key_material(key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    pem = private_pem(key)
    body_line = pem.splitlines()[1]
    broken = pem.replace(body_line, body_line[::-1])
    cases = {
        broken: "not a valid PEM private key",
        str(tmp_path / "missing.pem"): "does not exist",
        "": "empty",
        public_pem(key): "is a public key",
    }
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    cases[str(garbage)] = "is not a PEM file"
    ec_pem = tmp_path / "ec.pem"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization

    ec_pem.write_bytes(ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    cases[str(ec_pem)] = "not an RSA key"
    for source, reason in cases.items():
        with pytest.raises(AuthError) as info:
            load_private_key(source)
        message = str(info.value)
        assert reason in message
        assert "\n" not in message
        assert body_line not in message and body_line[::-1] not in message
        assert info.value.__cause__ is None


def test_bad_public_key(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="not a valid PEM public key"):
        load_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
