"""Connecting to ``[storage] redis_url``: one Redis server, or a Redis Cluster.

How a URL names a cluster (docs/redis-cluster.md):

* ``redis://host:port/0`` (or ``rediss://``) may name a single server OR any node of a cluster:
  :func:`connect` asks the node (``INFO cluster``) and, when it says ``cluster_enabled:1``, opens
  redis-py's cluster client on it instead, which discovers the other nodes. So the URL a user
  already has for a node just works, and a crawl never talks to a cluster through the
  single-server client (whose keyed commands would fail with ``MOVED`` on other nodes' slots).
* ``redis+cluster://h1:7000,h2:7000/0`` (or ``rediss+cluster://``) names a cluster by several
  seed nodes without asking: opening works while some of them are down, and needs no ``INFO``
  (which an ACL may deny; then a plain URL is taken for a single server).

Query parameters are redis-py's connection options either way (``?socket_timeout=5``); the
crawl's ``namespace`` parameter is taken out before (see ``redis_target``). A cluster has only
database 0.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import parse_url
from redis.exceptions import ResponseError

from crawler.errors import ConfigError

__all__ = ["CLUSTER_SUFFIX", "Client", "connect", "is_cluster"]

# What the store talks to. Both have the commands the store uses (keyed commands, EVALSHA,
# non-transactional pipelines, hscan_iter); the store never sends MULTI/EXEC (lua/commit.lua).
Client = aioredis.Redis | RedisCluster

CLUSTER_SUFFIX = "+cluster"  # redis+cluster:// and rediss+cluster:// name a cluster
DEFAULT_PORT = 6379


def _bad(url: str, why: str) -> ConfigError:
    return ConfigError("storage.redis_url", url, why)


def _seeds(url: str) -> tuple[str, list[ClusterNode]]:
    """``redis+cluster://[user:pass@]h1:p1,h2:p2/db?opts`` -> (a redis-py URL naming the first
    seed, carrying the credentials and options; every seed as a :class:`ClusterNode`)."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    nodes: list[ClusterNode] = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep:
            host, port = item.strip(), str(DEFAULT_PORT)
        if not host or not port.isdigit():
            raise _bad(url, "redis+cluster://host:port[,host:port...]")
        nodes.append(ClusterNode(host.strip("[]"), int(port)))
    scheme = parts.scheme.removesuffix(CLUSTER_SUFFIX)
    first = f"{nodes[0].host}:{nodes[0].port}"
    netloc = f"{userinfo}@{first}" if userinfo else first
    return urlunsplit(parts._replace(scheme=scheme, netloc=netloc)), nodes


def _cluster(
    url: str, more: dict[str, Any], nodes: list[ClusterNode] | None = None
) -> RedisCluster:
    options = parse_url(url)
    if int(options.get("db") or 0) != 0:
        raise _bad(url, "database 0 (a Redis Cluster has no other)")
    if "path" in options:
        raise _bad(url, "redis://host:port (redis-py reaches a cluster over TCP only)")
    if nodes is None:
        return RedisCluster.from_url(url, decode_responses=True, **more)
    options.pop("host", None)
    options.pop("port", None)
    options.pop("db", None)
    ssl = options.pop("connection_class", None) is not None  # rediss:// (SSLConnection)
    kwargs: dict[str, Any] = dict(options)
    if ssl:
        kwargs["ssl"] = True
    return RedisCluster(startup_nodes=nodes, decode_responses=True, **kwargs, **more)


async def _says_cluster(client: aioredis.Redis) -> bool:
    try:
        info = await client.info("cluster")
    except ResponseError:  # INFO denied by an ACL: take it for a single server
        return False
    return bool(info.get("cluster_enabled"))


async def connect(url: str, **options: Any) -> Client:
    """A connected client for ``url`` (see the module docstring): a :class:`RedisCluster` when
    the URL or the server says cluster, else a single-server client; ``options`` go to either
    (e.g. ``retry``). Raises
    :class:`~crawler.errors.ConfigError` for a URL redis-py cannot use, and redis-py's errors
    (or ``OSError``) when the server cannot be reached; the caller translates those."""
    scheme = urlsplit(url).scheme
    try:
        if scheme.endswith(CLUSTER_SUFFIX):
            first, nodes = _seeds(url)
            cluster = _cluster(first, options, nodes)
            await _ready(cluster)
            return cluster
        single = aioredis.Redis.from_url(url, decode_responses=True, **options)
    except ValueError as exc:
        raise _bad(url, f"a redis:// URL ({exc})") from None
    try:
        await single.ping()
        clustered = await _says_cluster(single)
    except ResponseError as exc:
        await single.aclose()
        if "cluster mode" in str(exc):  # SELECT of a database other than 0, on a cluster node
            raise _bad(url, "database 0 (a Redis Cluster has no other)") from None
        raise
    except BaseException:
        await single.aclose()
        raise
    if not clustered:
        return single
    await single.aclose()
    try:
        cluster = _cluster(url, options)
    except ValueError as exc:
        raise _bad(url, f"a redis:// URL ({exc})") from None
    await _ready(cluster)
    return cluster


async def _ready(cluster: RedisCluster) -> None:
    """Learn the slot map (redis-py does it at the first command); close on failure."""
    try:
        await cluster.initialize()
    except BaseException:
        await cluster.aclose()
        raise


def is_cluster(client: Client) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)
