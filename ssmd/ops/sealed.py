"""Bitnami Sealed Secrets, offline: seal values with the controller's public certificate.

The format is the controller's hybrid encryption, byte for byte:

    uint16 big-endian len(rsa) || rsa || aes

where ``rsa`` is RSA-OAEP (SHA-256, MGF1-SHA-256) of a fresh 32-byte AES-256 session key
with the scope label as the OAEP label, and ``aes`` is AES-256-GCM of the value under that
key with an all-zero 12-byte nonce (the key is used once) and no associated data. The
strict scope label is ``namespace/name``, so a sealed value only opens as that Secret.

Plain values exist only in memory here; the manifest holds base64 ciphertext only.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ssmd.errors import ConfigError

SESSION_KEY_BYTES = 32
NONCE_BYTES = 12
API_VERSION = "bitnami.com/v1alpha1"


def encryption_label(namespace: str, name: str) -> bytes:
    """The strict-scope label: the Secret's ``namespace/name``."""
    return f"{namespace}/{name}".encode()


def load_sealing_key(pem: bytes, source: str) -> rsa.RSAPublicKey:
    """The RSA public key of a ``kubeseal --fetch-cert`` certificate (or a bare public key PEM)."""
    key: object
    if b"-----BEGIN CERTIFICATE-----" in pem:
        try:
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError:
            raise ConfigError(source, "", "not a valid PEM certificate") from None
    elif b"-----BEGIN PUBLIC KEY-----" in pem:
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise ConfigError(source, "", "not a valid PEM public key") from None
    else:
        raise ConfigError(source, "", "expected the PEM certificate printed by `kubeseal --fetch-cert`")
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(source, "", f"the sealing key must be RSA, not {type(key).__name__.lstrip('_')}")
    return key


def read_sealing_key(path: Path) -> rsa.RSAPublicKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), "", exc.strerror or str(exc)) from None
    return load_sealing_key(pem, str(path))


def hybrid_encrypt(
    public_key: rsa.RSAPublicKey,
    plaintext: bytes,
    label: bytes,
    *,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> bytes:
    """Seal one value as the controller's ``HybridEncrypt`` does."""
    session_key = random_bytes(SESSION_KEY_BYTES)
    wrapped = public_key.encrypt(
        session_key,
        padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label),
    )
    sealed = AESGCM(session_key).encrypt(bytes(NONCE_BYTES), plaintext, None)
    return len(wrapped).to_bytes(2, "big") + wrapped + sealed


def seal_values(
    public_key: rsa.RSAPublicKey, namespace: str, name: str, values: Mapping[str, bytes]
) -> dict[str, str]:
    """Each value sealed for Secret ``namespace/name``, base64 as in ``spec.encryptedData``."""
    label = encryption_label(namespace, name)
    return {
        field: base64.b64encode(hybrid_encrypt(public_key, value, label)).decode("ascii")
        for field, value in sorted(values.items())
    }


def sealed_secret(
    namespace: str,
    name: str,
    encrypted: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The SealedSecret object (strict scope) the controller turns into Secret ``name``."""
    template_meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        template_meta["labels"] = dict(labels)
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {
        "apiVersion": API_VERSION,
        "kind": "SealedSecret",
        "metadata": meta,
        "spec": {
            "encryptedData": dict(encrypted),
            "template": {"metadata": template_meta, "type": "Opaque"},
        },
    }


def render(manifest: Mapping[str, Any]) -> str:
    return "---\n" + yaml.safe_dump(dict(manifest), sort_keys=False, width=1_000_000)
