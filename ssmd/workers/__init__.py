"""The second core: ``ssmd up --workers 2`` runs the archiver in a process of its own.

The parent (``ArchiverProcess``, the archiver as the supervisor sees it) reads everything
the archiver needs from the memory bus with one durable consumer and streams it over a
Unix socket pair to the child (``python -m ssmd.workers.child``), which runs the ordinary
``Archiver`` on a ``PipeTransport``. The child tells the parent which messages are durably
written; only then does the parent ack them on its bus, so a child that dies loses
nothing: its unacked messages are delivered again to the next child, whose archiver
recognises what it already wrote. One command, one supervisor, one Ctrl-C: the child
ignores SIGINT and stops when the parent says so (or when the parent is gone).

May import: ssmd core modules, the middleware interfaces, ssmd.archiver; never the
connector, gateway, CLI or TUI.
"""

from ssmd.workers.parent import ArchiverProcess

__all__ = ["ArchiverProcess"]
