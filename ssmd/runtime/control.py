"""The local control/status API of a running ``ssmd up`` (HTTP JSON, 127.0.0.1 only).

=======  =============================  ==============================================
method   path                           answer
=======  =============================  ==============================================
GET      /status                        ``ssmd.status.SystemStatus``
GET      /healthz                       ``{"ok": true}`` while the process serves
GET      /readyz                        200 when every component runs, else 503
GET      /day                           the current day (``DayRecord``) or null
GET      /day/history?limit=N           days, newest first
GET      /day/{date}                    one day
POST     /day/start  ``{"date"?}``      runs the start steps; the resulting day
POST     /day/end    ``{"force"?}``     runs the end steps; the resulting day
POST     /day/roll                      end the running day, start the current one
POST     /day/recover                   resume an ERROR day / re-run a FAILED phase
POST     /clients/{id}/disconnect       close one gateway client
GET      /archive/inventory             archived days (from the catalog)
GET      /archive/{date}/manifest       a day's manifest
GET      /metrics                       Prometheus text (same as the metrics port)
=======  =============================  ==============================================

Errors are ``{"error": "<one line>"}`` with 400 (bad request), 404 (unknown), 409 (not
allowed in the current state) or 500.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Protocol

import msgspec
from aiohttp import web

from ssmd.day.state import DayRecord
from ssmd.errors import NotFoundError, SsmdError
from ssmd.log import get_logger
from ssmd.status import ComponentStatus, SystemStatus

log = get_logger("control")
_encoder = msgspec.json.Encoder(decimal_format="number")


class ControlTarget(Protocol):
    """What the control API acts on (``ssmd.runtime.app.Runtime``)."""

    def system_status(self) -> SystemStatus: ...
    async def day_current(self) -> DayRecord | None: ...
    async def day_history(self, limit: int | None) -> list[DayRecord]: ...
    async def day_show(self, date: str) -> DayRecord: ...
    async def day_start(self, date: str | None) -> DayRecord: ...
    async def day_end(self, force: bool) -> DayRecord: ...
    async def day_roll(self) -> DayRecord: ...
    async def day_recover(self) -> DayRecord: ...
    def disconnect_client(self, client_id: str) -> None: ...
    async def archive_inventory(self) -> list[dict[str, Any]]: ...
    async def archive_manifest(self, date: str) -> dict[str, Any]: ...


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encoder.encode(value), status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except NotFoundError as exc:
        return _error(404, str(exc))
    except SsmdError as exc:
        return _error(409, str(exc))
    except (ValueError, msgspec.DecodeError) as exc:
        return _error(400, f"bad request: {exc}")
    except Exception as exc:
        log.error("control request failed", path=request.path, exc=True)
        return _error(500, f"{type(exc).__name__}: {exc}")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    value = msgspec.json.decode(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def make_app(target: ControlTarget) -> web.Application:
    routes = web.RouteTableDef()

    @routes.get("/status")
    async def status(_: web.Request) -> web.Response:
        return _json(target.system_status())

    @routes.get("/healthz")
    async def healthz(_: web.Request) -> web.Response:
        return _json({"ok": True})

    @routes.get("/readyz")
    async def readyz(_: web.Request) -> web.Response:
        comps = target.system_status().components
        waiting = [c.name for c in comps if c.state not in ("running", "stopped")]
        return _json({"ready": not waiting, "waiting": waiting}, 200 if not waiting else 503)

    @routes.get("/day")
    async def day(_: web.Request) -> web.Response:
        return _json(await target.day_current())

    @routes.get("/day/history")
    async def history(request: web.Request) -> web.Response:
        limit = request.query.get("limit")
        return _json(await target.day_history(int(limit) if limit else None))

    @routes.get("/day/{date}")
    async def show(request: web.Request) -> web.Response:
        return _json(await target.day_show(request.match_info["date"]))

    @routes.post("/day/start")
    async def start(request: web.Request) -> web.Response:
        body = await _body(request)
        date = body.get("date")
        return _json(await target.day_start(str(date) if date else None))

    @routes.post("/day/end")
    async def end(request: web.Request) -> web.Response:
        body = await _body(request)
        return _json(await target.day_end(bool(body.get("force", False))))

    @routes.post("/day/roll")
    async def roll(_: web.Request) -> web.Response:
        return _json(await target.day_roll())

    @routes.post("/day/recover")
    async def recover(_: web.Request) -> web.Response:
        return _json(await target.day_recover())

    @routes.post("/clients/{client_id}/disconnect")
    async def disconnect(request: web.Request) -> web.Response:
        client_id = request.match_info["client_id"]
        target.disconnect_client(client_id)
        return _json({"disconnected": client_id})

    @routes.get("/archive/inventory")
    async def inventory(_: web.Request) -> web.Response:
        return _json(await target.archive_inventory())

    @routes.get("/archive/{date}/manifest")
    async def manifest(request: web.Request) -> web.Response:
        return _json(await target.archive_manifest(request.match_info["date"]))

    @routes.get("/metrics")
    async def metrics(_: web.Request) -> web.Response:
        from ssmd.metrics import render

        return web.Response(body=render(), content_type="text/plain", charset="utf-8")

    app = web.Application(middlewares=[_errors])
    app.add_routes(routes)
    return app


class ControlServer:
    """The control API as a supervised component. ``bind()`` first to learn the port."""

    name = "control"

    def __init__(self, target: ControlTarget, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target
        self.host = host
        self.port = port
        self._sock: socket.socket | None = None
        self._stopped = asyncio.Event()
        self._state = "stopped"
        self.requests = 0

    def bind(self) -> str:
        """Bind the listening socket (port 0 picks a free one); returns the base URL."""
        if self._sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError as exc:
                sock.close()
                reason = exc.strerror or exc
                raise SsmdError(f"control API: cannot listen on {self.host}:{self.port}: {reason}") from None
            sock.listen(128)
            sock.setblocking(False)
            self._sock = sock
            self.port = sock.getsockname()[1]
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def run(self) -> None:
        self.bind()
        assert self._sock is not None
        self._stopped.clear()
        runner = web.AppRunner(make_app(self.target), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.SockSite(runner, self._sock).start()
            self._state = "running"
            log.info("control API listening", url=self.url)
            await self._stopped.wait()
        finally:
            self._state = "stopped"
            await runner.cleanup()
            self._sock = None

    async def stop(self) -> None:
        self._stopped.set()

    def status(self) -> ComponentStatus:
        return ComponentStatus(name=self.name, state=self._state, details={"url": self.url})  # type: ignore[arg-type]
