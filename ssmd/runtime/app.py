"""What runs in one process: ``ssmd up`` (everything) or ``ssmd run COMPONENT`` (one).

``Runtime`` wires the components into a ``Supervisor``, the trading day (``DayManager``
with the supervisor as its host, and a ``DayScheduler``), the control API, the metrics
endpoint, a reporter (day stats into the cache, the run file kept current) and, when the
environment enables it, the built-in simulator (the feed then points at it).

Shutdown stages (lowest first): scheduler → secmaster → gateway (stop accepting, drain
clients) → connector → simulator → archiver (flush, manifests) → reporter → metrics →
control API.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from ssmd.clock import Clock, SystemClock
from ssmd.component import Component
from ssmd.config.model import Endpoints, Environment
from ssmd.day.lifecycle import DayManager
from ssmd.day.scheduler import DayScheduler
from ssmd.day.state import RUNNING, DayRecord
from ssmd.day.steps import DAY_COMPONENTS
from ssmd.errors import NotFoundError, SsmdError
from ssmd.log import get_logger
from ssmd.runtime import discovery
from ssmd.runtime.components import COMPONENTS, STAGES, Factory, archiver_caught_up, default_factory
from ssmd.runtime.control import ControlServer
from ssmd.runtime.status import RateMeter, build_status, day_stats
from ssmd.runtime.supervisor import RestartPolicy, Supervisor
from ssmd.runtime.tasks import MetricsEndpoint, Periodic
from ssmd.status import ClientInfo, SystemStatus

if TYPE_CHECKING:
    from ssmd.middleware.factory import Backends

log = get_logger("runtime")
class Runtime:
    def __init__(
        self,
        env: Environment,
        backends: Backends,
        *,
        components: Sequence[str] = COMPONENTS,
        mode: str = "up",
        clock: Clock | None = None,
        factories: dict[str, Factory] | None = None,
        scheduler: bool = True,
        control: bool = True,
        metrics: bool = True,
        simulator: bool = True,
        policy: RestartPolicy | None = None,
        health_timeout: float = 30.0,
        report_interval: float = 1.0,
        follow_interval: float = 2.0,
        workers: int = 1,
    ) -> None:
        for name in components:
            if name not in COMPONENTS and name not in (factories or {}):
                raise SsmdError(f"unknown component {name!r} (choose from {', '.join(COMPONENTS)})")
        self.env = env
        self.backends = backends
        self.mode = mode
        self.names = [n for n in components if n != "healer" or env.healer.enabled or mode != "up"]
        self.clock = clock or SystemClock()
        self.factories = factories or {}
        self.workers = workers
        """Processes: 1 runs every component here; 2 runs the archiver in a process of its own."""
        self.follow_interval = follow_interval
        """Seconds between reads of the secmaster change journal by a standalone connector."""
        self.want_scheduler = scheduler
        self.want_simulator = simulator
        self.supervisor = Supervisor(clock=self.clock, policy=policy, on_failed=self._component_failed)
        self.manager = DayManager(env, backends, host=self.supervisor, clock=self.clock, health_timeout=health_timeout)
        self.scheduler: DayScheduler | None = None
        self.control = ControlServer(self, env.control.host, env.control.port) if control else None
        self.metrics = MetricsEndpoint(env.metrics.host, env.metrics.port) if metrics and env.metrics.port else None
        self.simulator: Any = None
        self.cached_markets: list[str] = []
        """Markets a connector without a secmaster in its process follows (from the cache)."""
        self.meter = RateMeter()
        self.report_interval = report_interval
        self._written: discovery.RunInfo | None = None
        self.started_at = self.clock.now_ns()
        self.supervisor.before_stage = self._before_stage

    async def _before_stage(self, stage: int) -> None:
        if stage == STAGES["archiver"]:
            await archiver_caught_up(self.supervisor)

    # ---- assembly ---------------------------------------------------------------------
    async def prepare(self) -> None:
        """Start the simulator (if enabled), bind the control and metrics ports, register
        every task, and write the run file."""
        if self.control is not None:
            self.control.bind()
        if self.metrics is not None:
            self.metrics.bind()
        env = self.env
        if (self.want_simulator and env.simulator.enabled and env.endpoints.ws is None
                and {"connector", "secmaster"} & set(self.names)):
            from ssmd.simulator import SimSettings, Simulator

            sim = Simulator(SimSettings.from_env(env))
            await sim.start()
            sim.settings.port = sim.port  # a restart keeps the same URL
            self.simulator = sim
            self.env = msgspec.structs.replace(env, endpoints=Endpoints(ws=sim.ws_url, rest=sim.rest_url))
            self.manager.env = self.env
            self.supervisor.add("simulator", lambda: sim, stage=STAGES["simulator"])
        if "connector" in self.names and "secmaster" not in self.names and "connector" not in self.factories:
            await self._load_cached_markets()
            await self._follow_secmaster()
        for name in self.names:
            factory = self._factory(name)
            autostart = not (self.mode == "up" and name == "connector")
            self.supervisor.add(name, factory, stage=STAGES.get(name, 50), critical=name in DAY_COMPONENTS,
                                autostart=autostart)
        if self.want_scheduler:
            scheduler = DayScheduler(self.manager, self.env.schedule, clock=self.clock)
            self.scheduler = scheduler
            self.supervisor.add("scheduler", lambda: scheduler, stage=STAGES["scheduler"])
        reporter = Periodic("reporter", self.report, self.report_interval)
        self.supervisor.add("reporter", lambda: reporter, stage=STAGES["reporter"])
        if self.metrics is not None:
            metrics = self.metrics
            self.supervisor.add("metrics", lambda: metrics, stage=STAGES["metrics"])
        if self.control is not None:
            control = self.control
            self.supervisor.add("control", lambda: control, stage=STAGES["control"])
        await self.manager.store.current()
        if self.mode == "up" and self.control is not None and "archiver" in self.names \
                and env.transport.type == "memory":  # nothing of a crashed run survives but its files
            from ssmd.runtime.crash import rebuild_after_crash

            await rebuild_after_crash(env, self.backends, self.clock.now_ns())
        self.write_run_file()

    async def _load_cached_markets(self) -> None:
        from ssmd.secmaster.service import SecmasterService

        service = SecmasterService(self.env, self.backends, clock=self.clock)
        try:
            await service.load()
            self.cached_markets = service.selected_markets()
        finally:
            await service.close()
        log.info("markets from the secmaster cache", markets=len(self.cached_markets))
        if not self.cached_markets:
            log.warning("no markets in the secmaster cache: only market-wide channels are subscribed; "
                        "run `ssmd secmaster sync` or `ssmd run secmaster` first")

    async def _follow_secmaster(self) -> None:
        """A connector without a secmaster in this process follows the secmaster's change
        journal (``{env}.secmaster.changes``): markets opening are subscribed, ended ones
        unsubscribed, as the secmaster of another process records them."""
        from ssmd.secmaster.journal import ChangeFollower

        follower = ChangeFollower(self.env, self.backends, self.forward_markets)
        await follower.start()

        async def poll() -> None:
            read = await follower.poll()
            if read:
                log.info("secmaster changes applied", changes=read, seq=follower.seq)

        task = Periodic("markets", poll, self.follow_interval)
        self.supervisor.add("markets", lambda: task, stage=STAGES["secmaster"])

    def _factory(self, name: str) -> Callable[[], Component]:
        if name in self.factories:
            make = self.factories[name]
            return lambda: make(self.env, self.backends, self.clock)
        return default_factory(self, name)

    async def forward_markets(self, add: list[str], remove: list[str]) -> None:
        """The secmaster's hook: tell the running connector about markets opening/ending."""
        connector = self.supervisor.component("connector")
        if connector is None:
            return
        if add:
            await connector.add_markets(add)
        if remove:
            await connector.remove_markets(remove)

    async def _component_failed(self, name: str, error: str) -> None:
        await self.manager.mark_error(name, f"{name} failed: {error}")

    # ---- running ----------------------------------------------------------------------
    async def run(self, stop: Any) -> None:
        """Run until the awaitable ``stop`` completes, then shut down in stages."""
        async def watch() -> None:
            await stop
            await self.supervisor.shutdown(self.shutdown_deadline)

        try:
            await self.supervisor.run(after_start=watch)
            await self.write_manifest()
        finally:
            discovery.remove(self.env, self._run_component)
            if self.simulator is not None:
                await self.simulator.stop()

    async def write_manifest(self) -> None:
        """After the archiver has flushed: verify the running day's archive so its
        manifest lists every file and count (the day itself stays ACTIVE)."""
        day = self.manager.store.latest
        if "archiver" not in self.names or day is None or day.state not in RUNNING:
            return
        from ssmd.archiver import verify_day

        try:
            report = await verify_day(self.env, self.backends, day.date)
        except Exception as exc:
            log.error("could not write the day's manifest", date=day.date, error=f"{type(exc).__name__}: {exc}")
            return
        log.info("manifest written", date=day.date, status=report.status, raw_records=report.raw_records,
                 records=sum(report.normalized.values()), gaps=report.gaps, completeness=report.completeness)
        from ssmd.catalog.coverage import certify

        try:
            coverage = await certify(self.env, self.backends, day.date)
        except Exception as exc:
            log.error("could not write the day's coverage", date=day.date, error=f"{type(exc).__name__}: {exc}")
            return
        log.info("coverage written", date=day.date, **coverage.counts())

    shutdown_deadline = 60.0

    @property
    def _run_component(self) -> str | None:
        return None if self.mode == "up" else "-".join(self.names)

    async def report(self) -> None:
        """Every second: save the running day's counts and keep the run file current."""
        day = await self.manager.current()
        if day is not None and day.state in RUNNING and "connector" in self.names:
            stats = day_stats(self.supervisor.statuses())
            if stats:
                await self.manager.store.save_stats(day.date, stats)
        self.write_run_file()

    def endpoints(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.control is not None:
            out["control"] = self.control.url
        gateway = self.supervisor.component("gateway")
        url = getattr(gateway, "url", None) if gateway is not None else None
        if url:
            out["gateway"] = url
            out["gateway_http"] = url.replace("ws://", "http://").removesuffix("/v1/stream")
        if self.metrics is not None:
            out["metrics"] = self.metrics.url
        storage = self.env.storage
        if storage.type == "local" and storage.path:
            out["data"] = os.path.abspath(storage.path)
        elif storage.type == "s3":
            out["data"] = f"s3://{storage.buckets.raw}, s3://{storage.buckets.normalized}"
        if self.simulator is not None:
            out["simulator"] = self.simulator.ws_url
        elif self.env.endpoints.ws:
            out["exchange"] = self.env.endpoints.ws
        return out

    def write_run_file(self) -> None:
        if self.control is None:
            return
        info = discovery.RunInfo(env=self.env.name, pid=os.getpid(), control_url=self.control.url,
                                 started_at=self.started_at, components=self.supervisor.names(),
                                 endpoints=self.endpoints())
        if info != self._written:
            discovery.write(self.env, info, self._run_component)
            self._written = info

    # ---- ControlTarget ----------------------------------------------------------------
    def system_status(self) -> SystemStatus:
        return build_status(self.env.name, components=self.supervisor.statuses(), day=self.manager.store.latest,
                            clock=self.clock, meter=self.meter, clients=self._clients(),
                            endpoints=self.endpoints(), schedule=self.env.schedule)

    def _clients(self) -> list[ClientInfo]:
        gateway = self.supervisor.component("gateway")
        return list(gateway.clients()) if gateway is not None and hasattr(gateway, "clients") else []

    async def day_current(self) -> DayRecord | None:
        return await self._with_stats(await self.manager.current())

    async def day_history(self, limit: int | None) -> list[DayRecord]:
        return await self.manager.store.history(limit)

    async def day_show(self, date: str) -> DayRecord:
        record = await self.manager.store.record(date)
        if record.since is None:
            raise NotFoundError(f"no trading day {date} in {self.env.name}")
        return await self._with_stats(record) or record

    async def _with_stats(self, record: DayRecord | None) -> DayRecord | None:
        if record is None or record.state not in RUNNING:
            return record
        live = await self.manager.store.load_stats(record.date)
        return msgspec.structs.replace(record, stats={**record.stats, **live}) if live else record

    async def day_start(self, date: str | None) -> DayRecord:
        return await self.manager.start(date)

    async def day_end(self, force: bool) -> DayRecord:
        return await self.manager.end(force=force)

    async def day_roll(self) -> DayRecord:
        return await self.manager.roll()

    async def day_recover(self) -> DayRecord:
        return await self.manager.recover()

    def disconnect_client(self, client_id: str) -> None:
        gateway = self.supervisor.component("gateway")
        if gateway is None:
            raise SsmdError("no gateway runs in this process")
        gateway.disconnect(client_id)

    async def archive_inventory(self) -> list[dict[str, Any]]:
        from ssmd.catalog import open_catalog_async
        from ssmd.catalog.reports import inventory

        catalog = await open_catalog_async(self.env, backends=self.backends)
        try:
            return inventory(catalog)
        finally:
            catalog.close()

    async def archive_manifest(self, date: str) -> dict[str, Any]:
        from ssmd.archive.layout import Layout, manifest_path
        from ssmd.middleware.storage.base import ObjectNotFoundError

        try:
            data = await self.backends.storage.get(manifest_path(Layout.of(self.env), date))
        except ObjectNotFoundError:
            raise NotFoundError(f"no manifest for {date} in {self.env.name}") from None
        value = msgspec.json.decode(data)
        return value if isinstance(value, dict) else {"manifest": value}
