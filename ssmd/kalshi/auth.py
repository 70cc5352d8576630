"""Kalshi API-key request signing (RSA-PSS, SHA-256, MGF1-SHA-256, salt 32, base64).

The string to sign is ``timestamp_ms + METHOD + path`` where the path starts at the API
root (``/trade-api/ws/v2``, ``/trade-api/v2/markets``) and never includes the query
string. Signatures are randomized, so a verifier checks with the public key.

Errors never contain key material: they say what is wrong and where it came from.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ssmd.errors import AuthError

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"
WS_PATH = "/trade-api/ws/v2"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _pem_bytes(pem_text_or_path: str, what: str) -> tuple[bytes, str]:
    """The PEM bytes and a description of where they came from (never the content)."""
    text = pem_text_or_path.strip()
    if "-----BEGIN" in text:
        return text.encode(), f"{what} (inline PEM)"
    if not text:
        raise AuthError(f"{what}: empty (expected PEM text or a file path)")
    path = Path(text).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuthError(f"{what}: file {path} does not exist") from None
    except OSError as exc:
        raise AuthError(f"{what}: cannot read {path}: {exc.strerror}") from None
    if b"-----BEGIN" not in data:
        raise AuthError(f"{what}: {path} is not a PEM file (no BEGIN line)")
    return data, f"{what} {path}"


def _strip(path: str) -> str:
    return path.split("?", 1)[0]


def load_private_key(pem_text_or_path: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM text (PKCS#8 or PKCS#1) or from a PEM file path."""
    data, where = _pem_bytes(pem_text_or_path, "private key")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise AuthError(f"{where}: is a public key, a private key is needed")
    if b"ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data:
        raise AuthError(f"{where}: is encrypted; an unencrypted PEM key is needed")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuthError(f"{where}: not a valid PEM private key (PKCS#8 or PKCS#1 expected)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError(f"{where}: not an RSA key ({type(key).__name__.lstrip('_')})")
    return key


def load_public_key(pem_text_or_path: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1), text or file path.

    A private key is accepted too: its public half is returned.
    """
    data, where = _pem_bytes(pem_text_or_path, "public key")
    if b"PRIVATE KEY-----" in data:
        return load_private_key(data.decode("ascii", "replace")).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuthError(f"{where}: not a valid PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise AuthError(f"{where}: not an RSA key ({type(key).__name__.lstrip('_')})")
    return key


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The SubjectPublicKeyInfo PEM of a key (safe to print or store)."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign(private_key: rsa.RSAPrivateKey, timestamp_ms: str, method: str, path: str) -> str:
    """Base64 RSA-PSS signature of ``timestamp_ms + METHOD + path`` (query stripped)."""
    message = f"{timestamp_ms}{method.upper()}{_strip(path)}".encode()
    return base64.b64encode(private_key.sign(message, _PSS, hashes.SHA256())).decode("ascii")


def sign_headers(
    key_id: str, private_key: rsa.RSAPrivateKey, method: str, path: str, now_ms: int
) -> dict[str, str]:
    """The three ``KALSHI-ACCESS-*`` headers for one request or connection attempt."""
    timestamp = str(int(now_ms))
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(private_key, timestamp, method, path),
    }


def verify(
    public_key: rsa.RSAPublicKey, timestamp: str, method: str, path: str, signature_b64: str
) -> bool:
    """Whether ``signature_b64`` is a valid signature of the request by ``public_key``."""
    try:
        signature = base64.b64decode(signature_b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    message = f"{timestamp}{method.upper()}{_strip(path)}".encode()
    try:
        public_key.verify(signature, message, _PSS, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def generate_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (tests, local simulator set-ups)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey, *, pkcs1: bool = False) -> str:
    """Unencrypted PEM of a private key, PKCS#8 by default (PKCS#1 with ``pkcs1``)."""
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
