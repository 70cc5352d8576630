"""The ``ssmd`` command line (cyclopts). Each command group is its own module, loaded
lazily so ``ssmd --help`` stays fast. Only this package and the TUI render errors:
one line ``ssmd: <message>`` on stderr and a non-zero exit, never a traceback.
May import: every ssmd package, and the TUI (``ssmd tui``, ``ssmd up --tui``); nothing in
ssmd or the TUI imports it back (import contracts in ``pyproject.toml``).
"""
