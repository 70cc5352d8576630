"""Entry point of the ``ssmd`` command."""

from __future__ import annotations

import sys

from cyclopts import App

from ssmd import __version__
from ssmd.errors import ConfigError, SsmdError, missing_extra

app = App(
    name="ssmd",
    help="Capture, stream and archive Kalshi market data.",
    version=__version__,
)
app.command("ssmd.cli.up:up", name="up", help="Run the whole pipeline in one process (default: kalshi-local).")
app.command("ssmd.cli.up:run", name="run",
            help="Run one component per process (connector, archiver, gateway, secmaster, healer).")
app.command("ssmd.cli.env:app", name="env", help="Create, validate, apply, list, show and tear down environments.")
app.command("ssmd.cli.secmaster:app", name="secmaster", help="Market metadata: sync, list, show, search, export.")
app.command("ssmd.cli.day:app", name="day", help="Trading-day lifecycle: start, end, roll, status, history, recover.")
app.command("ssmd.cli.data:app", name="data", help="Archived data: replay, export, inventory, gaps, quality.")
app.command("ssmd.cli.data:sql", name="sql", help="Run SQL over the catalog views (trades, tickers, orderbook, ...).")
app.command("ssmd.cli.sim:sim", name="sim", help="Serve the built-in Kalshi simulator on 127.0.0.1.")
app.command("ssmd.cli.tui:tui", name="tui", help="Live status TUI attached to a running ssmd up.")
app.command("ssmd.cli.key:app", name="key", help="Keys: list, show, verify, set (SealedSecret).")
app.command("ssmd.cli.worker:worker", name="worker", help="Run the Temporal worker for trading-day workflows.")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 1 (2 for config).
    A missing optional dependency is one of them: the line names the extra to install."""
    try:
        result = app(argv, exit_on_error=True, result_action="return_value")
    except ConfigError as exc:
        print(f"ssmd: {exc}", file=sys.stderr)
        return 2
    except SsmdError as exc:
        print(f"ssmd: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        missing = missing_extra(exc)
        if missing is None:
            raise
        print(f"ssmd: {missing}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ssmd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
