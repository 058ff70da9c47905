"""Recrawl end to end: the same cron command, four times, over a site that changes between runs
(docs/recrawl.md). Both state backends."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from crawler import AdaptiveCrawler
from crawler.config import Config
from crawler.engine.revisit import SHORT_KEYS
from tests.recrawl_site import BASE_TIME, ChangingSite, Hit
from tests.redis_server import redis_url_fixture  # noqa: F401 - the redis_url fixture

FILLERS = [f"/p/{i}" for i in range(20)]
BACKENDS = ["sqlite", pytest.param("redis", marks=pytest.mark.redis)]


def build(site: ChangingSite) -> None:
    site.add("/", "home", ["/a", "/b", "/c", "/d", "/e", "/news", "/old", *FILLERS])
    site.add("/a", "a", validators="etag")
    site.add("/b", "b", validators="lastmod")
    site.add("/c", "c", validators="weak")
    site.add("/d", "d", validators="none", noise=True)
    site.add("/e", "e", validators="ignores")
    site.add("/news", "news", ["/"], validators="both")
    site.add("/old", "old")
    site.add("/only-in-sitemap-1", "sitemap one")
    for path in FILLERS:
        site.add(path, f"filler {path}")
    site.sitemap = {"/": None, "/a": BASE_TIME, "/only-in-sitemap-1": None}


def config_file(tmp_path: Path, backend: str, redis_url: str) -> Path:
    storage = f'backend = "redis"\nredis_url = "{redis_url}"' if backend == "redis" else ""
    path = tmp_path / "crawl.toml"
    path.write_text(
        f"""
[retry]
base_delay_s = 0.01
network_base_delay_s = 0.01
max_delay_s = 0.05
[llm]
enabled = false
[storage]
batch_interval_s = 0.02
{storage}
[recrawl]
min_interval_s = 0.0
initial_interval_s = 0.0
""",
        encoding="utf-8",
    )
    return path


async def crawler_command(*args: str) -> int:
    """``crawler ARGS...`` as cron runs it: a process of its own (the site keeps serving)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        print(err.decode(errors="replace"))
    assert proc.returncode is not None
    return proc.returncode


class Cron:
    """One crawl command, run again and again; what each run wrote and requested."""

    def __init__(self, site: ChangingSite, tmp_path: Path, config: Path) -> None:
        self.site = site
        self.out = tmp_path / "pages.jsonl"
        self.summary_path = tmp_path / "summary.json"
        self.args = [
            "run",
            site.url("/"),
            "--config",
            str(config),
            "--state-dir",
            str(tmp_path / "state"),
            "--out",
            str(self.out),
            "--summary-json",
            str(self.summary_path),
        ]

    async def run(self, *extra: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[Hit]]:
        """Run the command; (its summary, the lines it added, the requests it made)."""
        before = self.out.stat().st_size if self.out.exists() else 0
        first_hit = len(self.site.hits)
        assert await crawler_command(*self.args, *extra) == 0
        with self.out.open("rb") as f:
            f.seek(before)
            lines = [json.loads(line) for line in f.read().decode().splitlines()]
        summary = json.loads(self.summary_path.read_text())
        return summary, lines, self.site.hits_since(first_hit)

    def all_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines()]


def by_path(lines: list[dict[str, Any]], site: ChangingSite) -> dict[str, dict[str, Any]]:
    prefix = site.url("")
    out = {line["url"].removeprefix(prefix): line for line in lines}
    assert len(out) == len(lines), "a URL written twice within one run"
    return out


def page_hits(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.path not in ("/robots.txt", "/sitemap.xml") and h.status != 404]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
async def test_four_runs_of_the_same_command(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else ""
    async with ChangingSite() as site:
        build(site)
        cron = Cron(site, tmp_path, config_file(tmp_path, backend, redis_url))

        # Run 1: everything is new; the page only the sitemap lists is found.
        s1, lines1, hits1 = await cron.run("--recrawl")
        got1 = by_path(lines1, site)
        assert set(got1) == set(site.pages)  # /only-in-sitemap-1: linked from nowhere
        assert {line["change"] for line in lines1} == {"new"}
        assert (s1["pages_new"], s1["pages_changed"], s1["pages_unchanged"]) == (29, 0, 0)
        assert s1["pages_ok"] == 29
        assert not any(h.conditional for h in hits1)

        # Between runs: two pages edited (one links to a new page), one removed.
        site.edit("/c", title="c v2")
        site.edit("/news", title="news v2", links=["/", "/fresh"])
        site.add("/fresh", "fresh")
        site.remove("/old")

        s2, lines2, hits2 = await cron.run("--recrawl")
        got2 = by_path(lines2, site)
        # Every stored page is revisited exactly once (all are due: intervals of 0), and with
        # conditional headers when it had validators: all but /d — /e's server ignores them,
        # /old answers 404 now, but both had an ETag in run 1.
        stored = {*got1, "/fresh"}
        once = Counter(h.path for h in hits2 if h.path in stored)  # (not robots, sitemap, probes)
        assert once == Counter(stored), once
        requested = {h.path: h for h in hits2}
        validated = set(got1) - {"/d"}
        for path in validated:
            assert requested[path].conditional, path
        assert not requested["/fresh"].conditional
        assert (requested["/e"].status, requested["/old"].status) == (200, 404)
        assert requested["/b"].if_modified_since
        assert not requested["/b"].if_none_match
        assert requested["/c"].if_none_match == 'W/"c-0"'
        assert not requested["/d"].conditional
        unchanged = {"/", "/a", "/b", "/only-in-sitemap-1", *FILLERS}
        assert {p for p, h in requested.items() if h.status == 304} == unchanged
        assert s2["bytes_downloaded"] <= 0.35 * s1["bytes_downloaded"]
        assert sum(h.nbytes for h in hits2) <= 0.35 * sum(h.nbytes for h in hits1)
        # Changed pages again with their new titles; the new page; the removed one gone.
        assert got2["/c"]["change"] == "changed"
        assert got2["/c"]["title"] == "c v2"
        assert got2["/news"]["change"] == "changed"
        assert got2["/news"]["title"] == "news v2"
        assert got2["/fresh"]["change"] == "new"
        assert got2["/old"]["change"] == "gone"
        assert got2["/old"]["status"] == 404
        assert set(got2) == {"/c", "/news", "/fresh", "/old"}  # /d, /e: unchanged digests
        assert s2["pages_new"] == 1
        assert s2["pages_changed"] == 2
        assert s2["pages_unchanged"] == 26  # 24 answered 304, /d and /e by their digest
        assert s2["not_modified"] == 24
        assert s2["pages_gone"] == 1
        assert s2["pages_ok"] == 30 == len({line["url"] for line in cron.all_lines()})

        # Run 3: the sitemap lists a new page and says /a changed (it did); /e is gone (410).
        site.edit("/a", title="a v2")
        site.sitemap = {
            "/": None,
            "/a": BASE_TIME + timedelta(days=400),
            "/only-in-sitemap-1": None,
            "/only-in-sitemap-2": None,
        }
        site.add("/only-in-sitemap-2", "sitemap two")
        site.remove("/e", 410)
        s3, lines3, hits3 = await cron.run("--recrawl")
        got3 = by_path(lines3, site)
        assert got3["/only-in-sitemap-2"]["change"] == "new"
        assert got3["/a"]["change"] == "changed"
        assert got3["/a"]["title"] == "a v2"
        assert got3["/e"]["change"] == "gone"
        assert got3["/e"]["status"] == 410
        assert set(got3) == {"/only-in-sitemap-2", "/a", "/e"}
        assert "/old" not in {h.path for h in hits3}  # gone: looked at after max_interval_s
        assert (s3["pages_new"], s3["pages_changed"], s3["pages_gone"]) == (1, 1, 1)

        # Run 4: nothing changed: no line at all. Every page but the two gone ones is revisited
        # once more and found unchanged (a 304, or the same digest for /d).
        s4, lines4, hits4 = await cron.run("--recrawl")
        assert lines4 == []
        assert s4["pages_changed"] == s4["pages_new"] == s4["pages_gone"] == 0
        stored = {*stored, "/only-in-sitemap-2"}
        revisited = Counter(h.path for h in hits4 if h.path in stored)
        assert revisited == Counter(stored - {"/old", "/e"}), revisited
        assert s4["pages_unchanged"] == 29
        assert s4["not_modified"] == 28
        assert s4["pages_ok"] == 31 == len({line["url"] for line in cron.all_lines()})

        # A plain rerun (no --recrawl) fetches nothing.
        s5, lines5, hits5 = await cron.run()
        assert (s5["requests"], lines5, hits5) == (0, [], [])
        assert s5["pages_ok"] == 31

    # The DLQ holds the two gone pages as NOT_FOUND.
    dlq_args = ["dlq", "list", "--state-dir", str(tmp_path / "state"), "--json"]
    if backend == "redis":
        dlq_args += ["--config", str(tmp_path / "crawl.toml")]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *dlq_args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    entries = json.loads(out)
    assert Counter(e["error"]["category"] for e in entries) == {"NOT_FOUND": 2}


# -- the library, one crawler object over several runs --------------------------------------------
class Later:
    """Real time plus an offset the test moves (the revisits fall due)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


RECRAWL = {
    "crawl.recrawl": True,
    "recrawl.min_interval_s": 60.0,
    "recrawl.initial_interval_s": 3600.0,
    "recrawl.schedule_slack_s": 0.0,
}


async def test_unchanged_lines_failed_revisits_and_stale_robots(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    clock = Later()
    async with ChangingSite() as site:
        site.add("/", "home", ["/a", "/flaky"])
        site.add("/a", "a")
        site.add("/flaky", "flaky")
        cfg = make_config(
            **{k.replace(".", "__"): v for k, v in RECRAWL.items()},
            recrawl__unchanged_lines=True,
            retry__max_retries=1,
        )
        out = cfg.crawl.out_path
        async with AdaptiveCrawler(cfg, clock=clock) as crawler:
            first = await crawler.run([site.url("/")])
            assert first.pages_new == 3
            robots = [h for h in site.hits if h.path == "/robots.txt"]
            assert len(robots) == 1

            # An hour later: /a unchanged (a short line), /flaky fails for good (500, 500).
            clock.offset = 3600.0
            site.remove("/flaky", 500)
            size = out.stat().st_size
            second = await crawler.run([site.url("/")])
            lines = [json.loads(x) for x in out.read_bytes()[size:].decode().splitlines()]
            assert {tuple(sorted(x)) for x in lines} == {tuple(sorted(SHORT_KEYS))}
            assert {x["url"]: x["status"] for x in lines} == {
                site.url("/"): 304,
                site.url("/a"): 304,
            }
            assert (second.pages_unchanged, second.not_modified, second.pages_failed) == (2, 2, 1)
            assert second.pages_ok == 3  # the stored /flaky is not lost
            (entry,) = await crawler.storage.dlq_list()
            assert entry.error["category"] == "SERVER"
            assert entry.attempts == 3  # 1 + the revisit's 2 requests
            assert len([h for h in site.hits if h.path == "/robots.txt"]) == 1  # still fresh

            # Two days later: robots.txt is older than robots_max_age_s, fetched again; /flaky
            # is back with a new title: stored again as changed, which clears its DLQ entry.
            clock.offset = 2 * 86_400.0
            site.add("/flaky", "flaky again", generation=1)
            third = await crawler.run([site.url("/")])
            assert len([h for h in site.hits if h.path == "/robots.txt"]) == 2
            assert third.pages_changed == 1
            assert await crawler.storage.dlq_list() == []
    records = [json.loads(x) for x in out.read_text().splitlines()]
    flaky = [r for r in records if r["url"].endswith("/flaky")]
    assert [r["change"] for r in flaky] == ["new", "changed"]
    assert flaky[-1]["title"] == "flaky again"
    assert flaky[-1]["attempts"] == 4


async def test_sitemap_xml_without_robots_listing_gzip(
    make_config: Callable[..., Config],
) -> None:
    async with ChangingSite() as site:
        site.add("/", "home")
        site.add("/hidden", "hidden")
        site.sitemap = {"/": None, "/hidden": None}
        site.sitemap_gzip = True
        site.robots_lists_sitemap = False
        cfg = make_config(**{k.replace(".", "__"): v for k, v in RECRAWL.items()})
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([site.url("/")])
        assert summary.pages_new == 2
        assert [h.path for h in site.hits].count("/sitemap.xml") == 1
        cfg = make_config(
            crawl__state_dir=str(cfg.crawl.state_dir) + "-off",
            **{k.replace(".", "__"): v for k, v in RECRAWL.items()},
            recrawl__sitemaps=False,
        )
        async with AdaptiveCrawler(cfg) as crawler:
            summary = await crawler.run([site.url("/")])
        assert summary.pages_new == 1
        assert [h.path for h in site.hits].count("/sitemap.xml") == 1
