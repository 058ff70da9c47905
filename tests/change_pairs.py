"""A labelled set for the recrawl digest: pairs of versions of one page, each labelled by what a
reader would say — ``changed`` or not. ``tests/test_digest.py`` scores digests on it.

Every page is the same article with one variation between its two versions. The unchanged pairs
vary what dynamic sites change on every request (clocks, counters, tokens, markup); the changed
pairs vary content, including the small edits a too eager normaliser would miss (a price, a
date, a bare time, a link target).
"""

from __future__ import annotations

from dataclasses import dataclass

ARTICLE = (
    "The city council approved the new cycling plan on Tuesday after a long debate. "
    "Work on the first three routes starts in spring and should end within two years."
)


@dataclass(frozen=True)
class Pair:
    name: str
    changed: bool
    a: bytes
    b: bytes


def page(
    *,
    title: str = "Council approves cycling plan",
    body: str = ARTICLE,
    extra: str = "",
    head: str = "",
    links: str = '<a href="/news/">News</a> <a href="/sport/">Sport</a>',
    indent: str = "",
) -> bytes:
    n = "\n" + indent
    html = (
        f"<!doctype html><html><head><title>{title}</title>{head}</head><body>{n}"
        f"<nav>{links}</nav>{n}<h1>{title}</h1>{n}<p>{body}</p>{n}{extra}{n}</body></html>"
    )
    return html.encode()


def _same(name: str, **kw: tuple[str, str]) -> Pair:
    ((key, (x, y)),) = kw.items()
    return Pair(name, False, page(**{key: x}), page(**{key: y}))


def _diff(name: str, **kw: tuple[str, str]) -> Pair:
    ((key, (x, y)),) = kw.items()
    return Pair(name, True, page(**{key: x}), page(**{key: y}))


PAIRS: tuple[Pair, ...] = (
    # -- unchanged: what a reader would not call a change ---------------------------------------
    _same(
        "iso timestamp", extra=("Generated 2024-05-01T10:22:33Z", "Generated 2024-05-02T08:01:09Z")
    ),
    _same(
        "iso timestamp with offset",
        extra=("at 2024-05-01T10:22+02:00", "at 2024-05-01T11:40+02:00"),
    ),
    _same(
        "http date",
        extra=(
            "Last updated: Mon, 01 Jan 2024 10:00:00 GMT",
            "Last updated: Tue, 02 Jan 2024 11:30:00 GMT",
        ),
    ),
    _same("clock with seconds", extra=("Page rendered 14:32:07", "Page rendered 09:01:55")),
    _same("clock am/pm", extra=("As of 2:32 pm", "As of 11:05 am")),
    _same("clock with zone", extra=("Updated 10:22 UTC", "Updated 11:40 UTC")),
    _same("date and time", extra=("Updated 2024-05-01 10:22 UTC", "Updated 2024-05-01 11:40 UTC")),
    _same("minutes ago", extra=("Posted 5 minutes ago", "Posted 2 hours ago")),
    _same("an hour ago", extra=("Edited an hour ago", "Edited just now")),
    _same("view counter", extra=("1,234 views", "1,240 views")),
    _same("visitors label", extra=("Visitors: 42", "Visitors: 57")),
    _same("online now", extra=("Online now: 17", "Online now: 23")),
    _same("comment count", extra=("3 comments", "4 comments")),
    _same("likes", extra=("12K likes", "13K likes")),
    _same(
        "request id",
        extra=("Request id 8f3a2c9d1e7b4a60c5d2e9f1", "Request id 1b7e0d4c9a2f3e8d6c5b4a39"),
    ),
    _same(
        "csrf in a hidden input",
        extra=(
            '<form><input type="hidden" name="csrf" value="a1b2c3d4e5f6"><button>Go</button>',
            '<form><input type="hidden" name="csrf" value="99887766aabb"><button>Go</button>',
        ),
    ),
    _same(
        "nonce in a script",
        head=(
            '<script nonce="r4nd0m1">window.t=1714558953</script>',
            '<script nonce="x9y8z7w6">window.t=1714562553</script>',
        ),
    ),
    _same(
        "json-ld dateModified",
        head=(
            '<script type="application/ld+json">{"dateModified": "2024-05-01"}</script>',
            '<script type="application/ld+json">{"dateModified": "2024-05-09"}</script>',
        ),
    ),
    _same("inline style", head=("<style>.a{color:red}</style>", "<style>.a{color:blue}</style>")),
    _same("comment", extra=("<!-- cache hit node 7 -->", "<!-- cache miss node 2 -->")),
    _same("re-indented markup", indent=("", "        ")),
    _same(
        "attributes only",
        extra=('<div class="x1">Share</div>', '<div class="y2" id="s">Share</div>'),
    ),
    _same(
        "cache buster link",
        links=('<a href="/news/?v=1714558953">News</a>', '<a href="/news/?v=1714562553">News</a>'),
    ),
    _same(
        "session id link",
        links=('<a href="/news/?sid=a81b2c3d">News</a>', '<a href="/news/?sid=ff0e1d2c">News</a>'),
    ),
    _same(
        "utm link",
        links=('<a href="/news/?utm_source=a">News</a>', '<a href="/news/?utm_source=b">News</a>'),
    ),
    # -- changed: what a reader would call a change ---------------------------------------------
    _diff("title", title=("Council approves cycling plan", "Council rejects cycling plan")),
    _diff("paragraph added", extra=("", "<p>Residents can comment until June.</p>")),
    _diff("word", body=(ARTICLE, ARTICLE.replace("three", "four"))),
    _diff("price", extra=("Ticket: $10.00", "Ticket: $12.00")),
    _diff("date only", extra=("Event on 2024-05-01", "Event on 2024-06-01")),
    _diff("written date", extra=("Deadline: May 1, 2024", "Deadline: May 8, 2024")),
    _diff("bare time", extra=("Opens 9:30 daily", "Opens 10:30 daily")),
    _diff("score", extra=("Final score 3-1", "Final score 3-2")),
    _diff("version", extra=("Version 1.2.3", "Version 1.2.4")),
    _diff("stock", extra=("5 in stock", "0 in stock")),
    _diff("phone", extra=("Call 555-0100", "Call 555-0199")),
    _diff("link target", links=('<a href="/news/">News</a>', '<a href="/latest/">News</a>')),
    _diff(
        "link added",
        links=('<a href="/news/">News</a>', '<a href="/news/">News</a> <a href="/x/">X</a>'),
    ),
    _diff(
        "list item removed", extra=("<ul><li>one</li><li>two</li></ul>", "<ul><li>one</li></ul>")
    ),
    _diff("sentences reordered", body=(ARTICLE, " ".join(reversed(ARTICLE.split(". "))))),
    _diff(
        "page parameter link",
        links=('<a href="/news/?page=2">Next</a>', '<a href="/news/?page=3">Next</a>'),
    ),
    _diff(
        "image replaced", extra=('<img src="/a.jpg" alt="plan">', '<img src="/b.jpg" alt="map">')
    ),
)
