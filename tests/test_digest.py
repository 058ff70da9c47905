"""The recrawl digest on a labelled set of page pairs (tests/change_pairs.py), before and after
its normaliser, and the normaliser's pieces. The figures are in docs/recrawl.md."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from crawler.web.digest import Digester
from crawler.web.parse import parse_html
from tests.change_pairs import PAIRS, Pair

Digest = Callable[[bytes], str]


def raw(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def with_(digester: Digester) -> Digest:
    def digest(body: bytes) -> str:
        parsed = parse_html(body, "http://site.test/a/", "utf-8", with_text=True)
        assert parsed.text is not None
        return digester.html(parsed.text, parsed.links)

    return digest


def score(digest: Digest) -> tuple[list[str], list[str]]:
    """(false changes: unchanged pairs called changed, missed changes)."""
    false, missed = [], []
    for pair in PAIRS:
        said = digest(pair.a) != digest(pair.b)
        if said and not pair.changed:
            false.append(pair.name)
        elif pair.changed and not said:
            missed.append(pair.name)
    return false, missed


def test_the_labelled_set() -> None:
    unchanged = [p for p in PAIRS if not p.changed]
    changed = [p for p in PAIRS if p.changed]
    assert (len(unchanged), len(changed)) == (25, 17)
    assert len({p.name for p in PAIRS}) == len(PAIRS)
    assert all(p.a != p.b for p in PAIRS)


def test_digest_before_and_after_the_normaliser() -> None:
    # Before: a digest of the bytes (what a crawler without a normaliser compares) calls every
    # unchanged pair changed.
    false, missed = score(raw)
    assert (len(false), missed) == (25, [])
    # Visible text and links without the built-in patterns: markup noise is gone, clocks,
    # counters, tokens and volatile link parameters are not.
    false, missed = score(with_(Digester(builtin=False)))
    assert len(false) == 18
    assert missed == ["image replaced"]
    # After: no unchanged pair is called changed; the one miss is a change outside the text
    # and the links (an <img>), which the digest does not see by design.
    false, missed = score(with_(Digester()))
    assert (false, missed) == ([], ["image replaced"])


def test_own_patterns() -> None:
    digest = with_(Digester(ignore=[r"Build \w+"]))
    pair = Pair("build", False, b"<p>Hello</p><p>Build a1</p>", b"<p>Hello</p><p>Build b2</p>")
    assert digest(pair.a) == digest(pair.b)
    assert with_(Digester())(pair.a) != with_(Digester())(pair.b)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (b"Updated 2024-05-01T10:22:33Z by x", b"Updatedbyx"),
        (b"Generated Mon, 01 Jan 2024 10:00:00 GMT.", b"Generated."),
        (b"1,234 views and Visitors: 42", b"and"),
        (b"posted 5 minutes ago, an hour ago, just now", b"posted,,"),
        (b"Chicago ago agog", b"Chicagoagoagog"),
        (b"price $12.50 on 2024-05-01", b"price$12.50on2024-05-01"),
        (b"id a8f3c9d2e1b0a8f3c9d2e1b0 end", b"idend"),
        (b"short-id ab12 and iPhone15", b"short-idab12andiPhone15"),
        (b"opens 9:30 daily", b"opens9:30daily"),
        (b"", b""),
        ("日本語 2024-05-01T10:22:33Z テキスト".encode(), "日本語テキスト".encode()),
    ],
)
def test_normalise(text: bytes, kept: bytes) -> None:
    assert Digester().normalise(text) == kept


def test_volatile_link_parameters() -> None:
    d = Digester()
    assert d.normalise_link("http://x/a?page=2&csrf_token=abc&v=123") == "http://x/a?page=2"
    assert d.normalise_link("http://x/a?sid=1") == "http://x/a"
    assert d.normalise_link("http://x/a?q=1") == "http://x/a?q=1"
    assert Digester(builtin=False).normalise_link("http://x/a?sid=1") == "http://x/a?sid=1"


def test_non_html_is_digested_as_bytes() -> None:
    assert Digester.raw(b"%PDF-1") != Digester.raw(b"%PDF-2")
    assert Digester.raw(b"x") == Digester.raw(b"x")
