"""Golden normalized output of fixtures/kalshi/frames.jsonl.

``python -m tests.kalshi.golden`` rewrites fixtures/kalshi/golden.jsonl from the current
normalizer; the tests compare against the file exactly, so review the diff before keeping it.
One output line per input line: the records (with their ``type``) or the problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from ssmd.kalshi.normalize import Problem, normalize
from ssmd.kalshi.wire import decode

ROOT = Path(__file__).resolve().parents[2]
FRAMES = ROOT / "fixtures" / "kalshi" / "frames.jsonl"
GOLDEN = ROOT / "fixtures" / "kalshi" / "golden.jsonl"


def golden_line(n: int, line: dict[str, Any]) -> str:
    result = normalize(decode(line["frame"]), line["received_at"])
    out: dict[str, Any] = {"line": n, "type": line["type"]}
    if isinstance(result, Problem):
        out["problem"] = msgspec.to_builtins(result)
    else:
        out["records"] = [{"record": r.TYPE, "class": type(r).__name__, **msgspec.to_builtins(r)} for r in result]
    return json.dumps(out, sort_keys=False, separators=(",", ":"))


def golden_lines() -> list[str]:
    lines = FRAMES.read_text(encoding="utf-8").splitlines()
    return [golden_line(n, json.loads(text)) for n, text in enumerate(lines, 1) if text.strip()]


if __name__ == "__main__":
    GOLDEN.write_text("\n".join(golden_lines()) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN}")
