"""CPU cost of one host admission and its settlement, in one process (the memory host ledger).

``HostRegistry.admit`` + ``Admission.success`` over 50 hosts, throttle off, no I/O: what the
dispatcher pays per request for politeness. Compare two checkouts with farm-bench::

    farm-bench -n 5 -- .venv/bin/python -m bench.admit_cost \\
        --vs "env PYTHONPATH=/work/main .venv/bin/python -m bench.admit_cost"
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time

from crawler.config import load_config
from crawler.engine.hosts import Admission, HostRegistry
from crawler.observe.events import CrawlEvents
from crawler.web.robots import RobotsRules

REQUESTS = 50_000
HOSTS = 50


async def main() -> None:
    values = {"llm.enabled": False, "throttle.enabled": False, "crawl.per_host_concurrency": 256}
    cfg = load_config(None, values, env={})
    hosts = HostRegistry(cfg, rng=random.Random(0), events=CrawlEvents(cfg, clock=time.time))
    states = [hosts.get(f"h{i}.test:80") for i in range(HOSTS)]
    for state in states:
        hosts.set_robots(state, RobotsRules(None, "bench"))
    now = 1000.0
    started = time.perf_counter()
    for i in range(REQUESTS):
        now += 0.001
        admitted = hosts.admit(states[i % HOSTS], now, retry=False)
        if inspect.isawaitable(admitted):  # admit is a coroutine since the host ledger
            admitted = await admitted
        assert isinstance(admitted, Admission), admitted
        admitted.success(now, 0.01, status=200, nbytes=100)
    elapsed = time.perf_counter() - started
    print(f"{elapsed / REQUESTS * 1e6:.1f} us per admit + success")


if __name__ == "__main__":
    asyncio.run(main())
