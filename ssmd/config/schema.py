"""Schema registry files (``exchanges/schemas/*.yaml``): versions, status, file hashes."""

from __future__ import annotations

from typing import Literal

import msgspec


class SchemaVersion(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    version: str
    status: Literal["draft", "active", "deprecated"]
    file: str
    """The Cap'n Proto file, relative to the registry file."""
    sha256: str
    """Hex sha256 of ``file``; a mismatch means the schema changed without a new version."""
    effective_from: str | None = None


class SchemaRegistry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    versions: list[SchemaVersion]

    def get(self, version: str) -> SchemaVersion | None:
        return next((v for v in self.versions if v.version == version), None)
