"""A loopback site whose pages change between crawls, for the recrawl tests.

Every page has a generation (bumped by :meth:`ChangingSite.edit`) from which its validators are
made, and a way of serving them (``validators``):

- ``"etag"`` / ``"weak"``: a strong / weak ETag; ``"lastmod"``: Last-Modified only; ``"both"``;
- ``"none"``: no validators (only the digest can tell);
- ``"ignores"``: an ETag, but never a 304 (a server that ignores conditional requests);
- ``"liar"``: the same ETag whatever the generation, and a 304 whenever it matches.

``noise=True`` puts a clock time, a view counter and a random token in the page on every
request (the digest must not see them). Removed pages answer 404 (or ``gone_status``). The site
serves ``/robots.txt`` (listing the sitemap when ``robots_lists_sitemap``) and ``/sitemap.xml``
(optionally gzipped) from :attr:`ChangingSite.sitemap`. Every request is logged with its
conditional headers, status and body size.
"""

from __future__ import annotations

import gzip
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
PADDING = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40  # ~2.3 KB a page


@dataclass
class SitePage:
    title: str
    links: list[str] = field(default_factory=list)
    validators: str = "etag"
    noise: bool = False
    generation: int = 0

    def etag(self, path: str) -> str:
        gen = 0 if self.validators == "liar" else self.generation
        tag = f'"{path.strip("/").replace("/", "-") or "root"}-{gen}"'
        return f"W/{tag}" if self.validators == "weak" else tag

    def modified(self) -> datetime:
        return BASE_TIME + timedelta(hours=self.generation)


@dataclass(frozen=True)
class Hit:
    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    nbytes: int

    @property
    def conditional(self) -> bool:
        return self.if_none_match is not None or self.if_modified_since is not None


class ChangingSite:
    """``async with ChangingSite() as site:``; edit pages between crawls."""

    __test__ = False

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.pages: dict[str, SitePage] = {}
        self.removed: dict[str, int] = {}  # path -> status (404 or 410)
        self.sitemap: dict[str, datetime | None] | None = None  # path -> lastmod
        self.sitemap_gzip = False
        self.robots_lists_sitemap = True
        self.hits: list[Hit] = []
        self._counter = itertools.count(1000)
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path: str, title: str, links: list[str] | None = None, **kw: object) -> None:
        self.removed.pop(path, None)
        self.pages[path] = SitePage(title, list(links or []), **kw)  # type: ignore[arg-type]

    def edit(self, path: str, *, title: str | None = None, links: list[str] | None = None) -> None:
        """A content change: a new generation (new ETag, later Last-Modified)."""
        page = self.pages[path]
        page.generation += 1
        if title is not None:
            page.title = title
        if links is not None:
            page.links = list(links)

    def remove(self, path: str, status: int = 404) -> None:
        self.pages.pop(path, None)
        self.removed[path] = status

    def hits_since(self, n: int) -> list[Hit]:
        return self.hits[n:]

    # -- lifetime ----------------------------------------------------------------------------
    async def __aenter__(self) -> ChangingSite:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- serving -----------------------------------------------------------------------------
    def _log(self, request: web.Request, resp: web.Response) -> web.Response:
        body = resp.body if isinstance(resp.body, bytes) else b""
        self.hits.append(
            Hit(
                request.path,
                request.headers.get("If-None-Match"),
                request.headers.get("If-Modified-Since"),
                resp.status,
                len(body),
            )
        )
        return resp

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        if path == "/robots.txt":
            text = "User-agent: *\nAllow: /\n"
            if self.robots_lists_sitemap and self.sitemap is not None:
                text += f"Sitemap: {self.url('/sitemap.xml')}\n"
            return self._log(request, web.Response(text=text, content_type="text/plain"))
        if path == "/sitemap.xml":
            return self._log(request, self._sitemap())
        if path in self.removed:
            return self._log(request, web.Response(status=self.removed[path], text="gone"))
        page = self.pages.get(path)
        if page is None:
            return self._log(request, web.Response(status=404, text="not found"))
        return self._log(request, self._page(request, path, page))

    def _sitemap(self) -> web.Response:
        if self.sitemap is None:
            return web.Response(status=404, text="no sitemap")
        entries = []
        for path, lastmod in self.sitemap.items():
            mod = f"<lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else ""
            entries.append(f"<url><loc>{self.url(path)}</loc>{mod}</url>")
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(entries)
            + "</urlset>"
        ).encode()
        if self.sitemap_gzip:
            return web.Response(body=gzip.compress(xml), content_type="application/gzip")
        return web.Response(body=xml, content_type="application/xml")

    def _page(self, request: web.Request, path: str, page: SitePage) -> web.Response:
        headers: dict[str, str] = {}
        etag = page.etag(path)
        modified = format_datetime(page.modified(), usegmt=True)
        if page.validators in ("etag", "weak", "both", "ignores", "liar"):
            headers["ETag"] = etag
        if page.validators in ("lastmod", "both"):
            headers["Last-Modified"] = modified
        if page.validators != "ignores" and _not_modified(request, headers):
            return web.Response(status=304, headers=headers)
        noise = ""
        if page.noise:
            n = next(self._counter)
            noise = (
                f"<p>Generated at {datetime.now(UTC).isoformat()} · {n} views ·"
                f" request id {secrets.token_hex(12)}</p>"
                f'<input type="hidden" name="csrf" value="{secrets.token_hex(16)}">'
            )
        links = "".join(f'<a href="{href}">{href}</a> ' for href in page.links)
        html = (
            f"<!doctype html><html><head><title>{page.title}</title></head><body>"
            f"<h1>{page.title}</h1><p>{PADDING}</p>{noise}{links}</body></html>"
        )
        return web.Response(text=html, content_type="text/html", headers=headers)


def _not_modified(request: web.Request, headers: dict[str, str]) -> bool:
    inm = request.headers.get("If-None-Match")
    if inm is not None:
        etag = headers.get("ETag")
        return etag is not None and any(
            tag.strip().removeprefix("W/") == etag.removeprefix("W/") for tag in inm.split(",")
        )
    ims = request.headers.get("If-Modified-Since")
    modified = headers.get("Last-Modified")
    return ims is not None and modified is not None and ims == modified
