"""A port already in use is one clear error, not a raw OSError."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ssmd.errors import SsmdError
from ssmd.gateway import Gateway
from ssmd.middleware.factory import open_backends
from tests.gateway.conftest import make_env


async def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = make_env(tmp_path, port=port)
        backends = await open_backends(env)
        try:
            with pytest.raises(SsmdError, match=rf"gateway: cannot listen on 127\.0\.0\.1:{port}: "):
                await Gateway(env, backends).run()
        finally:
            await backends.close()
