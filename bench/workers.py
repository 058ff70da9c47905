"""Many workers on one Redis: pages/s, CPU and Redis load with 1, 2 and 4 worker processes.

    .venv/bin/python bench/workers.py                      # the 10,000-page site, 1 2 4 workers
    .venv/bin/python bench/workers.py --pages 1000 --workers 1 2 --repeat 3
    .venv/bin/python bench/workers.py --workers 0 1 --repeat 5   # 0: SQLite, the same-run baseline

For each worker count N the same generated site (``gen_site.py``, served by nginx: ``nginx.py``)
is crawled by N separate ``crawler run`` processes that share one frontier through a namespace of
one ``redis-server`` (started here, no persistence: the figures are the crawler's and Redis's
work, not the disk's). Each worker has its own state dir and results file; the union of the
files is checked to hold every page exactly once.

Measured per run: wall time from the first spawn to the last exit (pages/s); the workers' CPU
(user + sys, from ``wait4``) per page; Redis's own CPU per page (``INFO cpu`` before/after);
round trips per page (each worker runs through ``redis_probe.py``, which counts redis-py's
requests: a pipeline is one); Redis commands per page (``INFO commandstats``, the commands
scripts run included); and ``used_memory`` per URL of the finished crawl (``INFO memory`` after
minus before, over the URLs in the namespace). ``--repeat R`` runs each N R times, interleaved,
and keeps the median-rate run. The machine is shared: compare figures within one invocation.
Results go to ``bench/out/workers.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import gen_site
from gen_site import Site
from measure import PROJECT, check_output
from nginx import Nginx
from run import crawler_config, machine, project_env

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"


@dataclass
class Run:
    workers: int
    wall_s: float
    pages: int
    exact: bool
    worker_cpu_s: float
    redis_cpu_s: float
    round_trips: int
    redis_commands: int
    used_memory_delta: int
    urls: int
    per_worker_pages: list[int]
    detail: str

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s else 0.0

    def per_page(self, value: float) -> float:
        return value / self.pages if self.pages else float("inf")


class Redis:
    """A redis-server child on a free loopback port, no persistence."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(workdir)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        for _ in range(500):
            if self.call("PING").strip() == "PONG":
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def call(self, *command: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *command], capture_output=True, text=True
        )
        return done.stdout

    def info(self, section: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self.call("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                key, value = line.split(":", 1)
                out[key] = value.strip()
        return out

    def snapshot(self) -> tuple[float, int, int]:
        """(CPU seconds, commands processed by name in commandstats, used_memory)."""
        cpu = self.info("cpu")
        stats = self.info("commandstats")
        # the INFO/redis-cli calls of this bench are not the crawl's: left out
        calls = sum(
            int(v.split(",")[0].split("=")[1])
            for k, v in stats.items()
            if k not in ("cmdstat_info", "cmdstat_ping", "cmdstat_hlen", "cmdstat_command")
        )
        memory = int(self.info("memory")["used_memory"])
        return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), calls, memory

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def write_config(site: Site, work: Path, redis_url: str, args: argparse.Namespace) -> Path:
    """The bench config of bench/run.py, with the Redis backend (``redis_url`` "": SQLite)."""
    path = crawler_config(site, work / "bench.toml", args.concurrency, args.per_host_concurrency)
    if not redis_url:
        return path
    text = path.read_text().replace(
        'backend = "sqlite"', f'backend = "redis"\nredis_url = "{redis_url}"'
    )
    path.write_text(text)
    return path


def one_run(site: Site, redis: Redis, n: int, args: argparse.Namespace) -> Run:
    """``n`` Redis workers; ``n`` 0: one worker on SQLite (the same-run baseline)."""
    sqlite = n == 0
    work = OUT / "workers" / f"n{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    namespace = f"bench-{n}-{uuid.uuid4().hex[:8]}"
    shared = "" if sqlite else f"{redis.url}?namespace={namespace}"
    config = write_config(site, work, shared, args)
    n = max(1, n)
    cpu0, calls0, mem0 = redis.snapshot()
    usages: list[tuple[int, float]] = []
    lock = threading.Lock()

    def reap(proc: subprocess.Popen[bytes]) -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        with lock:
            usages.append((os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime))

    threads = []
    started = time.perf_counter()
    for i in range(n):
        argv = [sys.executable, str(BENCH / "redis_probe.py"), "run", *site.seeds()]
        argv += ["--config", str(config), "--state-dir", str(work / f"state{i}")]
        argv += ["--out", str(work / f"out{i}.jsonl"), "--summary-json", str(work / f"s{i}.json")]
        if args.no_llm:
            argv.append("--no-llm")
        env = {**project_env(), "ROUNDTRIPS_FILE": str(work / f"rt{i}")}
        with (work / f"w{i}.stderr").open("wb") as err:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.DEVNULL,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=PROJECT,
            )
        t = threading.Thread(target=reap, args=(proc,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=args.timeout)
    wall = time.perf_counter() - started
    cpu1, calls1, mem1 = redis.snapshot()
    urls = int(redis.call("HLEN", f"crawler:{{{namespace}}}:urls").strip() or 0)
    merged = work / "all.jsonl"
    with merged.open("wb") as out:
        for i in range(n):
            out.write((work / f"out{i}.jsonl").read_bytes())
    check = check_output(site, merged)
    per_worker = [len((work / f"out{i}.jsonl").read_bytes().splitlines()) for i in range(n)]
    trips = sum(
        int((work / f"rt{i}").read_text() or 0) for i in range(n) if (work / f"rt{i}").exists()
    )
    codes = sorted(code for code, _ in usages)
    detail = (
        f"exit={codes} distinct={check.distinct} missing={check.missing} "
        f"dup={check.duplicates} unexpected={check.unexpected}"
    )
    redis.call(
        "EVAL",
        "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
        "0",
        f"crawler:{{{namespace}}}:*",
    )
    return Run(
        workers=0 if sqlite else n,
        wall_s=wall,
        pages=check.distinct - check.unexpected,
        exact=check.exact and codes == [0] * n,
        worker_cpu_s=sum(cpu for _, cpu in usages),
        redis_cpu_s=cpu1 - cpu0,
        round_trips=trips,
        redis_commands=calls1 - calls0,
        used_memory_delta=mem1 - mem0,
        urls=urls,
        per_worker_pages=per_worker,
        detail=detail,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--port", type=int, default=gen_site.DEFAULT_PORT)
    ap.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2, 4], help="0: one worker on SQLite"
    )
    ap.add_argument("--concurrency", type=int, default=64, help="per worker")
    ap.add_argument("--per-host-concurrency", type=int, default=8, help="per worker")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-llm", action="store_true")
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    site = gen_site.ensure(BENCH / "site", args.pages, args.hosts, args.port)
    redis = Redis(OUT / "workers-redis")
    runs: dict[int, list[Run]] = {n: [] for n in args.workers}
    try:
        with Nginx(site, OUT / "nginx-workers"):
            for _ in range(args.repeat):
                for n in args.workers:
                    run = one_run(site, redis, n, args)
                    runs[n].append(run)
                    print(
                        f"  {n or 'sqlite'} worker(s) {run.pages_per_s:,.0f} pages/s  {run.detail}",
                        flush=True,
                    )
    finally:
        redis.stop()
    kept = {n: sorted(rs, key=lambda r: r.pages_per_s)[len(rs) // 2] for n, rs in runs.items()}
    head = (
        f"{'workers':>7} {'pages/s':>8} {'wall s':>7} {'worker CPU ms/page':>18} "
        f"{'Redis CPU ms/page':>17} {'round trips/page':>16} {'Redis cmds/page':>15} "
        f"{'bytes/URL':>9}  pages per worker"
    )
    limits = f"{args.concurrency} requests in flight a worker ({args.per_host_concurrency} a host)"
    print(f"\n{site.pages} pages, {limits}")
    print(head)
    for n, r in kept.items():
        print(
            f"{'sqlite' if n == 0 else n:>7} {r.pages_per_s:>8,.0f} {r.wall_s:>7.1f} "
            f"{1000 * r.per_page(r.worker_cpu_s):>18.2f} {1000 * r.per_page(r.redis_cpu_s):>17.3f} "
            f"{r.per_page(r.round_trips):>16.2f} {r.per_page(r.redis_commands):>15.1f} "
            f"{r.used_memory_delta / max(1, r.urls):>9.0f}  {r.per_worker_pages}"
            + ("" if r.exact else f"  NOT EXACT: {r.detail}")
        )
    record = {
        "args": vars(args),
        "site": asdict(site),
        "machine": machine(),
        "runs": {
            n: [asdict(r) | {"pages_per_s": r.pages_per_s} for r in rs] for n, rs in runs.items()
        },
    }
    (OUT / "workers.json").write_text(json.dumps(record, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
