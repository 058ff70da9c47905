"""Measure one benchmark child process: wall time, CPU (user + sys) and peak RSS via ``wait4``.

Also the verdicts that read a contender's result: its own ``{"pages": n}`` line, or for the
crawler the check that its results file holds every page of the site exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gen_site import Site

# Children run from the project root, where ``python -m crawler`` finds the package.
PROJECT = Path(__file__).resolve().parent.parent


@dataclass
class Measurement:
    """One contender's run: what ``wait4`` and its own report say."""

    name: str
    faults: float
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_kb: int
    pages: int
    complete: bool
    detail: str = ""
    report: dict[str, Any] = field(default_factory=dict)
    first_page_s: float | None = None

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu_s / self.pages if self.pages else float("inf")


@dataclass(frozen=True)
class Child:
    """How to start one contender and read its result."""

    argv: list[str]
    env: dict[str, str]
    # Reads the contender's own report after exit: (pages, complete, detail, report).
    verdict: Callable[[str], tuple[int, bool, str, dict[str, Any]]]
    watch_file: Path | None = None  # time the first byte written here (resume probe)


def measure(
    name: str, child: Child, logs: Path, timeout_s: float, faults: float = 0.0
) -> Measurement:
    """Run ``child`` to completion (killed after ``timeout_s``) and measure it with ``wait4``."""
    logs.mkdir(parents=True, exist_ok=True)
    stdout_path = logs / f"{name}.stdout"
    stderr_path = logs / f"{name}.stderr"
    first_byte: list[float] = []
    done = threading.Event()
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            child.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child.env, cwd=PROJECT
        )
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
        watcher = None
        if child.watch_file is not None:
            watcher = threading.Thread(
                target=_watch_first_byte, args=(child.watch_file, started, first_byte, done)
            )
            watcher.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            wall = time.perf_counter() - started
            killer.cancel()
            done.set()
            if watcher is not None:
                watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = stdout_path.read_text(errors="replace")
    try:
        pages, complete, detail, report = child.verdict(text)
    except (OSError, ValueError, KeyError) as exc:
        pages, complete, detail, report = 0, False, f"no result: {exc}", {}
    if proc.returncode != 0:
        tail = stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
        detail = f"exit {proc.returncode}: {' | '.join(tail)}"
    return Measurement(
        name=name,
        faults=faults,
        returncode=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_kb=usage.ru_maxrss,
        pages=pages,
        complete=complete and proc.returncode == 0,
        detail=detail,
        report=report,
        first_page_s=first_byte[0] if first_byte else None,
    )


def _watch_first_byte(
    path: Path, started: float, found: list[float], done: threading.Event
) -> None:
    while not done.wait(0.005):
        try:
            if path.stat().st_size > 0:
                found.append(time.perf_counter() - started)
                return
        except FileNotFoundError:
            pass


def last_json_line(text: str) -> dict[str, Any]:
    """The last line of ``text`` that parses as a JSON object."""
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            value = json.loads(line)
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON line on stdout")


def counted_pages(site: Site) -> Callable[[str], tuple[int, bool, str, dict[str, Any]]]:
    """Verdict of a contender that prints ``{"pages": n, ...}``: complete when n == site.pages."""

    def verdict(stdout: str) -> tuple[int, bool, str, dict[str, Any]]:
        report = last_json_line(stdout)
        pages = int(report["pages"])
        extra = {k: v for k, v in report.items() if k != "pages" and v}
        return pages, pages == site.pages, " ".join(f"{k}={v}" for k, v in extra.items()), report

    return verdict


@dataclass(frozen=True)
class OutputCheck:
    """How a results JSONL compares with the set of pages a complete crawl stores."""

    lines: int
    distinct: int
    missing: int
    duplicates: int
    unexpected: int
    torn: int

    @property
    def exact(self) -> bool:
        return self.missing == self.duplicates == self.unexpected == self.torn == 0


def check_output(site: Site, out: Path) -> OutputCheck:
    """Compare the crawler's results file with the site: every page exactly once, no torn line."""
    expected = set(site.urls())
    seen: Counter[str] = Counter()
    torn = lines = 0
    with out.open("rb") as f:
        for raw in f:
            lines += 1
            try:
                record = json.loads(raw)
                seen[str(record["url"])] += 1
            except (ValueError, KeyError, TypeError):
                torn += 1
    return OutputCheck(
        lines=lines,
        distinct=len(seen),
        missing=len(expected - seen.keys()),
        duplicates=sum(n - 1 for n in seen.values() if n > 1),
        unexpected=len(seen.keys() - expected),
        torn=torn,
    )
