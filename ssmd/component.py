"""What a supervised component looks like to the process manager.

``run()`` does the work until it is stopped and returns; ``stop()`` asks it to finish
gracefully (stop accepting, drain, flush) and returns when that is done or the deadline
passes; cancellation of ``run()`` is the hard stop. ``status()`` never blocks.
"""

from __future__ import annotations

from typing import Protocol

from ssmd.status import ComponentStatus


class Component(Protocol):
    name: str

    async def run(self) -> None: ...
    async def stop(self) -> None: ...
    def status(self) -> ComponentStatus: ...
