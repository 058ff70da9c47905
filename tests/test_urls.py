"""URL normalisation (the frontier key), host:port keys and the crawl's scope."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.errors import ConfigError
from crawler.web.urls import Scope, _normalize_general, host_key, normalize


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # case: scheme and host lower-cased, path and query untouched
        ("HTTP://Example.COM/Path/A?Q=B", "http://example.com/Path/A?Q=B"),
        ("HtTpS://EXAMPLE.com", "https://example.com/"),
        # default ports dropped, others kept
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/"),
        ("http://example.com:0080/", "http://example.com/"),
        ("http://example.com:/a", "http://example.com/a"),
        # empty path
        ("http://example.com", "http://example.com/"),
        ("http://example.com?a=1", "http://example.com/?a=1"),
        # fragments dropped, an empty query too
        ("http://example.com/a#frag", "http://example.com/a"),
        ("http://example.com/a?x=1#frag?y", "http://example.com/a?x=1"),
        ("http://example.com/a?", "http://example.com/a"),
        ("http://example.com/a?#f", "http://example.com/a"),
        # dot segments
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/../../a", "http://example.com/a"),
        ("http://example.com/a/b/..", "http://example.com/a/"),
        ("http://example.com/a/.", "http://example.com/a/"),
        ("http://example.com/a/..b/.c", "http://example.com/a/..b/.c"),
        ("http://example.com/a//b", "http://example.com/a//b"),
        # query order kept, reserved characters not decoded
        ("http://example.com/?b=2&a=1&b=1", "http://example.com/?b=2&a=1&b=1"),
        ("http://example.com/a%2fb?x=%26%3d", "http://example.com/a%2Fb?x=%26%3D"),
        ("http://example.com/%7euser", "http://example.com/%7Euser"),
        # what a browser would encode before sending
        ("http://example.com/a b?q=x y", "http://example.com/a%20b?q=x%20y"),
        ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9"),
        # userinfo kept
        ("http://User:Pw@Example.com:8080/x", "http://User:Pw@example.com:8080/x"),
        # IDN host → punycode; IPv6 literal compressed
        ("http://b\u00fccher.example/", "http://xn--bcher-kva.example/"),
        ("http://[0:0:0:0:0:0:0:1]:8080/", "http://[::1]:8080/"),
        ("http://[::1]/", "http://[::1]/"),
        # surrounding whitespace is not part of the URL
        ("  http://example.com/a \n", "http://example.com/a"),
    ],
)
def test_normalize_table(url: str, expected: str) -> None:
    assert normalize(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com/a",
        "/relative/path",
        "ftp://example.com/",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "http:/example.com/",
        "http:example.com",
        "http://",
        "http:///path",
        "http://:80/",
        "http://example.com:99999/",
        "http://example.com:0/",
        "http://example.com:8o/",
        "http://example.com:-1/",
        "http://exa mple.com/",
        "http://exa\x00mple.com/",
        "http://example.com/a\tb",
        "http://example.com/a\nb",
        "http://example.com/\x7f",
        "http://[::1/",
        "http://[nothex]/",
        "http://[::1]x/",
        "http://exa%41mple.com/",
        "http://example.com\\evil/",
        "http://" + "a" * 64 + "\u00e9.com/",  # IDNA label too long
        "http://example.com/\ud800",  # lone surrogate
    ],
)
def test_normalize_rejects_invalid(url: str) -> None:
    assert normalize(url) is None


def test_normalize_rejects_non_strings() -> None:
    assert normalize(None) is None  # type: ignore[arg-type]


_url_text = st.text(
    alphabet=st.sampled_from(list("aAzZ09-._~%/?#:@!$&'()*+,;=[] \u00e9\u4e2d\t")), max_size=30
)
_urls = st.builds(
    lambda scheme, host, port, rest: f"{scheme}://{host}{port}{rest}",
    st.sampled_from(["http", "https", "HTTP", "Https", "ftp"]),
    st.sampled_from(
        ["example.com", "EXAMPLE.com", "127.0.0.1", "[::1]", "b\u00fccher.de", "", "a_b"]
    ),
    st.sampled_from(["", ":80", ":443", ":8080", ":", ":0", ":65536"]),
    _url_text,
)


@given(st.one_of(_urls, st.text(max_size=40)))
def test_normalize_is_idempotent_and_total(url: str) -> None:
    key = normalize(url)
    if key is not None:
        assert normalize(key) == key
        assert key.startswith(("http://", "https://"))
        assert "#" not in key


@given(st.one_of(_urls, _urls.map(lambda url: normalize(url) or "http://x.test/")))
def test_canonical_fast_path_agrees_with_the_general_rules(url: str) -> None:
    try:
        expected = _normalize_general(url)
    except (ValueError, UnicodeError):  # normalize() answers None for these (e.g. "bücher.de..")
        expected = None
    assert normalize(url) == expected


@given(_urls)
def test_normalized_key_has_a_host_key(url: str) -> None:
    key = normalize(url)
    if key is not None:
        assert host_key(key) == host_key(url) != ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/a", "127.0.0.1:8080"),
        ("https://example.com/", "example.com:443"),
        ("http://Example.com/x", "example.com:80"),
        ("http://example.com:80/x", "example.com:80"),
        ("https://example.com:8443", "example.com:8443"),
        ("http://user:pw@example.com:81/", "example.com:81"),
        ("http://[::1]:8080/", "[::1]:8080"),
        ("https://[::1]/", "[::1]:443"),
        ("not a url", ""),
        ("ftp://example.com/", ""),
    ],
)
def test_host_key(url: str, expected: str) -> None:
    assert host_key(url) == expected


def _allows(scope: Scope, url: str) -> bool:
    key = normalize(url)
    assert key is not None
    return scope.allows(key)


def test_scope_defaults_to_the_seeds_host_and_port() -> None:
    scope = Scope(["http://127.0.0.1:8080/start", "https://example.com/"])
    assert _allows(scope, "http://127.0.0.1:8080/other?x=1")
    assert _allows(scope, "https://example.com/deep/page")
    assert _allows(scope, "https://example.com:443/")
    assert not _allows(scope, "http://127.0.0.1:8081/")  # another port
    assert not _allows(scope, "http://127.0.0.2:8080/")  # another host
    assert not _allows(scope, "http://example.com/")  # port 80, not the seed's 443
    assert not _allows(scope, "https://sub.example.com/")
    assert not _allows(scope, "https://example.com.evil.org/")


def test_scope_allowed_domains() -> None:
    scope = Scope(
        ["http://seed.test/"],
        allowed_domains=["Other.test", "exact.test:8080", "*.wild.test", "*.portwild.test:81"],
    )
    assert _allows(scope, "http://other.test/")
    assert _allows(scope, "https://other.test:9999/")  # a bare host: any port
    assert _allows(scope, "http://exact.test:8080/")
    assert not _allows(scope, "http://exact.test/")
    assert _allows(scope, "http://wild.test/")  # the apex of a wildcard
    assert _allows(scope, "https://a.b.wild.test/")
    assert not _allows(scope, "http://notwild.test/")
    assert not _allows(scope, "http://wild.test.evil/")
    assert _allows(scope, "http://x.portwild.test:81/")
    assert not _allows(scope, "http://x.portwild.test/")
    assert not _allows(scope, "http://sub.other.test/")


def test_scope_include_and_exclude_patterns() -> None:
    scope = Scope(
        ["http://site.test/"], include=[r"/docs/", r"\?page=\d+$"], exclude=[r"\.pdf$", "private"]
    )
    assert _allows(scope, "http://site.test/docs/a.html")
    assert _allows(scope, "http://site.test/list?page=2")
    assert not _allows(scope, "http://site.test/blog/")  # no include matches
    assert not _allows(scope, "http://site.test/docs/manual.pdf")  # exclude wins
    assert not _allows(scope, "http://site.test/docs/private/x")
    assert not _allows(scope, "http://elsewhere.test/docs/")  # patterns never widen the hosts


def test_scope_without_include_allows_everything_on_the_host() -> None:
    scope = Scope(["http://site.test/"], exclude=["logout"])
    assert _allows(scope, "http://site.test/anything")
    assert not _allows(scope, "http://site.test/logout")


def test_scope_ignores_unusable_input() -> None:
    scope = Scope(["http://site.test/", "not a url"])
    assert not scope.allows("garbage")
    assert not scope.allows("")


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"allowed_domains": [""]}, "crawl.allowed_domains"),
        ({"allowed_domains": ["host:99999"]}, "crawl.allowed_domains"),
        ({"allowed_domains": ["bad host"]}, "crawl.allowed_domains"),
        ({"include": ["("]}, "crawl.include"),
        ({"exclude": ["[a-"]}, "crawl.exclude"),
    ],
)
def test_scope_rejects_bad_config(kwargs: dict[str, list[str]], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Scope(["http://site.test/"], **kwargs)
    assert info.value.key == key
