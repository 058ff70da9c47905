"""A Redis outage mid-crawl: the server (with ``appendonly yes``) is stopped for 5 s and started
again on the same port; the workers wait (docs/workers.md, "When Redis restarts") and the crawl
finishes with every page stored exactly once across the workers' results files."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.testing import Page, Stall, Status, TestSite
from tests.conftest import read_jsonl
from tests.redis_server import START_TIMEOUT_S, RedisServer, _answers_ping, _free_port

pytestmark = pytest.mark.redis

OUTAGE_S = 5.0


class PersistentRedis(RedisServer):
    """A redis-server that fsyncs every write to its append-only file and restarts on its port."""

    def start(self) -> None:
        self.port = self.port or _free_port()
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)]
        args += ["--logfile", str(self.workdir / "redis.log")]
        self.proc = subprocess.Popen(args, cwd=self.workdir, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if _answers_ping(self.port):
                return
            time.sleep(0.01)
        raise RuntimeError(f"redis-server did not start on {self.port}; see {self.workdir}")


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[PersistentRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not on PATH (apt install redis-server)")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = PersistentRedis(binary, workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_redis_restart_mid_crawl_loses_and_duplicates_nothing(
    site: TestSite,
    make_config: Callable[..., Config],
    tmp_path: Path,
    persistent_redis: PersistentRedis,
) -> None:
    pages = [f"/p{i}" for i in range(40)]
    site.add("/", Page(title="Home", links=pages))
    for i, path in enumerate(pages):
        if i % 10 == 9:
            site.add(path, Stall(0.1, Status(404)))  # dead letters cross the outage too
        else:
            site.add(path, Stall(0.1, Page(title=f"P{i}", links=["/", pages[(i + 1) % 40]])))
    shared = f"{persistent_redis.url}?namespace=outage-{uuid.uuid4().hex}"
    names = ("w1", "w2")
    configs = [
        make_config(
            crawl__state_dir=str(tmp_path / n),
            crawl__out=str(tmp_path / f"{n}.jsonl"),
            crawl__per_host_concurrency=2,
            storage__backend="redis",
            storage__redis_url=shared,
            storage__lease_timeout_s=20.0,
            storage__redis_unreachable_s=60.0,
        )
        for n in names
    ]
    async with AdaptiveCrawler(configs[0]) as w1, AdaptiveCrawler(configs[1]) as w2:
        runs = [asyncio.create_task(w.run([site.url("/")])) for w in (w1, w2)]
        for _ in range(2000):  # until the crawl is well under way
            if sum(site.hits.get(p, 0) for p in pages) >= 8:
                break
            await asyncio.sleep(0.01)
        await asyncio.to_thread(persistent_redis.stop)
        hits_down = sum(site.hits.values())
        await asyncio.sleep(OUTAGE_S)
        assert not any(r.done() for r in runs), "a worker gave up during the outage"
        await asyncio.to_thread(persistent_redis.start)
        summaries = await asyncio.gather(*runs)
        outages = [w.storage.outage.outages for w in (w1, w2)]  # type: ignore[attr-defined]
    assert hits_down < sum(site.hits.values())  # the crawl went on after the restart
    assert all(n >= 1 for n in outages)  # both workers saw the outage and rode it out
    stored = Counter(r["url"] for n in names for r in read_jsonl(tmp_path / f"{n}.jsonl"))
    good = {site.url(p) for i, p in enumerate(["/", *pages]) if i == 0 or i % 10 != 0}
    assert set(stored) == good
    assert max(stored.values()) == 1
    last = summaries[-1]
    assert last.pages_ok == len(good)
    assert last.dlq_items == 4
    assert last.pending == 0
