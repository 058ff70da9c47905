"""A real ``redis-server`` on loopback for the tests of the Redis backend.

Import the fixture into a test module (``from tests.redis_server import redis_url_fixture``; its
name is ``redis_url``) and mark the tests that use it ``@pytest.mark.redis``. One server runs per
test session, without persistence, on a free port in a temporary directory; tests keep apart by
namespace. Without a ``redis-server`` binary on PATH the tests that need it are skipped, saying so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from crawler.storage.redis import RedisStorage

START_TIMEOUT_S = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process: :meth:`start` waits until it answers PING."""

    def __init__(self, binary: str, workdir: Path, extra: Sequence[str] = ()) -> None:
        self.binary = binary
        self.workdir = workdir
        self.extra = list(extra)  # more server arguments (tests/redis_cluster.py)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # A port found free may be taken before the server binds it: try a few.
        for _ in range(5):
            self.port = _free_port()
            log = self.workdir / f"redis-{self.port}.log"
            args = [self.binary, "--save", "", "--appendonly", "no", "--port", str(self.port)]
            args += ["--bind", "127.0.0.1", "--dir", str(self.workdir), "--logfile", str(log)]
            args += self.extra
            self.proc = subprocess.Popen(args, cwd=self.workdir, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _answers_ping(self.port):
                    return
                time.sleep(0.01)
            self.stop()
        raise RuntimeError(f"redis-server did not start; see the logs in {self.workdir}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session", name="redis_url")
def redis_url_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a server started for this test session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not on PATH (apt install redis-server)")
    server = RedisServer(binary, tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


class Clock:
    """A settable clock for stores and crawlers (epoch seconds)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def open_pair(
    url: str, namespace: str, clock: Callable[[], float], lease_timeout_s: float
) -> AsyncIterator[tuple[RedisStorage, RedisStorage]]:
    """Two workers' stores on one namespace and one clock, opened, closed at the end."""
    a = RedisStorage(url, namespace=namespace, clock=clock, lease_timeout_s=lease_timeout_s)
    b = RedisStorage(url, namespace=namespace, clock=clock, lease_timeout_s=lease_timeout_s)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()
