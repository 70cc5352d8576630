"""Secrets never leak: ``ssmd up`` with a real RSA key against the simulator in ``required``
auth mode (``ssmd sim --key-id --public-key``), then the error paths (a key the exchange
refuses, a private key that is not PEM), and every byte captured is scanned: stdout and
stderr, ``/status``, ``/metrics``, ``/day``, the archive inventory, ``ssmd env show``,
``ssmd key list|show|verify``, and every file of the data dir (logs, journal, run file,
manifests, cache, catalog). The needles: the key id, the private key PEM, each line of its
base64 body, and the malformed secret's text.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import msgspec
from bench_e2e import env_file
from chaos_common import ChaosResult, Scenario
from procs import BIN, Ssmd, get, until

KEYS = {"kalshi": {"type": "api_key", "fields": ["api_key", "api_secret"], "source": "env"}}


def _rsa() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh RSA key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def needles(key_id: str, *secrets: str) -> list[str]:
    """What must never appear: the key id, each secret whole, and each line of a PEM body."""
    out = [key_id]
    for secret in secrets:
        out.append(secret.strip())
        out += [line for line in secret.splitlines() if len(line) >= 16 and not line.startswith("-----")]
    return out


def scan(captured: dict[str, bytes], what: list[str]) -> list[str]:
    """``where: needle`` for every needle found in a captured text (also JSON-escaped)."""
    hits = []
    for where, blob in captured.items():
        for needle in what:
            forms = {needle.encode(), needle.replace("\n", "\\n").encode()}
            if any(form in blob for form in forms):
                hits.append(f"{where}: {needle[:24]}...")
    return hits


async def _cli(*args: str, env: dict[str, str]) -> bytes:
    proc = await asyncio.create_subprocess_exec(str(BIN / "ssmd"), *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, env={**os.environ, **env})
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return out


async def _sim(folder: Path, key_id: str, public: str) -> tuple[asyncio.subprocess.Process, str, str]:
    (folder / "sim.pub.pem").write_text(public)
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "ssmd"), "sim", "--port", "0", "--rate", "300", "--key-id", key_id, "--public-key",
        str(folder / "sim.pub.pem"), "--lifecycle-interval", "0", stdout=asyncio.subprocess.PIPE,
        stderr=(folder / "sim.log").open("wb"))
    assert proc.stdout is not None
    ws = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()[-1]
    rest = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode().split()[-1]
    return proc, ws, rest


async def _run_up(folder: Path, ws: str, rest: str, env: dict[str, str], label: str,
                  captured: dict[str, bytes], refused: bool) -> dict[str, Any]:
    """One ``ssmd up`` with credentials ``env``; captures what it shows; its connector status."""
    sub = folder / label
    sub.mkdir()
    data = sub / "data"
    envfile = env_file(sub, ws, rest, keys=KEYS, subscriptions={"channels": ["trade", "ticker", "orderbook_delta"],
                                                                   "markets": "all"})
    up = Ssmd(envfile, data, sub / "up.log", env=env)
    try:
        await up.start()
        if refused:
            connector = await until(lambda: (c := up.component_status("connector")).get("state") == "failed" and c,
                                    90, "the connector to stop on the refused key")
        else:
            connector = await until(lambda: (c := up.component_status("connector")).get("counters", {}).get(
                "orderbook_delta", 0) > 0 and c, 90, "signed data (orderbook_delta needs auth)")
        for route in ("/status", "/metrics", "/day", "/day/history", "/archive/inventory", "/healthz", "/readyz"):
            try:
                captured[f"{label} {route}"] = get(up.control + route)
            except Exception as exc:  # a 503 from /readyz is an answer too
                captured[f"{label} {route}"] = str(exc).encode() + getattr(exc, "read", lambda: b"")()
        gateway = up.info["endpoints"].get("gateway_http")
        if gateway:
            captured[f"{label} /v1/health"] = get(gateway + "/v1/health")
        for cmd in (("env", "show", str(envfile)), ("env", "show", "--json", str(envfile)),
                    ("key", "list", str(envfile)), ("key", "show", str(envfile), "kalshi"),
                    ("key", "verify", str(envfile), "kalshi"), ("env", "validate", str(envfile))):
            shown = " ".join(c for c in cmd if c != str(envfile))
            captured[f"{label} ssmd {shown}"] = await _cli(*cmd, env={**env, "SSMD_DATA_DIR": str(data)})
    finally:
        await up.stop()
    captured[f"{label} ssmd up output"] = up.log.read_bytes()
    for path in data.rglob("*"):
        if path.is_file():
            captured[f"{label} {path.relative_to(data)}"] = path.read_bytes()
    return connector


async def _secrets() -> list[ChaosResult]:
    key_id = f"chaos-key-{uuid.uuid4()}"
    private, public = _rsa()
    wrong, _ = _rsa()
    garbage = f"-----BEGIN PRIVATE KEY-----\nNOTAKEY{uuid.uuid4().hex}{uuid.uuid4().hex}\n-----END PRIVATE KEY-----\n"
    captured: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="chaos-secrets-") as tmp:
        folder = Path(tmp)
        sim, ws, rest = await _sim(folder, key_id, public)
        try:
            good = await _run_up(folder, ws, rest, {"KALSHI_API_KEY": key_id, "KALSHI_API_SECRET": private},
                                 "signed", captured, refused=False)
            bad = await _run_up(folder, ws, rest, {"KALSHI_API_KEY": key_id, "KALSHI_API_SECRET": wrong},
                                "refused", captured, refused=True)
            broken = await _cli("key", "verify", str(env_file(folder, ws, rest, keys=KEYS)), "kalshi",
                                env={"KALSHI_API_KEY": key_id, "KALSHI_API_SECRET": garbage})
            captured["malformed key: ssmd key verify"] = broken
            proc = await asyncio.create_subprocess_exec(
                str(BIN / "ssmd"), "up", str(folder / "e2e-bench.yaml"), "--duration", "5",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "KALSHI_API_KEY": key_id, "KALSHI_API_SECRET": garbage,
                     "SSMD_DATA_DIR": str(folder / "broken-data")})
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            captured["malformed key: ssmd up stdout"], captured["malformed key: ssmd up stderr"] = out, err
        finally:
            sim.terminate()
            await sim.wait()
            captured["ssmd sim output"] = (folder / "sim.log").read_bytes()
    what = needles(key_id, private, wrong, garbage)
    hits = scan(captured, what)
    # the scanner itself finds a leak when there is one (JSON-escaped PEM, one body line, the id)
    works = len(scan({"a": msgspec.json.encode({"e": private}), "b": private.splitlines()[3].encode(),
                      "c": key_id.encode()}, what)) >= 3
    size = sum(len(b) for b in captured.values())
    refused_error = str(bad.get("last_error") or "")
    signed = good.get("counters", {}).get("orderbook_delta", 0)
    return [ChaosResult(
        "secrets: logs, errors, status, metrics scanned", f"{len(hits)} hits in {len(captured)} captures "
        f"({size / 1e6:.1f} MB)", "0 hits", works and not hits and signed > 0,
        (f"signed run received {signed:,} orderbook_delta frames "
         f"(auth required); refused key: connector {bad.get('state')}, {refused_error[:80]!r}; "
         f"malformed key: ssmd up exit {proc.returncode}, {_first_error(out + err)!r}; "
         + ("; ".join(hits)[:400] if hits else "needles: key id, 2 private keys + each PEM line, a malformed key"))
    )]


def _first_error(text: bytes) -> str:
    for line in text.decode(errors="replace").splitlines():
        if '"level":"error"' in line:
            return line[:160]
    return ""


def secrets(quick: bool) -> list[ChaosResult]:
    return asyncio.run(_secrets())


def scenarios(quick: bool) -> list[Scenario]:
    return [Scenario("secrets never leak", lambda: secrets(quick))]


if __name__ == "__main__":
    for row in secrets("--quick" in sys.argv):
        print(row)
