"""Recrawl benchmark: the first crawl of the bench site, then the same command after a share of
its pages changed, then once more with nothing changed (docs/recrawl.md).

    .venv/bin/python bench/recrawl.py                     # 10,000 pages, 10 % edited
    .venv/bin/python bench/recrawl.py --pages 1000 --share 0.2

The site is generated afresh under ``bench/site-recrawl`` (its pages are edited in place, so it
is not the other benchmarks' site) and served by nginx (gzip_static, ETag and Last-Modified on,
``if_modified_since exact``: nginx's defaults). Each run is ``crawler run ... --recrawl`` with
``[recrawl] min_interval_s = 0`` and ``initial_interval_s = 0``, so every stored page is due at
the next run; ``bench/mutate_site.py`` edits the pages between runs 1 and 2. The table gives, per
run: requests, bytes received (the summary's ``bytes_downloaded``: bodies after gzip is undone),
bytes on the wire (nginx's ``$bytes_sent``, headers and gzip included, from its access log), 304s,
pages found changed, the crawl's own duration (the summary's ``duration_s``), wall time from spawn
to exit and CPU time, each also as a share of the first crawl, and the load average before each
run. Results go to ``bench/out/recrawl.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import gen_site
import mutate_site
from measure import Child, check_output, measure
from nginx import Nginx
from run import OUT, crawler_config, machine, project_env

SITE_ROOT = Path(__file__).resolve().parent / "site-recrawl"
# Not bench/run.py's port: nginx listens with reuseport, so a second server on the same address
# would silently share its connections with another benchmark's.
DEFAULT_PORT = gen_site.DEFAULT_PORT + 200
RECRAWL = """
[recrawl]
# every stored page is due at the next run: the benchmark measures what a revisit costs
min_interval_s = 0.0
initial_interval_s = 0.0
"""


NGINX_DIR = OUT / "nginx-recrawl"


def served(site: gen_site.Site, work: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One run against a fresh nginx (its open_file_cache keeps a file's mtime, its ETag, for up
    to 10 minutes, and would answer 304 for a page edited since); what nginx sent is added."""
    log = NGINX_DIR / "access.log"
    log.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    with Nginx(site, NGINX_DIR, access_log=True):
        row = crawl(site, work, name, args)
    statuses: dict[str, int] = {}
    sent = 0
    for line in log.read_text().splitlines():
        status, nbytes = line.split()
        statuses[status] = statuses.get(status, 0) + 1
        sent += int(nbytes)
    return {**row, "wire_bytes": sent, "nginx_statuses": statuses, "load_before": load}


def crawl(site: gen_site.Site, work: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    config = crawler_config(site, work / "bench.toml", args.concurrency, args.per_host)
    config.write_text(config.read_text() + RECRAWL)
    summary = work / "summary.json"
    argv = [sys.executable, "-m", "crawler", "run", *site.seeds(), "--config", str(config)]
    argv += ["--state-dir", str(work / "state"), "--out", str(work / "results.jsonl")]
    argv += ["--summary-json", str(summary), "--recrawl", "--no-llm"]

    def verdict(_stdout: str) -> tuple[int, bool, str, dict[str, Any]]:
        report = json.loads(summary.read_text())
        return report["pages_stored"], True, "", report

    m = measure(name, Child(argv, project_env(), verdict), OUT / "logs", args.timeout)
    if m.returncode != 0:
        sys.exit(f"{name}: {m.detail}")
    r = m.report
    return {
        "run": name,
        "requests": r["requests"],
        "bytes_downloaded": r["bytes_downloaded"],
        "not_modified": r["not_modified"],
        "pages_new": r["pages_new"],
        "pages_changed": r["pages_changed"],
        "pages_unchanged": r["pages_unchanged"],
        "pages_ok": r["pages_ok"],
        "wall_s": round(m.wall_s, 2),
        "cpu_s": round(m.cpu_s, 2),
        "duration_s": r["duration_s"],
    }


def table(rows: list[dict[str, Any]]) -> str:
    first = rows[0]
    cols = ("requests", "bytes_downloaded", "wire_bytes", "duration_s", "wall_s", "cpu_s")
    head = (
        "| run | requests | bytes (decoded) | bytes (wire) | 304s | new | changed | crawl s"
        " | wall s | CPU s | load |"
    )
    lines = [head, "| --- |" + " ---: |" * 10]
    for r in rows:
        share = {
            c: f" ({r[c] / first[c]:.0%})" if r is not first and first[c] else "" for c in cols
        }
        lines.append(
            f"| {r['run']} | {r['requests']:,}{share['requests']} "
            f"| {_mb(r['bytes_downloaded'])}{share['bytes_downloaded']} "
            f"| {_mb(r['wire_bytes'])}{share['wire_bytes']} "
            f"| {r['not_modified']:,} | {r['pages_new']:,} | {r['pages_changed']:,} "
            f"| {r['duration_s']:.1f}{share['duration_s']} "
            f"| {r['wall_s']:.1f}{share['wall_s']} | {r['cpu_s']:.1f}{share['cpu_s']} "
            f"| {r['load_before']:.2f} |"
        )
    return "\n".join(lines)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--pages", type=int, default=10_000)
    ap.add_argument("--share", type=float, default=0.1, help="share of the pages edited")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-host", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args(argv)
    site = gen_site.generate(SITE_ROOT, args.pages, 8, args.port)
    work = OUT / "recrawl"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows: list[dict[str, Any]] = [served(site, work, "first crawl", args)]
    check = check_output(site, work / "results.jsonl")
    if not check.exact:
        sys.exit(f"first crawl incomplete: {check}")
    edited = mutate_site.mutate(site, args.share, 1)
    rows.append(served(site, work, f"recrawl, {edited:,} pages edited", args))
    rows.append(served(site, work, "recrawl, nothing edited", args))
    if rows[1]["pages_changed"] != edited or rows[2]["pages_changed"] != 0:
        sys.exit(f"changes not found as expected: {rows}")
    print(table(rows))
    result = {"pages": site.pages, "edited": edited, "runs": rows, "machine": machine()}
    (OUT / "recrawl.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
