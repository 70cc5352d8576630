"""The ``ssmd`` command line (cyclopts). Each command group is its own module, loaded
lazily so ``ssmd --help`` stays fast. Only this package and the TUI render errors:
one line ``ssmd: <message>`` on stderr and a non-zero exit, never a traceback.
"""
