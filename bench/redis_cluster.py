"""One crawl on one Redis server against the same crawl on a three-node Redis Cluster.

    .venv/bin/python bench/redis_cluster.py                  # 2,000 pages, 3 runs each
    .venv/bin/python bench/redis_cluster.py --pages 500 --repeat 1

The generated bench site is served by nginx (bench/nginx.py); ``crawler run`` crawls it with the
bench config of bench/run.py and ``[storage] backend = "redis"``, once against a single
``redis-server`` and once against a cluster of three (both started here, on loopback, without
persistence: tests/redis_server.py and tests/redis_cluster.py), interleaved ``--repeat`` times,
each run in a fresh namespace. Its output is checked page by page (every page exactly once).

Per run: pages/s (wall, start-up included), the crawler's CPU per page, and from the servers'
``INFO`` the Redis commands per page (``commandstats``, summed over the nodes) and the Redis CPU
per page (``used_cpu_user + used_cpu_sys``, summed). One crawl's keys share one hash tag, so on
the cluster one node serves the whole crawl (docs/redis-cluster.md); the figure is the cost of
the cluster client, not a gain from sharding.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from statistics import median
from typing import Any

import gen_site
import redis
from measure import PROJECT, Measurement, measure
from nginx import Nginx
from run import BENCH, OUT, crawler_child, machine

sys.path.insert(0, str(PROJECT))
from tests.redis_cluster import RedisCluster
from tests.redis_server import RedisServer


def _server_totals(ports: list[int]) -> tuple[int, float]:
    """(commands served, CPU seconds) summed over the servers on ``ports``."""
    calls, cpu = 0, 0.0
    for port in ports:
        client = redis.Redis(port=port, decode_responses=True)
        stats = client.info("commandstats")
        calls += sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))
        used = client.info("cpu")
        cpu += float(used["used_cpu_user"]) + float(used["used_cpu_sys"])
        client.close()
    return calls, cpu


def one_run(
    site: gen_site.Site, kind: str, url: str, ports: list[int], n: int, args: argparse.Namespace
) -> dict[str, Any]:
    work = OUT / "redis-cluster" / f"{kind}-{n}"
    child = crawler_child(site, work, args.concurrency, args.per_host_concurrency, no_llm=True)
    config = work / "bench.toml"
    storage = f'backend = "redis"\nredis_url = "{url}?namespace=bench-{kind}-{n}"'
    config.write_text(config.read_text().replace('backend = "sqlite"', storage))
    calls, cpu = _server_totals(ports)
    m: Measurement = measure(kind, child, work / "logs", timeout_s=args.timeout)
    calls_after, cpu_after = _server_totals(ports)
    pages = max(m.pages, 1)
    return {
        "kind": kind,
        "pages": m.pages,
        "exact": m.complete,
        "detail": m.detail,
        "wall_s": m.wall_s,
        "pages_per_s": m.pages_per_s,
        "crawler_cpu_ms_per_page": m.cpu_ms_per_page,
        "redis_commands_per_page": (calls_after - calls) / pages,
        "redis_cpu_ms_per_page": 1000 * (cpu_after - cpu) / pages,
        "measurement": asdict(m),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--port", type=int, default=gen_site.DEFAULT_PORT)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-host-concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    server_bin, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server_bin is None or cli is None:
        sys.exit("redis-server and redis-cli are needed (apt install redis-server)")
    site = gen_site.ensure(BENCH / "site", args.pages, args.hosts, args.port)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        single = RedisServer(server_bin, Path(tmp) / "single")
        cluster = RedisCluster(server_bin, cli, Path(tmp) / "cluster")
        (Path(tmp) / "single").mkdir()
        (Path(tmp) / "cluster").mkdir()
        single.start()
        try:
            cluster.start()
            targets = {
                "single": (single.url, [single.port]),
                "cluster": (cluster.url, [node.port for node in cluster.nodes]),
            }
            with Nginx(site, OUT / "nginx"):
                for n in range(args.repeat):
                    for kind, (url, ports) in targets.items():
                        run = one_run(site, kind, url, ports, n, args)
                        print(
                            f"{kind:8} run {n}: {run['pages']} pages, exact={run['exact']}, "
                            f"{run['pages_per_s']:.0f} pages/s, "
                            f"crawler {run['crawler_cpu_ms_per_page']:.2f} ms CPU/page, "
                            f"Redis {run['redis_commands_per_page']:.1f} commands/page, "
                            f"{run['redis_cpu_ms_per_page']:.3f} ms CPU/page",
                            flush=True,
                        )
                        runs.append(run)
        finally:
            cluster.stop()
            single.stop()
    print(f"\n{site.pages} pages, concurrency {args.concurrency}; medians of {args.repeat}:")
    for kind in ("single", "cluster"):
        mine = [r for r in runs if r["kind"] == kind]
        row = {
            k: median(r[k] for r in mine)
            for k in (
                "pages_per_s",
                "crawler_cpu_ms_per_page",
                "redis_commands_per_page",
                "redis_cpu_ms_per_page",
            )
        }
        print(
            f"  {kind:8} {row['pages_per_s']:6.0f} pages/s  "
            f"crawler {row['crawler_cpu_ms_per_page']:.2f} ms CPU/page  "
            f"Redis {row['redis_commands_per_page']:.1f} commands/page "
            f"{row['redis_cpu_ms_per_page']:.3f} ms CPU/page  "
            f"all exact: {all(r['exact'] for r in mine)}"
        )
    record = {"args": vars(args), "machine": machine(), "runs": runs}
    out = OUT / "redis_cluster.json"
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"(results in {out})")


if __name__ == "__main__":
    main()
