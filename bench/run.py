"""Benchmark runner: crawl the generated site with each contender in turn and compare them.

    .venv/bin/python bench/run.py                       # 10,000 pages, every contender
    .venv/bin/python bench/run.py --pages 500 --only bare scrapy
    .venv/bin/python bench/run.py --faults 0.1          # each contender clean, then with faults
    .venv/bin/python bench/run.py --frontier-probe      # 1M-URL frontier: RSS and resume time

Each contender runs as a child process against a fresh nginx (see ``nginx.py``); the runner reaps
it with ``os.wait4``, which gives its CPU time (user + sys) and peak RSS, and times it from spawn to
exit (start-up included). Figures are only comparable within one run: the table gives ratios
(pages/s against the bare loop and against Scrapy) taken in the same run; ``--repeat R`` runs
every contender R times, interleaved, and keeps the run with the median rate.

Contenders: ``bare`` (bench/bare.py: the physical limit), ``crawler`` (this project: robots.txt on,
SQLite frontier, JSONL output, retries and breakers armed, the LLM configured to a dead loopback
endpoint; its output is checked to hold every page exactly once), ``scrapy``, ``crawlee-parsel``,
``crawlee-bs``. Scrapy and Crawlee live in ``bench/.venv-contenders``, created on first use.

Fault mode (``--faults RATE``): a hash-chosen share RATE of the page URLs fails its first
``--fault-attempts`` requests (500, 503 or a dropped connection) and then succeeds, so every page
can still be stored; each contender runs clean and then faulted in the same invocation and the
table shows the faulted rate against the clean one. aiohttp repeats a GET once by itself when the
connection drops, so with ``--fault-attempts 1`` the drops cost aiohttp-based contenders (bare,
crawler) an extra request but never reach their retry logic; ``--fault-attempts 2`` makes them
visible.

Frontier probe (``--frontier-probe``): ``frontier_probe.py`` fills a state dir with
``--probe-urls`` URLs through the crawler's own storage (peak RSS and reopen time of that
process), then ``crawler run`` resumes over it with ``--max-pages --probe-pages``; the probe
reports when its first result line appears (the time to start crawling) and its peak RSS.

Results also go to ``bench/out/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gen_site
from gen_site import Site
from measure import (
    PROJECT,
    Child,
    Measurement,
    check_output,
    counted_pages,
    last_json_line,
    measure,
)
from nginx import Nginx, wrk_rate

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
CONTENDERS_VENV = BENCH / ".venv-contenders"
CONTENDER_PACKAGES = ("scrapy", "crawlee[parsel,beautifulsoup]")
ALL_CONTENDERS = ("bare", "crawler", "scrapy", "crawlee-parsel", "crawlee-bs")
DEAD_LLM_URL = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, calls fail at once


def crawler_config(site: Site, path: Path, concurrency: int, per_host: int) -> Path:
    """Write the bench config: every safety on, nothing that would cap the crawl."""
    hosts = ", ".join(f'"{site.host_addr(h)}"' for h in range(site.hosts))
    path.write_text(
        f"""# adaptive-crawler benchmark configuration (written by bench/run.py)
[crawl]
max_pages = 0
max_depth = 1000
allowed_domains = [{hosts}]
respect_robots_txt = true
concurrency = {concurrency}
per_host_concurrency = {per_host}

[throttle]
# start at the per-host limit: the site is fast, and a 20-second crawl is too short to ramp up
initial_concurrency = {per_host}

[storage]
backend = "sqlite"

[llm]
# configured, but to a dead loopback endpoint: a call fails at once, its breaker opens, and the
# rules stand in; the LLM must never be on the hot path
enabled = true
base_url = "{DEAD_LLM_URL}"
model = "bench-dead-endpoint"
api_key = "bench"
timeout_s = 1.0

[log]
level = "WARNING"
"""
    )
    return path


def project_env() -> dict[str, str]:
    """The environment of children that import the project's ``crawler`` package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    return env


def crawler_child(
    site: Site, work: Path, concurrency: int, per_host: int, no_llm: bool, fresh: bool = True
) -> Child:
    """``crawler run`` over the site, its output checked page by page afterwards."""
    state, out, summary = work / "state", work / "results.jsonl", work / "summary.json"
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    config = crawler_config(site, work / "bench.toml", concurrency, per_host)
    argv = [sys.executable, "-m", "crawler", "run", *site.seeds(), "--config", str(config)]
    argv += ["--state-dir", str(state), "--out", str(out), "--summary-json", str(summary)]
    argv += ["--concurrency", str(concurrency), "--per-host-concurrency", str(per_host)]
    if no_llm:
        argv.append("--no-llm")

    def verdict(_stdout: str) -> tuple[int, bool, str, dict[str, Any]]:
        report = json.loads(summary.read_text()) if summary.exists() else {}
        check = check_output(site, out)
        detail = (
            f"distinct={check.distinct} missing={check.missing} dup={check.duplicates} "
            f"unexpected={check.unexpected} torn={check.torn}"
        )
        for key in ("retries", "dlq_items", "llm_calls"):
            if report.get(key):
                detail += f" {key}={report[key]}"
        report["output_check"] = asdict(check)
        return check.distinct - check.unexpected, check.exact, detail, report

    return Child(argv, project_env(), verdict, watch_file=out)


def contender_child(
    name: str, site: Site, work: Path, concurrency: int, per_host: int, no_llm: bool
) -> Child:
    """The child process for contender ``name``."""
    seeds = site.seeds()
    limits = ["--concurrency", str(concurrency)]
    verdict = counted_pages(site)
    py = str(CONTENDERS_VENV / "bin" / "python")
    if name == "bare":
        argv = [sys.executable, str(BENCH / "bare.py"), *seeds, *limits]
        return Child([*argv, "--per-host-concurrency", str(per_host)], dict(os.environ), verdict)
    if name == "crawler":
        return crawler_child(site, work / "crawler", concurrency, per_host, no_llm)
    if name == "scrapy":
        argv = [py, str(BENCH / "scrapy_spider.py"), *seeds, *limits]
        argv += ["--per-host-concurrency", str(per_host), "--out", str(work / "scrapy.jsonl")]
        return Child(argv, dict(os.environ), verdict)
    if name in ("crawlee-parsel", "crawlee-bs"):
        parser = name.removeprefix("crawlee-")
        argv = [py, str(BENCH / "crawlee_run.py"), *seeds, *limits, "--parser", parser]
        return Child(argv, dict(os.environ), verdict)
    raise ValueError(f"unknown contender {name!r}; known: {', '.join(ALL_CONTENDERS)}")


def ensure_contenders_venv() -> str | None:
    """Create ``bench/.venv-contenders`` with Scrapy and Crawlee if missing; None when usable,
    else why not."""
    py = CONTENDERS_VENV / "bin" / "python"
    check = [str(py), "-c", "import scrapy, crawlee.crawlers"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return None
    print(f"creating {CONTENDERS_VENV} ({' '.join(CONTENDER_PACKAGES)}) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(CONTENDERS_VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", *CONTENDER_PACKAGES],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"could not install {' '.join(CONTENDER_PACKAGES)}: {exc}"
    return None if subprocess.run(check, capture_output=True).returncode == 0 else "import failed"


def crawler_available() -> str | None:
    """None when ``python -m crawler run`` exists here, else why not."""
    probe = subprocess.run(
        [sys.executable, "-m", "crawler", "run", "--help"],
        capture_output=True,
        env=project_env(),
        cwd=PROJECT,
    )
    return None if probe.returncode == 0 else "python -m crawler run --help failed"


def run_contenders(args: argparse.Namespace, site: Site) -> list[Measurement]:
    """Every selected contender, ``--repeat`` times, clean (and faulted with ``--faults``)."""
    names = list(args.only or ALL_CONTENDERS)
    skipped: dict[str, str] = {}
    if any(n.startswith(("scrapy", "crawlee")) for n in names):
        why = ensure_contenders_venv()
        if why:
            skipped.update({n: why for n in names if n.startswith(("scrapy", "crawlee"))})
    if "crawler" in names:
        why = crawler_available()
        if why:
            skipped["crawler"] = why
    for name, why in skipped.items():
        print(f"skipping {name}: {why}")
    names = [n for n in names if n not in skipped]
    modes = [0.0] + ([args.faults] if args.faults else [])
    runs: dict[tuple[str, float], list[Measurement]] = {}
    for round_no in range(args.repeat):
        for name in names:
            for rate in modes:
                label = name if not rate else f"{name} +faults"
                work = OUT / "work"
                child = contender_child(
                    name, site, work, args.concurrency, args.per_host_concurrency, args.no_llm
                )
                with Nginx(
                    site, OUT / "nginx", fault_rate=rate, fault_attempts=args.fault_attempts
                ):
                    m = measure(label, child, OUT / "logs", args.timeout, faults=rate)
                runs.setdefault((name, rate), []).append(m)
                print(
                    f"[{round_no + 1}/{args.repeat}] {label:<22} {m.pages:>6} pages "
                    f"{m.wall_s:7.2f} s {m.pages_per_s:8.1f} pages/s "
                    f"{m.cpu_ms_per_page:6.2f} CPU ms/page {m.peak_rss_kb / 1024:6.1f} MB "
                    f"{'complete' if m.complete else 'INCOMPLETE'} {m.detail}",
                    flush=True,
                )
    return [_median(ms) for ms in runs.values()]


def _median(runs: list[Measurement]) -> Measurement:
    """The run with the median rate (the lower one of the middle two for an even count)."""
    return sorted(runs, key=lambda m: m.pages_per_s)[(len(runs) - 1) // 2]


def frontier_probe(args: argparse.Namespace, site: Site) -> dict[str, Any]:
    """Fill a state dir with ``--probe-urls`` URLs, then time a resumed crawl's first page."""
    work = OUT / "probe"
    shutil.rmtree(work, ignore_errors=True)
    state = work / "crawler" / "state"
    fill = Child(
        [
            sys.executable,
            str(BENCH / "frontier_probe.py"),
            "--site",
            site.root,
            "--state-dir",
            str(state),
            "--urls",
            str(args.probe_urls),
        ],
        project_env(),
        lambda stdout: (0, True, "", last_json_line(stdout)),
    )
    filled = measure("probe-fill", fill, OUT / "logs", args.timeout)
    result: dict[str, Any] = {
        "fill": filled.report,
        "fill_peak_rss_mb": round(filled.peak_rss_kb / 1024, 1),
    }
    result["fill_wall_s"] = round(filled.wall_s, 2)
    if filled.returncode != 0:
        result["error"] = filled.detail
        return result
    resume = crawler_child(
        site,
        work / "crawler",
        args.concurrency,
        args.per_host_concurrency,
        args.no_llm,
        fresh=False,
    )
    resume = Child(
        [*resume.argv, "--max-pages", str(args.probe_pages)],
        resume.env,
        lambda _stdout: (0, True, "", {}),
        resume.watch_file,
    )
    with Nginx(site, OUT / "nginx"):
        m = measure("probe-resume", resume, OUT / "logs", args.timeout)
    result["resume"] = {
        "returncode": m.returncode,
        "first_page_s": None if m.first_page_s is None else round(m.first_page_s, 2),
        "wall_s": round(m.wall_s, 2),
        "cpu_s": round(m.cpu_s, 2),
        "peak_rss_mb": round(m.peak_rss_kb / 1024, 1),
        "detail": m.detail,
    }
    return result


def print_table(results: Sequence[Measurement], title: str) -> None:
    """Side by side: rate, CPU per page, peak RSS, and rate ratios taken in this run."""

    def rate_of(name: str, faults: float) -> float | None:
        for m in results:
            if m.name.split(" ")[0] == name and m.faults == faults:
                return m.pages_per_s
        return None

    headers = ["contender", "pages", "done", "wall s", "pages/s", "CPU ms/page", "peak RSS MB"]
    headers += ["× bare", "× scrapy", "÷ clean", "notes"]
    rows: list[list[str]] = []
    for m in results:
        bare, scrapy_rate = rate_of("bare", m.faults), rate_of("scrapy", m.faults)
        clean = rate_of(m.name.split(" ")[0], 0.0) if m.faults else None
        rows.append(
            [
                m.name,
                str(m.pages),
                "yes" if m.complete else "NO",
                f"{m.wall_s:.2f}",
                f"{m.pages_per_s:.0f}",
                f"{m.cpu_ms_per_page:.2f}",
                f"{m.peak_rss_kb / 1024:.0f}",
                f"{m.pages_per_s / bare:.2f}" if bare else "",
                f"{m.pages_per_s / scrapy_rate:.2f}" if scrapy_rate else "",
                f"{m.pages_per_s / clean:.0%}" if clean else "",
                m.detail,
            ]
        )
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        print(" | ".join(headers))
        for row in rows:
            print(" | ".join(row))
        return
    table = Table(title=title)
    for i, header in enumerate(headers):
        table.add_column(header, justify="left" if i in (0, len(headers) - 1) else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=200).print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="crawl the bench site with each contender in turn and compare them"
    )
    ap.add_argument("--pages", type=int, default=10_000, help="site size (default 10,000)")
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--port", type=int, default=gen_site.DEFAULT_PORT)
    ap.add_argument("--only", nargs="+", choices=ALL_CONTENDERS, metavar="NAME")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-host-concurrency", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=1, help="runs per contender; the median is kept")
    ap.add_argument("--faults", type=float, default=0.0, metavar="RATE")
    ap.add_argument("--fault-attempts", type=int, default=1, help="failures per faulty URL")
    ap.add_argument("--frontier-probe", action="store_true")
    ap.add_argument("--probe-urls", type=int, default=1_000_000)
    ap.add_argument("--probe-pages", type=int, default=200, help="pages the resumed run stores")
    ap.add_argument("--no-llm", action="store_true", help="pass --no-llm to the crawler")
    ap.add_argument("--no-wrk", action="store_true", help="skip the nginx capacity check")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds before a run is killed")
    args = ap.parse_args(argv)
    if not 0.0 <= args.faults < 1.0:
        ap.error("--faults must be within [0, 1)")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    # A SIGTERM to the runner should still stop nginx (the `with` blocks) on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    site = gen_site.ensure(BENCH / "site", args.pages, args.hosts, args.port)
    print(
        f"site: {site.pages} pages over {site.hosts} hosts, "
        f"{site.html_bytes / site.pages / 1000:.1f} KB HTML "
        f"({site.gzip_bytes / site.pages / 1000:.1f} KB gzipped) a page "
        f"[{time.perf_counter() - started:.1f} s]",
        flush=True,
    )
    record: dict[str, Any] = {"args": vars(args), "site": asdict(site), "machine": machine()}
    if not args.no_wrk:
        with Nginx(site, OUT / "nginx"):
            record["nginx_rps"] = wrk_rate(site, seconds=3, connections=args.concurrency)
        print(f"nginx serves {record['nginx_rps']:,.0f} requests/s (wrk, gzip, keep-alive)")
    if args.frontier_probe:
        record["frontier_probe"] = frontier_probe(args, site)
        print(json.dumps(record["frontier_probe"], indent=2))
    else:
        results = run_contenders(args, site)
        record["results"] = [
            {**asdict(m), "pages_per_s": m.pages_per_s, "cpu_ms_per_page": m.cpu_ms_per_page}
            for m in results
        ]
        title = f"{site.pages} pages, concurrency {args.concurrency}"
        title += f" ({args.per_host_concurrency} a host)"
        if args.faults:
            title += f", faults {args.faults:.0%} × {args.fault_attempts}"
        print_table(results, title)
        fastest = max((m.pages_per_s for m in results), default=0.0)
        if record.get("nginx_rps") and fastest:
            ratio = record["nginx_rps"] / fastest
            print(f"nginx capacity = {ratio:.0f}× the fastest contender's rate (goal ≥ 20×)")
    (OUT / "results.json").write_text(json.dumps(record, indent=2, default=str) + "\n")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": os.uname().release,
        "python": sys.version.split()[0],
        "nginx": nginx.removeprefix("nginx version: "),
    }


if __name__ == "__main__":
    main()
