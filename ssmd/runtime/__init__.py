"""The process manager: a supervisor owning every task of ``ssmd up`` / ``ssmd run``.

``supervisor`` (restart with backoff, failed marking, staged shutdown), ``control`` (the
local HTTP JSON control/status API), ``discovery`` (the run file other commands read),
``status`` (assembling ``ssmd.status.SystemStatus``), ``build`` (what runs for ``up`` and
for each ``run COMPONENT``), ``summary`` (the terminal lines of ``ssmd up``).
May import: every ssmd package except the TUI.
"""
