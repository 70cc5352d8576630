"""Run every benchmark in bench/ and print one table.

    python bench/run.py [--quick] [NAME_SUBSTRING ...]
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Result


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    modules = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    results: list[Result] = []
    for name in modules:
        if wanted and not any(w in name for w in wanted):
            continue
        start = time.perf_counter()
        module = importlib.import_module(name)
        try:
            results.extend(module.run(quick=quick))
        except Exception as exc:  # one broken benchmark must not hide the others
            print(f"{name}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(f"# {name} took {time.perf_counter() - start:.1f} s", file=sys.stderr)
    headers = ("benchmark", "figure", "unit", "ceiling", "ceiling is", "ratio", "goal")
    rows = [
        (r.name, _fmt(r.value), r.unit, _fmt(r.ceiling), r.ceiling_name,
         "-" if r.ratio is None else f"{r.ratio:.0%}", r.goal)
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
