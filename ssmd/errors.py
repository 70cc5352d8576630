"""The one exception tree of ssmd.

Foreign errors (msgspec, botocore, nats, redis, websockets, OSError, ...) are translated
into these at the boundary where they happen. Only the CLI and the TUI render them, as one
line: ``ssmd: <message>``.
"""

from __future__ import annotations


class SsmdError(Exception):
    """Base class of every error ssmd raises on purpose."""


class ConfigError(SsmdError):
    """A configuration file is invalid. Names the file, the field path and the reason."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {reason}")


class NotFoundError(SsmdError):
    """A named thing (environment, market, day, object) does not exist."""


class AuthError(SsmdError):
    """Credentials are missing, malformed or refused. Fatal: never retried."""


class BackendError(SsmdError):
    """A backend (transport, storage, cache, journal) failed.

    ``retryable`` says whether trying again may help (a dropped connection) or not
    (a permission error).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class TransportError(BackendError):
    """Publishing to or consuming from the bus failed."""


class StorageError(BackendError):
    """Reading or writing an object failed."""


class CacheError(BackendError):
    """The key/value cache failed or is unreachable."""


class JournalError(BackendError):
    """Appending to or reading the journal failed."""


class DataError(SsmdError):
    """Archived or received data is malformed. Names the file or message and the reason."""


class ProtocolError(SsmdError):
    """A peer sent something the protocol does not allow."""


class MissingExtraError(SsmdError):
    """An optional dependency of the chosen backend or command is not installed; the
    message names the ``pip install`` that adds it."""


OPTIONAL_MODULES: dict[str, tuple[str, str]] = {
    "nats": ("the NATS transport and JetStream journal need nats-py", "nats"),
    "redis": ("the Redis cache needs redis", "redis"),
    "s3fs": ("S3 storage needs s3fs", "s3"),
    "temporalio": ("the Temporal orchestrator needs temporalio", "temporal"),
    "textual": ("the TUI needs textual", "tui"),
}
"""Top-level module of an optional dependency -> (what needs it, the ``ssmd[extra]`` that
installs it). They are imported only where the backend or command that needs them is
chosen, so ``pip install ssmd`` alone runs the embedded default."""


def missing_extra(exc: ImportError) -> MissingExtraError | None:
    """The ``MissingExtraError`` for a failed import of an optional dependency, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    known = OPTIONAL_MODULES.get(exc.name.partition(".")[0])
    if known is None:
        return None
    what, extra = known
    return MissingExtraError(f"{what}: pip install 'ssmd[{extra}]'")


def is_retryable(exc: BaseException) -> bool:
    """Whether a retry loop should try again after ``exc``.

    Configuration and auth errors are fatal; backend errors say for themselves;
    plain connection/timeouts from the OS are transient.
    """
    if isinstance(exc, ConfigError | AuthError | NotFoundError | DataError):
        return False
    if isinstance(exc, BackendError):
        return exc.retryable
    return isinstance(exc, ConnectionError | TimeoutError | OSError)
