"""Where the microseconds go per message: py-spy samples of one ``ssmd up`` burst, by stage.

``python bench/bench_e2e.py --profile OUT.txt [N [WORKERS]]`` records raw collapsed stacks
(one line per distinct stack, ``process P:"cmd";frame;frame;... COUNT``) at ``RATE`` Hz;
``split(OUT.txt, N)`` charges each sample to the first stage whose pattern is in its stack
(most specific first) and gives CPU µs per message for each process and stage.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

RATE = 500
"""py-spy samples per second (``--rate`` in bench_e2e)."""

STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("logging", ("ssmd/log.py", "logging/__init__")),
    ("metrics", ("prometheus_client",)),
    ("archiver: Parquet encode and write", ("archive/parquet.py", "pyarrow/parquet")),
    ("archiver: column buffering", ("archive/columns.py",)),
    ("archiver: raw lines, zstd, append", ("archive/raw.py", "archiver/sinks.py", "storage/fsspec_store.py")),
    ("archiver: record decode", ("codec/", "archiver/service.py:_take")),
    ("archiver: dedup, acks, other", ("archiver/",)),
    ("workers bridge (pipe frames)", ("workers/",)),
    ("gateway: live state and fan-out", ("gateway/",)),
    ("connector: normalize", ("kalshi/normalize.py",)),
    ("connector: wire decode", ("kalshi/wire.py", "kalshi/classify.py")),
    ("bus: publish and deliver", ("middleware/transport/",)),
    ("connector: read and split frames", ("connector/dial.py", "connector/splitter.py", "selector_events.py")),
    ("connector: seq, headers, ids", ("connector/",)),
    ("secmaster, healer, supervisor", ("secmaster/", "healer/", "runtime/")),
]


def _stage(stack: str) -> str:
    for name, patterns in STAGES:
        if any(p in stack for p in patterns):
            return name
    return "event loop and other"


def split(path: Path, n: int) -> dict[str, dict[str, float]]:
    """{process: {stage: CPU µs per message}} (idle samples are not recorded by py-spy)."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        process = "archiver process" if any("workers.child" in f for f in frames[:2]) else "ssmd up"
        out[process][_stage(stack)] += int(count) / RATE / n * 1e6
    return {p: dict(sorted(s.items(), key=lambda kv: -kv[1])) for p, s in out.items()}


def table(path: Path, n: int) -> str:
    rows = ["| process | stage | CPU µs per message |", "|---|---|---|"]
    for process, stages in split(path, n).items():
        rows += [f"| {process} | {stage} | {us:.2f} |" for stage, us in stages.items()]
        rows.append(f"| {process} | **total** | **{sum(stages.values()):.2f}** |")
    return "\n".join(rows)
