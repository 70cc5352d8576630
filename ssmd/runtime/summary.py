"""The terminal lines of ``ssmd up`` (pure formatting of ``SystemStatus`` and the day)."""

from __future__ import annotations

import time

from ssmd.day.state import DayRecord, StepResult
from ssmd.runtime.status import NOT_MESSAGES
from ssmd.status import SystemStatus

OK, BAD = "✓", "✗"


def banner(env: str, pid: int, endpoints: dict[str, str], components: list[str]) -> list[str]:
    lines = [f"ssmd up {env}  (pid {pid}; Ctrl-C stops cleanly)"]
    labels = [("exchange", "simulator"), ("exchange", "exchange"), ("gateway", "gateway"),
              ("control", "control"), ("metrics", "metrics"), ("data", "data")]
    for label, key in labels:
        if key in endpoints:
            value = endpoints[key]
            if key == "simulator":
                value += "  (built-in simulator, no credentials)"
            if key == "control":
                value += f"  (ssmd day status {env} · ssmd tui {env})"
            if key == "data":
                value += "  (raw JSONL.zst + Parquet, by trading day)"
            lines.append(f"  {label:9} {value}")
    lines.append(f"  tasks     {', '.join(components)}")
    return lines


def step_line(phase: str, result: StepResult) -> str:
    mark = OK if result.ok else BAD
    text = result.detail if result.ok else (result.error or "failed")
    return f"  {mark} {result.name:16} {text}"


def day_line(record: DayRecord) -> str:
    state = str(record.state)
    mark = OK if state in ("ACTIVE", "COMPLETE") else BAD if state in ("FAILED", "ERROR") else "·"
    line = f"{mark} day {record.date} {record.state}"
    if record.error:
        line += f" at {record.step}: {record.error}"
    return line


def archived(counters: dict[str, int]) -> int:
    """Frames the archiver has taken (its ``raw`` consumer), else everything it counted."""
    return counters.get("raw", sum(counters.values()))


def rates_line(status: SystemStatus, *, now: float | None = None) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(now))
    comps = {c.name: c for c in status.components}
    parts = [stamp]
    conn = comps.get("connector")
    if conn is not None:
        by_type = {k: v for k, v in conn.rates.items() if "." not in k and k not in NOT_MESSAGES}
        total = sum(by_type.values())
        top = ", ".join(f"{k} {v:.0f}" for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])[:4] if v)
        received = sum(v for k, v in conn.counters.items() if k in by_type)
        parts.append(f"in {total:,.0f}/s" + (f" ({top})" if top else "") + f"  {received:,} received")
        if conn.lag_seconds is not None:
            parts.append(f"lag {conn.lag_seconds:.2f}s")
    arch = comps.get("archiver")
    if arch is not None:
        parts.append(f"{archived(arch.counters):,} archived")
    parts.append(f"clients {len(status.clients)}")
    parts.append(f"gaps {len(status.gaps)}")
    parts.append(f"day {status.day.state}")
    bad = [f"{c.name} {c.state}" for c in status.components if c.state in ("failed", "restarting")]
    if bad:
        parts.append("! " + ", ".join(bad))
    return "  ".join(parts)
