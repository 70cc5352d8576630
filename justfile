# ssmd task runner. `just check` is exactly what CI runs after installing.
set shell := ["bash", "-euo", "pipefail", "-c"]
export PATH := justfile_directory() + "/.venv/bin:" + env_var("PATH")

default:
    @just --list

# create .venv and install ssmd with its dev tools and test servers
setup:
    python3 -m venv .venv
    .venv/bin/pip install -e '.[dev]'

# run the whole pipeline (default: kalshi-local with the simulator)
up *ARGS:
    ssmd up {{ARGS}}

# run the tests (pass pytest arguments, e.g. `just test -m "not slow"`)
test *ARGS:
    pytest {{ARGS}}

# lint, type-check and test: exactly what CI runs
check:
    ruff check .
    mypy
    lint-imports
    NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir /tmp/ssmd-site  # no -q: it hides the warnings --strict counts
    pytest -q

# run every benchmark and print one table (figure, ceiling, ratio)
bench *ARGS:
    python bench/run.py {{ARGS}}

# the chaos suite: every scenario, its figure against its goal, one table (--quick, --write-docs, names)
chaos *ARGS:
    python bench/chaos.py {{ARGS}}

# the live status TUI, attached to a running `ssmd up`
tui *ARGS:
    ssmd tui {{ARGS}}

# the documentation site on http://127.0.0.1:8000, rebuilt on save
docs *ARGS:
    NO_MKDOCS_2_WARNING=1 mkdocs serve {{ARGS}}
