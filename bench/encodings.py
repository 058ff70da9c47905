"""Charset detection on the labelled corpus: how many titles each decoder gets right.

Run: ``.venv/bin/python bench/encodings.py [--wrong]``; ``--hot-path N`` times decode_body on the
UTF-8 bench site instead. The corpus is tests/data/encodings (see tests/encodings_corpus.py):
every page twice, with its charset declared (header, ``<meta>`` or BOM) and with nothing
declared. A page counts as right when the title parsed from the decoded text is exactly its true
title.

Contenders: the crawler's :func:`decode_body`, and each detector alone on the raw bytes:
charset_normalizer, chardet, cchardet (faust-cchardet on PyPI) and chardetng-py, each when
installed (``.venv/bin/pip install charset-normalizer chardet faust-cchardet``). A detector's
answer is read the way a browser reads that label (:func:`codec_for`: "SHIFT_JIS" → cp932), the
page decoded with it and replacement characters; no answer means UTF-8. The detectors see no
HTTP header, so on header-declared pages their "declared" figure is their undeclared one. Time:
CPU µs a page for decoding alone (detection included), the mean over the corpus.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import timeit
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler.web.parse import codec_for, decode_body, parse_html
from tests.encodings_corpus import Page, load

Decoder = Callable[[bytes, str], str]  # (body, content type) -> text
URL = "http://corpus.test/page.html"


def _by_label(label: object) -> str:
    return (codec_for(str(label)) if label else None) or "utf-8"


def crawler(body: bytes, content_type: str) -> str:
    return decode_body(body, content_type)[0]


def _normalizer_guess(module: Any, body: bytes) -> object:
    best = module.from_bytes(body).best()
    return best.encoding if best else None


def _contenders() -> dict[str, Decoder]:
    contenders: dict[str, Decoder] = {"crawler decode_body": crawler}
    for name, detect in (
        ("charset_normalizer", _normalizer_guess),
        ("chardet", lambda m, b: m.detect(b)["encoding"]),
        ("cchardet", lambda m, b: m.detect(b)["encoding"]),
        ("chardetng_py", lambda m, b: m.detect(b)),
    ):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue

        def decoder(body: bytes, _: str, m: Any = module, d: Any = detect) -> str:
            return body.decode(_by_label(d(m, body)), "replace")

        contenders[name.removesuffix("_py")] = decoder
    return contenders


def right(page: Page, text: str) -> bool:
    return parse_html(text, URL).title == page.title


def run(pages: list[Page], decoder: Decoder) -> dict[str, object]:
    """Per variant: right pages overall, per family, the wrong ones, and CPU µs a page."""
    result: dict[str, object] = {}
    for variant in ("declared", "undeclared"):
        per_family: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        wrong: list[str] = []
        cpu = 0.0
        for page in pages:
            body = page.declared if variant == "declared" else page.undeclared
            content_type = page.declared_content_type if variant == "declared" else "text/html"
            start = time.process_time()
            text = decoder(body, content_type)
            cpu += time.process_time() - start
            ok = right(page, text)
            per_family[page.family][0] += ok
            per_family[page.family][1] += 1
            if not ok:
                wrong.append(page.id)
        result[variant] = {
            "right": sum(r for r, _ in per_family.values()),
            "total": len(pages),
            "families": dict(per_family),
            "wrong": wrong,
            "us_per_page": cpu / len(pages) * 1e6,
        }
    return result


def hot_path(limit: int) -> None:
    """CPU µs a page of decode_body on the UTF-8 bench site (bench/gen_site.py): charset in the
    header, in ``<meta>``, and nowhere (the meta removed), best of 7."""
    site = Path(__file__).parent / "site"
    bodies = [path.read_bytes() for path in sorted(site.rglob("*.html"))[:limit]]
    if not bodies:
        sys.exit("no pages: run bench/gen_site.py first")
    undeclared = [body.replace(b'<meta charset="utf-8">\n', b"", 1) for body in bodies]
    for label, pages, content_type in (
        ("header charset", bodies, "text/html; charset=utf-8"),
        ("meta charset", bodies, "text/html"),
        ("nothing declared", undeclared, "text/html"),
    ):

        def work(pages: list[bytes] = pages, content_type: str = content_type) -> None:
            for body in pages:  # one page's text at a time, as in the crawler
                decode_body(body, content_type)

        timer = timeit.Timer(work, timer=time.process_time)
        best = min(timer.repeat(number=5, repeat=7)) / (5 * len(pages))
        print(f"decode_body, UTF-8 page, {label:<18} {best * 1e6:7.1f} us/page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wrong", action="store_true", help="list the pages each got wrong")
    parser.add_argument(
        "--hot-path", type=int, metavar="N", help="time decode_body on N bench-site pages instead"
    )
    args = parser.parse_args()
    if args.hot_path:
        hot_path(args.hot_path)
        return
    pages = load()
    results = {name: run(pages, decoder) for name, decoder in _contenders().items()}
    encodings = len({p.encoding for p in pages})
    print(f"{len(pages)} pages in {encodings} encodings, each declared and undeclared\n")
    print("| decoder | declared | undeclared | µs/page (undeclared) |")
    print("| --- | ---: | ---: | ---: |")
    for name, result in results.items():
        cells = []
        for variant in ("declared", "undeclared"):
            r = result[variant]
            cells.append(f"{r['right'] / r['total']:.1%} ({r['right']}/{r['total']})")  # type: ignore[index]
        us = result["undeclared"]["us_per_page"]  # type: ignore[index]
        print(f"| {name} | {cells[0]} | {cells[1]} | {us:,.0f} |")
    families = sorted({p.family for p in pages}, key=[p.family for p in pages].index)
    print("\nUndeclared, per family (right / pages):\n")
    print("| family | " + " | ".join(results) + " |")
    print("| --- |" + " ---: |" * len(results))
    for family in families:
        cells = []
        for result in results.values():
            r, n = result["undeclared"]["families"][family]  # type: ignore[index]
            cells.append(f"{r}/{n}")
        print(f"| {family} | " + " | ".join(cells) + " |")
    if args.wrong:
        for name, result in results.items():
            for variant in ("declared", "undeclared"):
                wrong = result[variant]["wrong"]  # type: ignore[index]
                print(f"\n{name}, {variant}, wrong: {' '.join(wrong)}")


if __name__ == "__main__":
    main()
