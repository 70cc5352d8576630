"""The Textual TUI of ssmd: live status of a running ``ssmd up``.

Built by ``tui.app.make_app(source)`` with an injected data source (``tui.source``), so
tests drive it with a fake and ``ssmd tui`` with the control API of a running process.
May import: textual, ssmd's read-side APIs (ssmd.status, ssmd.fixed, ssmd.errors,
ssmd.units); never the CLI or the pipeline's packages. ssmd's core never imports this package
(import contracts in ``pyproject.toml``).
"""
