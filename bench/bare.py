"""The physical limit: a bare asyncio + aiohttp + lxml crawl loop, nothing else.

No robots.txt, no retries, no state, no output: fetch, parse title and links with lxml, resolve,
drop fragments and other hosts, dedupe in a set, queue. What a crawler does beyond this is what
its safety costs. Prints one JSON line at the end: ``{"pages": ..., "errors": ..., "titles": ...}``.

    python bench/bare.py http://127.0.0.1:18080/ ... --concurrency 64 --per-host-concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import urljoin, urlsplit

import aiohttp
import lxml.html


def resolve(base: str, origin: str, href: str) -> str | None:
    """``href`` made absolute without a fragment; None for non-http(s) links.

    The two common forms (absolute, root-relative) skip stdlib ``urljoin``, which costs more than
    parsing the page does when done 40 times a page. Those two forms are taken as they are: dot
    segments in them are not removed (the bench site has none), which a real crawler must do.
    """
    href = href.strip()
    cut = href.find("#")
    if cut >= 0:
        href = href[:cut]
    if not href:
        return None
    if href.startswith(("http://", "https://")):
        return href
    if href.startswith("/") and not href.startswith("//"):
        return origin + href
    if ":" in href.split("/", 1)[0]:  # mailto:, javascript:, tel: ...
        return None
    url = urljoin(base, href)
    return url if url.startswith(("http://", "https://")) else None


async def crawl(seeds: list[str], concurrency: int, per_host: int) -> dict[str, int]:
    """Crawl everything reachable from ``seeds`` on the seeds' hosts; returns the counts."""
    allowed = {urlsplit(s).netloc for s in seeds}
    seen: set[str] = set(seeds)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for seed in seeds:
        queue.put_nowait(seed)
    counts = {"pages": 0, "errors": 0, "titles": 0, "links": 0}
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)

    async def worker(session: aiohttp.ClientSession) -> None:
        while True:
            url = await queue.get()
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                    final = str(resp.url)
                    ok = resp.status == 200
                if not ok or not body:
                    counts["errors"] += 1
                    continue
                counts["pages"] += 1
                doc = lxml.html.document_fromstring(body)
                if doc.findtext(".//title"):
                    counts["titles"] += 1
                parts = urlsplit(final)
                origin = f"{parts.scheme}://{parts.netloc}"
                for element in doc.iter("a", "area"):
                    href = element.get("href")
                    if href is None:
                        continue
                    link = resolve(final, origin, href)
                    counts["links"] += 1
                    if link is None or link in seen:
                        continue
                    if urlsplit(link).netloc not in allowed:
                        continue
                    seen.add(link)
                    queue.put_nowait(link)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                counts["errors"] += 1
            finally:
                queue.task_done()

    async with aiohttp.ClientSession(connector=connector) as session, asyncio.TaskGroup() as tg:
        workers = [tg.create_task(worker(session)) for _ in range(concurrency)]
        await queue.join()
        for task in workers:
            task.cancel()
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description="bare asyncio + aiohttp + lxml crawl loop")
    ap.add_argument("seeds", nargs="+")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-host-concurrency", type=int, default=8)
    args = ap.parse_args()
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    counts = runner(crawl(args.seeds, args.concurrency, args.per_host_concurrency))
    json.dump(counts, sys.stdout)
    print()


if __name__ == "__main__":
    main()
