"""Run the chaos scenarios of every ``bench/chaos_*.py`` and print one table.

    python bench/chaos.py [--quick] [--write-docs] [--timeout SECONDS] [NAME_SUBSTRING ...]

Each module defines ``scenarios(quick) -> list[Scenario]`` (``chaos_common``); a scenario
returns ``ChaosResult`` rows (what was measured, the goal, whether it held). ``--write-docs``
rewrites the table between the markers of ``docs/operations/chaos.md``. Each scenario runs
in a child process (``--run-one MODULE:INDEX`` prints its rows as JSON), killed after
``--timeout`` seconds (default 900). The exit code is 1 when a goal did not hold or a
scenario failed to run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from chaos_common import ChaosResult, Scenario  # noqa: E402

DOC = HERE.parent / "docs" / "operations" / "chaos.md"
BEGIN, END = "<!-- chaos:table:begin -->", "<!-- chaos:table:end -->"


def discover(quick: bool) -> list[tuple[str, Scenario]]:
    """(module, scenario) for every ``chaos_*.py`` module beside this file."""
    found: list[tuple[str, Scenario]] = []
    for path in sorted(HERE.glob("chaos_*.py")):
        if path.stem == "chaos_common":
            continue
        try:
            module = importlib.import_module(path.stem)
            found += [(path.stem, s) for s in module.scenarios(quick)]
        except Exception as exc:  # one broken module must not hide the others
            print(f"{path.stem}: cannot load: {type(exc).__name__}: {exc}", file=sys.stderr)
            found.append((path.stem, Scenario(f"{path.stem} (not loaded)", _failed_run(path.stem, exc))))
    return found


def _failed_run(name: str, exc: BaseException) -> Callable[[], list[ChaosResult]]:
    def run() -> list[ChaosResult]:
        return [ChaosResult(name, f"did not run: {type(exc).__name__}: {exc}", "runs", False)]

    return run


def run_one(module: str, index: int, quick: bool) -> list[ChaosResult]:
    """Run one scenario here (the child side of ``run_all``)."""
    found = [s for m, s in discover(quick) if m == module]
    scenario = found[index]
    try:
        return scenario.run()
    except Exception as exc:  # reported as a row that did not hold, with why
        traceback.print_exc()
        return [ChaosResult(scenario.name, f"failed: {type(exc).__name__}: {str(exc)[:300]}", "runs", False)]


def _in_child(module: str, index: int, name: str, quick: bool, timeout: float) -> list[ChaosResult]:
    """One scenario in a process of its own: a crash, a hang or leftover state of one cannot
    touch the next; after ``timeout`` seconds it is killed and reported as not held."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--run-one", f"{module}:{index}", *(["--quick"] * quick)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)  # its group: ssmd, servers
    try:
        out, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return [ChaosResult(name, f"timed out after {timeout:.0f} s", "runs", False)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # anything the scenario left running
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        return [ChaosResult(**row) for row in json.loads(lines[-1])]
    except (IndexError, ValueError, TypeError):
        return [ChaosResult(name, f"exited {child.returncode} without a result", "runs", False)]


def run_all(wanted: list[str], quick: bool, timeout: float) -> list[tuple[ChaosResult, float]]:
    rows: list[tuple[ChaosResult, float]] = []
    index: dict[str, int] = {}
    for module, scenario in discover(quick):
        i = index[module] = index.get(module, -1) + 1
        if wanted and not any(w in scenario.name or w in module for w in wanted):
            continue
        start = time.perf_counter()
        results = _in_child(module, i, scenario.name, quick, timeout)
        took = time.perf_counter() - start
        print(f"# {scenario.name} took {took:.1f} s", file=sys.stderr)
        rows += [(r, took) for r in results]
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[tuple[ChaosResult, float]]) -> str:
    lines = ["| scenario | figure | goal | held | details |", "|---|---|---|---|---|"]
    for r, _ in rows:
        lines.append(f"| {_cell(r.scenario)} | {_cell(r.figure)} | {_cell(r.goal)} | "
                     f"{'yes' if r.held else '**NO**'} | {_cell(r.detail)} |")
    return "\n".join(lines)


def machine(quick: bool, seconds: float) -> str:
    cores = os.cpu_count()
    return (f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python bench/chaos.py{' --quick' if quick else ''}`, "
            f"{seconds:.0f} s: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()} (shared with other work; figures vary with load).")


def write_docs(rows: list[tuple[ChaosResult, float]], quick: bool, seconds: float) -> None:
    text = DOC.read_text()
    block = f"{BEGIN}\n{machine(quick, seconds)}\n\n{table(rows)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def print_table(rows: list[tuple[ChaosResult, float]]) -> None:
    headers = ("scenario", "figure", "goal", "held")
    cells = [(r.scenario, r.figure, r.goal, "yes" if r.held else "NO") for r, _ in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    if "--help" in argv or "-h" in argv:
        print(__doc__)
        return 0
    if "--run-one" in argv:
        # the components' own warnings (a gap opened, reconnecting) are what a scenario
        # provokes: kept out of the progress lines
        logging.getLogger().addHandler(logging.NullHandler())
        module, index = argv[argv.index("--run-one") + 1].split(":")
        results = run_one(module, int(index), quick)
        print("\n" + json.dumps([dataclasses.asdict(r) for r in results]))
        return 0
    timeout = float(argv[argv.index("--timeout") + 1]) if "--timeout" in argv else 900.0
    wanted = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] != "--timeout")]
    start = time.perf_counter()
    rows = run_all(wanted, quick, timeout)
    print_table(rows)
    if "--write-docs" in argv:
        write_docs(rows, quick, time.perf_counter() - start)
    return 0 if rows and all(r.held for r, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
