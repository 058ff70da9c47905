"""A real three-node Redis Cluster on loopback for the tests of the Redis backend on a cluster.

Import the fixtures into a test module (``from tests.redis_cluster import
redis_cluster_url_fixture``; its name is ``redis_cluster_url``) and mark the tests
``@pytest.mark.redis``. ``any_redis_url`` (import ``any_redis_url_fixture`` too, with
``redis_url_fixture`` from tests/redis_server.py) runs a test once on a single server and once on
the cluster.

One cluster runs per test session: three ``redis-server --cluster-enabled yes`` primaries without
replicas or persistence, joined by ``redis-cli --cluster create``, in a temporary directory; the
URL names one node and the store finds the others (docs/redis-cluster.md). Without
``redis-server`` or ``redis-cli`` on PATH the tests that need them are skipped, saying so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import START_TIMEOUT_S, RedisServer

NODES = 3


def _cluster_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"CLUSTER INFO\r\n")
            reply = b""
            while b"cluster_known_nodes" not in reply:
                chunk = conn.recv(4096)
                if not chunk:
                    return False
                reply += chunk
            return b"cluster_state:ok" in reply
    except OSError:
        return False


class RedisCluster:
    """Three cluster-enabled ``redis-server`` processes joined into one cluster."""

    def __init__(self, server: str, cli: str, workdir: Path) -> None:
        self.cli = cli
        self.nodes = [
            RedisServer(server, workdir, extra=self._node_args(workdir, i)) for i in range(NODES)
        ]

    @staticmethod
    def _node_args(workdir: Path, i: int) -> list[str]:
        conf = workdir / f"nodes-{i}.conf"
        return ["--cluster-enabled", "yes", "--cluster-config-file", str(conf)]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self) -> None:
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            create = [self.cli, "--cluster", "create", *addresses]
            subprocess.run(
                [*create, "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=START_TIMEOUT_S * 3,
            )
            deadline = time.monotonic() + START_TIMEOUT_S
            while not all(_cluster_ok(node.port) for node in self.nodes):
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
                time.sleep(0.02)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture(scope="session", name="redis_cluster_url")
def redis_cluster_url_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of one node of a cluster started for this test session."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.skip("redis-server or redis-cli is not on PATH (apt install redis-server)")
    cluster = RedisCluster(server, cli, tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    try:
        yield cluster.url
    finally:
        cluster.stop()


REDIS_KINDS = [
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-cluster", marks=pytest.mark.redis),
]


@pytest.fixture(params=REDIS_KINDS, name="any_redis_url")
def any_redis_url_fixture(request: pytest.FixtureRequest) -> str:
    """The URL of the session's single server, then of the session's cluster."""
    name = "redis_cluster_url" if request.param == "redis-cluster" else "redis_url"
    url: str = request.getfixturevalue(name)
    return url
