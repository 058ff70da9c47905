"""The Redis backend on a real three-node Redis Cluster (tests/redis_cluster.py).

The storage contract and the Redis crawls run on the cluster too (tests/test_storage_contract.py,
tests/test_redis_crawl.py); here is what is particular to it: how a URL names a cluster, where a
crawl's keys live (one slot per crawl, docs/redis-cluster.md), and that the store stays correct
when a node loses its scripts or a call is cancelled mid-flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from crawler.errors import ConfigError
from crawler.records import PageState
from crawler.storage import FrontierCounts, open_storage
from crawler.storage.redis import RedisStorage
from crawler.storage.redis.connect import Client, connect, is_cluster
from tests.redis_cluster import (
    any_redis_url_fixture,  # noqa: F401 - any_redis_url
    redis_cluster_url_fixture,  # noqa: F401 - redis_cluster_url
)
from tests.redis_server import (
    Clock,
    redis_url_fixture,  # noqa: F401 - the redis_url fixture
)
from tests.test_storage_contract import entry_for, url

pytestmark = pytest.mark.redis


def _dead_port() -> int:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def cluster(redis_cluster_url: str) -> AsyncIterator[RedisCluster]:
    client = await connect(redis_cluster_url)
    assert isinstance(client, RedisCluster)
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_plain_url_of_a_cluster_node_opens_the_cluster_client(
    redis_cluster_url: str, redis_url: str
) -> None:
    for target, clustered in ((redis_cluster_url, True), (redis_url, False)):
        client = await connect(target)
        try:
            assert is_cluster(client) is clustered
            assert isinstance(client, RedisCluster if clustered else aioredis.Redis)
        finally:
            await client.aclose()


async def test_redis_cluster_url_lists_seeds_and_opens_while_one_is_down(
    cluster: RedisCluster, tmp_path: Path
) -> None:
    ports = sorted(node.port for node in cluster.get_primaries())
    seeds = ",".join(f"127.0.0.1:{p}" for p in [_dead_port(), *ports[1:]])
    store = open_storage("redis", tmp_path, f"redis+cluster://{seeds}/0?namespace=seeds")
    assert isinstance(store, RedisStorage)
    assert store.namespace == "seeds"
    await store.open()
    try:
        assert is_cluster(store._conn())
        await store.add([(url(1), 0)])
        assert [le.url for le in await store.lease(5, 0.0)] == [url(1)]
    finally:
        await store.close()


async def test_urls_a_cluster_cannot_serve_are_config_errors(redis_cluster_url: str) -> None:
    for bad in (
        redis_cluster_url.removesuffix("/0") + "/2",  # a cluster has database 0 only
        "redis+cluster://127.0.0.1:notaport/0",
        "redis+cluster://:7000/0",
    ):
        with pytest.raises(ConfigError, match=r"storage\.redis_url"):
            await RedisStorage(bad, namespace="x").open()


async def _fill(store: RedisStorage) -> None:
    """Touch every kind of key a crawl has: frontier, leases, DLQ, meta, offsets, pages."""
    await store.add((url(n, host), 0) for n in range(3) for host in ("a.test", "b.test"))
    leases = await store.lease(3, 0.0)
    await store.ack(leases[0], 1)
    await store.put_page(PageState(url=leases[0].url, due_at=5.0))
    await store.nack(leases[1], 10.0, 1, 1)
    await store.dead_letter(leases[2], 1, entry_for(leases[2]))
    await store.set_meta("seeds", [url(0)])
    await store.commit("/out.jsonl", 10)


async def test_one_crawl_lives_in_one_slot_and_crawls_spread_over_the_nodes(
    cluster: RedisCluster, redis_cluster_url: str
) -> None:
    # Namespaces whose hash tags fall on three different primaries.
    by_node: dict[str, str] = {}
    for n in range(100):
        name = f"spread-{n}"
        node = cluster.get_node_from_key(f"crawler:{{{name}}}:urls")
        assert node is not None
        by_node.setdefault(node.name, name)
    assert len(by_node) == 3
    stores = [RedisStorage(redis_cluster_url, namespace=ns) for ns in by_node.values()]
    for store in stores:
        await store.open()
        await _fill(store)
    try:
        for node_name, ns in by_node.items():
            slots = set()
            for primary in cluster.get_primaries():
                keys = await cluster.keys(f"crawler:{{{ns}}}:*", target_nodes=primary)
                assert bool(keys) == (primary.name == node_name)
                slots |= {cluster.keyslot(k) for k in keys}
            assert len(slots) == 1
    finally:
        for store in stores:
            await store.close()


async def test_a_commit_after_the_nodes_lost_their_scripts_applies_whole(
    any_redis_url: str, tmp_path: Path
) -> None:
    """After SCRIPT FLUSH (as on a new primary after a failover) the commit's script is loaded
    again and the whole batch lands: nothing half-applied, nothing lost."""
    clock = Clock()
    store = RedisStorage(any_redis_url, namespace=f"flush-{tmp_path.name}", clock=clock)
    await store.open()
    try:
        await store.add([(url(1), 0), (url(2), 0)])
        first, second = await store.lease(2, 0.0)
        await store.ack(first, 1)
        await store.set_meta("k", 1)
        await store._conn().script_flush()
        await store.commit("/out.jsonl", 5)
        await store._conn().script_flush()
        await store.ack(second, 1)
        await store.commit("/out.jsonl", 9)
        assert await store.counts() == FrontierCounts(pending=0, leased=0, done=2, dead=0)
    finally:
        await store.close()
    again = RedisStorage(any_redis_url, namespace=f"flush-{tmp_path.name}", clock=clock)
    await again.open()
    try:
        assert await again.counts() == FrontierCounts(pending=0, leased=0, done=2, dead=0)
        assert await again.get_meta("k") == 1
        assert await again.out_offset("/out.jsonl") == 9
    finally:
        await again.close()


def _crawls_node(admin: Client, namespace: str) -> dict[str, Any]:
    """Keyword arguments that send a command to the cluster node holding the crawl's slot."""
    if isinstance(admin, RedisCluster):
        return {"target_nodes": admin.get_node_from_key(f"crawler:{{{namespace}}}:urls")}
    return {}


async def _paused_script(admin: Client, namespace: str) -> None:
    """Wait until a script call of the store is held by CLIENT PAUSE: sent, not answered."""
    for _ in range(2000):
        clients = await admin.client_list(**_crawls_node(admin, namespace))
        if any(c["cmd"] == "evalsha" and "b" in c["flags"] for c in clients):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the store's call never reached the server")


@pytest.mark.parametrize("call", ["lease", "commit"])
async def test_calls_cancelled_mid_flight_leave_the_store_answering_right(
    any_redis_url: str, tmp_path: Path, call: str
) -> None:
    """A call cut off after it was sent and before its answer came (a crawl stopping): a
    commit waits for its end (``_to_the_end``) and lands whole; a lease's reply is not left on a
    pooled connection for the next call to read (redis-py drops such a connection)."""
    namespace = f"cancel-{call}-{tmp_path.name}"
    store = RedisStorage(any_redis_url, namespace=namespace)
    admin = await connect(any_redis_url)
    await store.open()
    try:
        await store.add((url(n), 0) for n in range(6))
        await store.set_meta("m", "meta")
        await store.commit()
        first, second = await store.lease(2, 0.0)
        await store.ack(first, 1)
        await store.ack(second, 1)
        await admin.client_pause(10_000, all=False, **_crawls_node(admin, namespace))
        try:
            task = asyncio.create_task(store.commit() if call == "commit" else store.lease(2, 0.0))
            await _paused_script(admin, namespace)
            task.cancel()
            await asyncio.sleep(0.01)  # a lease is gone now; a commit waits for the server
        finally:
            await admin.client_unpause(**_crawls_node(admin, namespace))
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()
        got = await asyncio.gather(store.get_meta("m"), store.counts(), store.dlq_count())
        assert got[0] == "meta"
        assert got[2] == 0
        counts = got[1]
        assert counts.done == 2
        assert counts.leased in (0, 2)  # the cancelled lease landed or not; the commit did
        assert len(await store.lease(10, 0.0)) == 4 - counts.leased
    finally:
        await store.close()
        await admin.aclose()
    again = RedisStorage(any_redis_url, namespace=namespace)
    await again.open()
    try:
        assert (await again.counts()).done == 2
    finally:
        await again.close()
