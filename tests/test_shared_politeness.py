"""Three worker processes, one polite crawler (docs/shared-politeness.md).

Three ``python -m crawler run`` processes, each with its own state dir and results file, share
one crawl through a real ``redis-server`` (``?namespace=``) over four loopback hosts: a plain one,
one that answers ``429 Retry-After``, one whose robots.txt asks for a ``Crawl-delay``, and a dead
one (it accepts each connection and resets it, so the attempts can be counted). One worker is
SIGKILLed mid-crawl and started again on its state dir. Everything asserted is what the servers
saw, and what the results files hold.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from crawler.testing import Page, Stall, Status, TestSite
from tests.conftest import read_jsonl
from tests.redis_server import redis_url_fixture  # noqa: F401 - the redis_url fixture

pytestmark = pytest.mark.redis

WORKERS = 3
PER_HOST = 2
RETRY_AFTER_S = 2
CRAWL_DELAY_S = 0.5
# What one crawler may send a dead host (docs/failure-path.md): failure_threshold +
# max_open_cycles at the defaults.
DEAD_HOST_BOUND = 5 + 3
# Crawl-delay gaps are measured where requests arrive; each one left its worker when the ledger
# allowed it, and reached the server up to this much later than its neighbour did.
ARRIVAL_JITTER_S = 0.1
WAIT_S = 90.0


class DeadHost:
    """A port that accepts every connection and resets it at once, counting them."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._reset, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _reset(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.transport.abort()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def slow(title: str) -> Stall:
    # Pages take a while, so requests overlap and the per-host limit is really tested.
    return Stall(0.05, Page(title=title))


def build(plain: TestSite, limited: TestSite, delayed: TestSite, dead: DeadHost) -> list[str]:
    """Script the four hosts; the URLs that must each be stored exactly once."""
    a = [f"/a{i}" for i in range(16)]
    b = [f"/b{i}" for i in range(10)]
    c = [f"/c{i}" for i in range(5)]
    plain.add("/", Page(title="A", links=[*a, dead.url("/d1"), dead.url("/d2")]))
    for path in a:
        plain.add(path, slow(path))
    limited.add("/", Page(title="B", links=b))
    for path in b:
        limited.add(path, slow(path))
    limited.add("/b3", Status(429, {"Retry-After": str(RETRY_AFTER_S)}), slow("/b3"))
    delayed.robots = f"User-agent: *\nCrawl-delay: {CRAWL_DELAY_S}\n"
    delayed.add("/", Page(title="C", links=c))
    for path in c:
        delayed.add(path, Page(title=path))
    return [s.url(p) for s, ps in ((plain, a), (limited, b), (delayed, c)) for p in ["/", *ps]]


def write_config(path: Path, redis_url: str) -> None:
    path.write_text(
        f"""
[crawl]
concurrency = 4
[retry]
base_delay_s = 0.01
network_base_delay_s = 0.01
max_delay_s = 0.05
budget_min_retries = 1000
[circuit_breaker]
reset_timeout_s = 0.2
max_reset_timeout_s = 0.4
[fetch]
connect_timeout_s = 2.0
read_timeout_s = 2.0
total_timeout_s = 5.0
[llm]
enabled = false
[soft404]
probe = false
[storage]
backend = "redis"
redis_url = "{redis_url}"
batch_interval_s = 0.02
lease_timeout_s = 3.0
host_slot_ttl_s = 2.0
""",
        encoding="utf-8",
    )


class Workers:
    def __init__(self, tmp: Path, config: Path, seeds: list[str]) -> None:
        self.tmp, self.config, self.seeds = tmp, config, seeds
        self.procs: dict[int, asyncio.subprocess.Process] = {}

    async def start(self, i: int) -> None:
        args = [sys.executable, "-m", "crawler", "run", *self.seeds]
        args += ["--config", str(self.config), "--per-host-concurrency", str(PER_HOST)]
        args += ["--state-dir", str(self.tmp / f"w{i}"), "--out", str(self.out(i))]
        args += ["--summary-json", str(self.tmp / f"w{i}.summary.json")]
        args += ["--log-level", "WARNING", "--no-llm"]
        log = (self.tmp / f"w{i}.log").open("ab")
        self.procs[i] = await asyncio.create_subprocess_exec(
            *args, stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        log.close()

    def out(self, i: int) -> Path:
        return self.tmp / f"w{i}.jsonl"

    async def wait(self) -> list[int]:
        codes = []
        for proc in self.procs.values():
            codes.append(await asyncio.wait_for(proc.wait(), WAIT_S))
        return codes

    async def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


@pytest.fixture
async def hosts() -> AsyncIterator[tuple[TestSite, TestSite, TestSite, DeadHost]]:
    async with (
        TestSite() as plain,
        TestSite() as limited,
        TestSite() as delayed,
        DeadHost() as dead,
    ):
        yield plain, limited, delayed, dead


def pages(site: TestSite) -> int:
    return sum(n for path, n in site.hits.items() if path != "/robots.txt")


async def test_three_workers_are_one_polite_crawler(
    hosts: tuple[TestSite, TestSite, TestSite, DeadHost], tmp_path: Path, redis_url: str
) -> None:
    plain, limited, delayed, dead = hosts
    expected = build(plain, limited, delayed, dead)
    config = tmp_path / "crawl.toml"
    write_config(config, f"{redis_url}?namespace=polite-{uuid.uuid4().hex}")
    seeds = [plain.url("/"), limited.url("/"), delayed.url("/"), dead.url("/")]
    workers = Workers(tmp_path, config, seeds)
    try:
        for i in range(WORKERS):
            await workers.start(i)
        # SIGKILL one worker once every live host's robots.txt is in (a worker killed while
        # fetching one would leave it to be fetched again) and pages are being crawled.
        for _ in range(int(WAIT_S / 0.01)):
            if all(pages(s) for s in (plain, limited, delayed)) and pages(plain) >= 6:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the crawl did not get going")
        workers.procs[0].send_signal(signal.SIGKILL)
        await workers.procs[0].wait()
        await workers.start(0)  # again, on its state dir and results file
        codes = await workers.wait()
    finally:
        await workers.kill_all()
    logs = "\n".join((tmp_path / f"w{i}.log").read_text(errors="replace") for i in range(3))
    assert all(code in (0, 1) for code in codes), logs

    # Per-host in-flight never exceeded the limit, whoever sent the requests.
    assert max(s.max_in_flight for s in (plain, limited, delayed)) <= PER_HOST

    # robots.txt once per host for the whole crawl.
    assert [s.hits["/robots.txt"] for s in (plain, limited, delayed)] == [1, 1, 1]

    # No request inside the Retry-After pause but those already sent when the 429 went out:
    # at most one (the other slot of the host's limit).
    (told,) = [t for t, p in limited.log if p == "/b3"][:1]
    inside = [p for t, p in limited.log if told < t < told + RETRY_AFTER_S]
    assert len(inside) <= PER_HOST - 1, inside

    # Crawl-delay gaps held across the workers.
    arrivals = [t for t, p in delayed.log if p != "/robots.txt"]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= CRAWL_DELAY_S - ARRIVAL_JITTER_S, gaps

    # The dead host was tried no more than one crawler tries one.
    assert 1 <= dead.connections <= DEAD_HOST_BOUND

    # Every page stored exactly once across the workers' results files.
    stored = Counter(r["url"] for i in range(WORKERS) for r in read_jsonl(workers.out(i)))
    assert sorted(stored) == sorted(expected)
    assert set(stored.values()) == {1}
    for i in range(WORKERS):
        assert json.loads((tmp_path / f"w{i}.summary.json").read_text())["pending"] == 0
