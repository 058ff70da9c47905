"""Tests of the benchmark harness itself (not timed): site, server, fault mode, measurement.

.venv/bin/python -m pytest bench/test_bench.py -q
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import shutil
import socket
import sys
import textwrap
import urllib.error
import urllib.request
from collections import Counter, deque
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import aiohttp
import bare
import gen_site
import lxml.html
import measure
import pytest
import run
from gen_site import Site
from hypothesis import given
from hypothesis import strategies as st
from nginx import LUA_MODULES, Nginx, render_config

needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
needs_lua = pytest.mark.skipif(
    not all(Path(m).exists() for m in LUA_MODULES), reason="nginx's Lua module is not installed"
)


def _free_port() -> int:
    """A port free on every 127.0.0.x the site uses (checked on .1; loopback shares ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    return gen_site.generate(tmp_path_factory.mktemp("site"), pages=120, hosts=4, port=_free_port())


def _page_file(site: Site, url: str) -> Path:
    parts = urlsplit(url)
    host = int(parts.hostname.rsplit(".", 1)[1]) - 1 if parts.hostname else -1
    rel = "index.html" if parts.path == "/" else parts.path.lstrip("/")
    return site.host_dir(host) / rel


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != gen_site.MANIFEST:  # the manifest names its root
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_generation_is_deterministic(tmp_path: Path) -> None:
    a = gen_site.generate(tmp_path / "a", pages=40, hosts=3, port=18999, seed=7)
    b = gen_site.generate(tmp_path / "b", pages=40, hosts=3, port=18999, seed=7)
    gen_site.generate(tmp_path / "c", pages=40, hosts=3, port=18999, seed=8)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")
    assert (a.html_bytes, a.gzip_bytes) == (b.html_bytes, b.gzip_bytes)
    assert gen_site.load(tmp_path / "a") == a


def test_ensure_reuses_a_matching_site_and_regenerates_otherwise(tmp_path: Path) -> None:
    first = gen_site.ensure(tmp_path, pages=16, hosts=2, port=18999)
    marker = tmp_path / "h1" / "marker"
    marker.write_text("kept")
    assert gen_site.ensure(tmp_path, pages=16, hosts=2, port=18999) == first
    assert marker.exists()
    other = gen_site.ensure(tmp_path, pages=20, hosts=2, port=18999)
    assert other.pages == 20
    assert not marker.exists()


def test_pages_are_realistic_and_every_page_is_reachable_from_the_seeds(site: Site) -> None:
    expected = set(site.urls())
    assert len(expected) == site.pages
    hosts = {urlsplit(s).netloc for s in site.seeds()}
    seen = set(site.seeds())
    queue = deque(site.seeds())
    anchors: list[int] = []
    while queue:
        url = queue.popleft()
        path = _page_file(site, url)
        body = path.read_bytes()
        assert gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == body
        assert 21_000 <= len(body) <= 26_000
        doc = lxml.html.document_fromstring(body)
        assert doc.findtext(".//title")
        hrefs = [a.get("href") or "" for a in doc.iter("a")]
        anchors.append(len(hrefs))
        origin = "http://" + urlsplit(url).netloc
        for href in hrefs:
            link = bare.resolve(url, origin, href)
            if link is None:
                assert href.startswith(("#", "mailto:"))
                continue
            assert urlsplit(link).netloc in hosts
            assert link in expected, f"{url} links to {link}, which is not a page"
            if link not in seen:
                seen.add(link)
                queue.append(link)
    assert seen == expected
    assert max(anchors) == 41  # nav 7, children 6, related 24, cross-host 2, #top, mailto
    assert sum(anchors) / len(anchors) >= 34  # leaves have no children


def test_robots_txt_per_host(site: Site) -> None:
    for host in range(site.hosts):
        robots = (site.host_dir(host) / "robots.txt").read_text()
        assert "User-agent: *" in robots
        assert site.host_addr(host) in robots


_segment = st.text("abcxyz09-_~", min_size=1, max_size=6)


@given(
    path=st.lists(_segment, min_size=1, max_size=4).map("/".join),
    form=st.sampled_from(["abs", "root", "rel", "dotdot", "query", "frag", "proto-rel"]),
    frag=st.one_of(st.none(), _segment),
)
def test_resolve_agrees_with_urljoin(path: str, form: str, frag: str | None) -> None:
    base = "http://127.0.0.3:8080/news/12-story.html"
    href = {
        "abs": f"http://127.0.0.5:8080/{path}",
        "root": f"/{path}",
        "rel": path,
        "dotdot": f"../{path}",
        "query": f"?q={path}",
        "frag": "",
        "proto-rel": f"//127.0.0.4:8080/{path}",
    }[form] + (f"#{frag}" if frag is not None else "")
    expected = urldefrag(urljoin(base, href)).url
    got = bare.resolve(base, "http://127.0.0.3:8080", href)
    if href.startswith("#") or href == "":
        assert got is None
    else:
        assert got == expected


def test_resolve_drops_non_http_links() -> None:
    base = "http://127.0.0.1:1/a/b.html"
    for href in ("mailto:x@y.example", "javascript:void(0)", "tel:123", "ftp://h/x", "#top"):
        assert bare.resolve(base, "http://127.0.0.1:1", href) is None


def test_nginx_config_has_no_lua_without_faults(site: Site, tmp_path: Path) -> None:
    clean = render_config(site, tmp_path)
    assert "gzip_static on;" in clean
    assert "access_log off;" in clean
    assert "load_module" not in clean
    assert "by_lua" not in clean
    for host in range(site.hosts):
        assert f"listen {site.host_addr(host)} " in clean
    faulty = render_config(site, tmp_path, fault_rate=0.25, fault_attempts=2)
    assert "ngx_http_lua_module.so" in faulty
    assert ">= 25000" in faulty
    assert "n > 2" in faulty
    with pytest.raises(ValueError, match="fault_rate"):
        render_config(site, tmp_path, fault_rate=1.5)


@needs_nginx
async def test_nginx_serves_pre_gzipped_pages(site: Site, tmp_path: Path) -> None:
    with Nginx(site, tmp_path / "ng"):
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            url = site.seeds()[1]
            async with session.get(url, headers={"Accept-Encoding": "gzip"}) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Encoding"] == "gzip"
                body = gzip.decompress(await resp.read())
            assert body == _page_file(site, url).read_bytes()
            async with session.get(url.rstrip("/") + "/robots.txt") as resp:
                assert resp.status == 200
    assert not (tmp_path / "ng" / "nginx.pid").exists()


@needs_nginx
@needs_lua
def test_faults_are_transient_and_hit_the_configured_share(site: Site, tmp_path: Path) -> None:
    # urllib, not aiohttp: aiohttp silently repeats a GET once when the connection drops, which
    # would hide a dropped-connection fault from the count.
    attempts_needed: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    with Nginx(site, tmp_path / "ng", fault_rate=0.3, fault_attempts=2):
        for url in site.urls():
            for attempt in range(1, 5):
                try:
                    with urllib.request.urlopen(url, timeout=5) as resp:
                        resp.read()
                    attempts_needed[attempt] += 1
                    break
                except urllib.error.HTTPError as exc:
                    kinds[str(exc.code)] += 1
                except http.client.RemoteDisconnected:
                    kinds["dropped"] += 1
            with urllib.request.urlopen(f"http://{urlsplit(url).netloc}/robots.txt") as robots:
                assert robots.status == 200
    # Every page succeeds, a faulty one exactly on its third request (after 2 failures).
    assert set(attempts_needed) <= {1, 3}
    assert sum(attempts_needed.values()) == site.pages
    assert 0.15 <= attempts_needed[3] / site.pages <= 0.45
    assert set(kinds) <= {"500", "503", "dropped"}
    assert len(kinds) >= 2


@needs_nginx
async def test_bare_loop_crawls_the_whole_site(site: Site, tmp_path: Path) -> None:
    with Nginx(site, tmp_path / "ng"):
        counts = await bare.crawl(site.seeds(), concurrency=8, per_host=2)
    assert counts["pages"] == counts["titles"] == site.pages
    assert counts["errors"] == 0


def test_measure_reports_cpu_rss_and_the_child_verdict(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import json, time
        blob = bytearray(80 * 2**20)
        for i in range(0, len(blob), 4096):
            blob[i] = 1
        end = time.process_time() + 0.2
        while time.process_time() < end:
            pass
        print("noise")
        print(json.dumps({"pages": 3, "retries": 1}))
        """
    )
    site = Site(root=str(tmp_path), pages=3, hosts=1, port=1, seed=0)
    child = measure.Child([sys.executable, "-c", script], {}, measure.counted_pages(site))
    m = measure.measure("probe", child, tmp_path / "logs", timeout_s=30)
    assert m.returncode == 0
    assert m.complete
    assert m.pages == 3
    assert m.detail == "retries=1"
    assert m.cpu_s >= 0.2
    assert m.wall_s >= m.cpu_s * 0.5
    assert m.peak_rss_kb >= 80 * 1024
    assert m.cpu_ms_per_page == pytest.approx(1000 * m.cpu_s / 3)


def test_measure_kills_a_child_past_its_timeout(tmp_path: Path) -> None:
    site = Site(root=str(tmp_path), pages=1, hosts=1, port=1, seed=0)
    sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
    m = measure.measure(
        "slow", measure.Child(sleeper, {}, measure.counted_pages(site)), tmp_path, 0.3
    )
    assert m.returncode < 0
    assert not m.complete
    assert m.wall_s < 10
    assert m.detail.startswith("exit ")


def test_check_output_finds_missing_duplicate_unexpected_and_torn_lines(
    site: Site, tmp_path: Path
) -> None:
    urls = list(site.urls())
    out = tmp_path / "results.jsonl"
    out.write_text("".join(json.dumps({"url": u}) + "\n" for u in urls))
    assert measure.check_output(site, out).exact
    lines = [json.dumps({"url": u}) for u in urls[2:]]
    lines += [json.dumps({"url": urls[5]}), json.dumps({"url": "http://elsewhere.example/"})]
    out.write_text("\n".join(lines) + '\n{"url": "http://127.0')
    check = measure.check_output(site, out)
    assert (check.missing, check.duplicates, check.unexpected, check.torn) == (2, 1, 1, 1)
    assert not check.exact


def test_crawler_config_loads_with_the_project_config_loader(site: Site, tmp_path: Path) -> None:
    config_mod = pytest.importorskip("crawler.config")
    path = run.crawler_config(site, tmp_path / "bench.toml", concurrency=64, per_host=8)
    cfg = config_mod.load_config(path, env={})
    assert cfg.crawl.respect_robots_txt
    assert cfg.crawl.max_pages == 0
    assert cfg.crawl.concurrency == 64
    assert cfg.crawl.per_host_concurrency == cfg.throttle.initial_concurrency == 8
    assert cfg.llm.enabled
    assert cfg.llm.base_url == run.DEAD_LLM_URL
    assert cfg.storage.backend == "sqlite"


def test_frontier_urls_put_real_pages_first_and_are_unique(site: Site) -> None:
    frontier_urls = pytest.importorskip("frontier_probe").frontier_urls  # imports crawler
    entries = list(frontier_urls(site, 1000))
    urls = [u for u, _ in entries]
    assert len(urls) == len(set(urls)) == 1000
    assert urls[: site.pages] == list(site.urls())
    assert {d for u, d in entries if u in site.seeds()} == {0}
    assert {d for _, d in entries[site.pages :]} == {2}
    assert [u for u, _ in frontier_urls(site, 5)] == urls[:5]


def test_median_keeps_the_middle_run() -> None:
    def m(wall: float) -> measure.Measurement:
        return measure.Measurement("x", 0.0, 0, wall, 1.0, 1, 100, True)

    assert run._median([m(1.0), m(4.0), m(2.0)]).wall_s == 2.0
    assert run._median([m(1.0), m(2.0)]).wall_s == 2.0  # the lower rate of the middle two


@needs_nginx
async def test_mutate_site_edits_its_share_and_nginx_sees_the_change(tmp_path: Path) -> None:
    import mutate_site

    small = gen_site.generate(tmp_path / "site", pages=200, hosts=2, port=_free_port())
    chosen = mutate_site.chosen(small, 0.1, 1)
    assert chosen == mutate_site.chosen(small, 0.1, 1)  # the same command edits the same pages
    assert 10 <= len(chosen) <= 30
    edited, kept = chosen[0], next(g for g in range(small.pages) if g not in chosen)
    urls = {g: small.host_addr(g % small.hosts) for g in (edited, kept)}
    paths = {g: gen_site.page_path(small.seed, g % small.hosts, g // small.hosts) for g in urls}
    workdir = tmp_path / "ng"
    async with aiohttp.ClientSession() as session:
        etags: dict[int, str] = {}
        with Nginx(small, workdir):
            for g in urls:
                async with session.get(f"http://{urls[g]}{paths[g]}") as resp:
                    etags[g] = resp.headers["ETag"]
        assert mutate_site.mutate(small, 0.1, 1) == len(chosen)
        page = mutate_site.file_of(small, edited)
        html = page.read_bytes()
        assert b"(update 1)</title>" in html
        assert gzip.decompress(page.with_name(page.name + ".gz").read_bytes()) == html
        with Nginx(small, workdir, access_log=True):  # a fresh nginx: no cached mtimes
            for g, want in ((edited, 200), (kept, 304)):
                headers = {"If-None-Match": etags[g]}
                async with session.get(f"http://{urls[g]}{paths[g]}", headers=headers) as resp:
                    assert resp.status == want, g
    logged = [line.split() for line in (workdir / "access.log").read_text().splitlines()]
    assert [status for status, _ in logged] == ["200", "304"]
    assert all(int(sent) > 0 for _, sent in logged)
