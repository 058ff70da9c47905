"""URLs: the canonical frontier key, link resolution, ``host:port`` keys and the crawl's scope.

Pure functions, no I/O. Everything here sits on the hot path (a page carries ~40 links), so the
common shapes take a fast path and only odd inputs pay for the general algorithm:

* :func:`normalize` is memoised (a link seen on every page of a site costs one dict lookup), and a
  URL already in canonical form is recognised by one regex and returned as is.
* :class:`LinkResolver` prepares a page's base URL once and resolves the usual reference shapes
  (absolute ``http(s)`` URL, ``//host/...``, ``/path``, ``path``, ``?q``, ``#frag``) with slicing
  and concatenation; anything else falls back to :func:`urllib.parse.urljoin`. Its result is by
  definition ``urldefrag(urljoin(base, href)).url`` (a property test holds it to that).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import quote, urldefrag, urljoin

from crawler.errors import ConfigError

DEFAULT_PORTS = {"http": 80, "https": 443}

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_AUTHORITY_RE = re.compile(r"[^/?]*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Characters a browser would percent-encode in a path or query before sending it: space,
# non-ASCII and a few that are never legal raw. Encoding them makes "a b" and "a%20b" one key.
_UNSAFE_RE = re.compile(r'[^\x21-\x7e]|["<>`{}|^]')
_PERCENT_RE = re.compile(r"%[0-9a-fA-F]{2}")
_HOST_RE = re.compile(r"[a-z0-9\-._~!$&'()*+,;=]+")
_DOT_SEGMENT_RE = re.compile(r"(?:^|/)\.\.?(?:/|$)")


# -- normalisation -----------------------------------------------------------------------------
def normalize(url: str) -> str | None:
    """Return the canonical form of ``url`` (the frontier key), or None if it is not a usable
    http(s) URL.

    Scheme and host are lower-cased (an IDN host becomes punycode), the default port is dropped,
    an empty path becomes ``/``, dot segments are removed, the fragment and an empty ``?`` are
    dropped, percent-escapes get upper-case hex digits and space / non-ASCII characters are
    percent-encoded (UTF-8). The query keeps its order; userinfo is kept. Never raises.
    """
    if not isinstance(url, str):
        return None
    return _normalize_cached(url)


@functools.lru_cache(maxsize=1 << 16)
def _normalize_cached(url: str) -> str | None:
    try:
        return _normalize(url)
    except (ValueError, UnicodeError):  # bad IPv6 literal, IDNA label too long, lone surrogate
        return None


# A URL already in canonical form (the usual case for resolved links): lower-case scheme and host,
# no userinfo, a path without "/." and a non-empty query, only characters the general path would
# leave alone, percent-escapes in upper case. The port is checked in code.
_CANONICAL_RE = re.compile(
    r"(https?)://[a-z0-9\-._~!$&'()*+,;=]+(?::([1-9][0-9]{0,4}))?"
    r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]++|%[0-9A-F]{2})*+"
    r"(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?\[\]\\]++|%[0-9A-F]{2})++)?"
)


def _normalize(url: str) -> str | None:
    match = _CANONICAL_RE.fullmatch(url)
    if match is not None and "/." not in url:
        port = match.group(2)
        if port is None:
            return url
        number = int(port)
        if number <= 65535 and number != DEFAULT_PORTS[match.group(1)]:
            return url
    return _normalize_general(url)


def _normalize_general(url: str) -> str | None:
    url = url.strip(" \t\r\n\f")
    if _CONTROL_RE.search(url):
        return None
    match = _SCHEME_RE.match(url)
    if match is None:
        return None
    scheme = match.group(1).lower()
    default_port = DEFAULT_PORTS.get(scheme)
    if default_port is None:
        return None
    rest = url[match.end() :].partition("#")[0]
    authority = _AUTHORITY_RE.match(rest)
    assert authority is not None  # the pattern matches the empty string
    tail = rest[authority.end() :]
    userinfo, _, hostport = authority.group().rpartition("@")
    host, port = _split_host_port(hostport)
    if host is None or port is None:
        return None
    host = _canonical_host(host)
    if host is None:
        return None
    path, question, query = tail.partition("?")
    path = _clean_component(path) if path else "/"
    if "/." in path and _DOT_SEGMENT_RE.search(path):
        path = _remove_dot_segments(path)
    parts = [scheme, "://"]
    if userinfo:
        parts += (_clean_component(userinfo), "@")
    parts.append(host)
    if port and port != default_port:
        parts += (":", str(port))
    parts.append(path)
    if question and query:
        parts += ("?", _clean_component(query))
    return "".join(parts)


def _split_host_port(hostport: str) -> tuple[str | None, int | None]:
    """(host, port) with port 0 meaning "none given"; (None, None) when malformed."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            return None, None
        host, after = hostport[: end + 1], hostport[end + 1 :]
        if after and not after.startswith(":"):
            return None, None
        port_text = after[1:]
    else:
        host, _, port_text = hostport.partition(":")
    if not port_text:
        return host, 0
    if not (port_text.isascii() and port_text.isdigit()):
        return None, None
    port = int(port_text)
    if not 0 < port <= 65535:
        return None, None
    return host, port


def _canonical_host(host: str) -> str | None:
    if not host:
        return None
    if host.startswith("["):
        # Compressed lower-case form, so [0:0::1] and [::1] are one host.
        return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    host = host.lower()
    return host if _HOST_RE.fullmatch(host) else None


def _clean_component(text: str) -> str:
    if _UNSAFE_RE.search(text):
        text = _UNSAFE_RE.sub(lambda m: quote(m.group(), safe=""), text)
    if "%" in text:
        text = _PERCENT_RE.sub(lambda m: m.group().upper(), text)
    return text


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _origin(normalized_url: str) -> tuple[str, str, int] | None:
    """(scheme, host, effective port) of a URL in :func:`normalize`'s form."""
    scheme, sep, rest = normalized_url.partition("://")
    default_port = DEFAULT_PORTS.get(scheme)
    if not sep or default_port is None:
        return None
    hostport = rest.partition("/")[0].rpartition("@")[2]
    if hostport.endswith("]"):
        return scheme, hostport, default_port
    host, colon, port_text = hostport.rpartition(":")
    if not colon:
        return scheme, port_text, default_port
    return scheme, host, int(port_text) if port_text.isdigit() else default_port


def host_key(url: str) -> str:
    """``"host:port"`` with the effective port (``"example.com:443"``); ``""`` for a URL that
    :func:`normalize` rejects."""
    normalized = normalize(url)
    origin = _origin(normalized) if normalized else None
    if origin is None:
        return ""
    return f"{origin[1]}:{origin[2]}"


# -- link resolution ---------------------------------------------------------------------------
# Shapes the fast path handles. They exclude every character urlsplit treats specially (";"
# params, whitespace, controls, brackets, non-ASCII) and an empty "?" (which urlunparse drops
# but a raw return keeps), so a match means slicing reproduces urljoin exactly.
_PCHAR = r"[A-Za-z0-9\-._~!$&'()*+,=:@%/]"
_NETLOC = r"[A-Za-z0-9.\-]+(?::[0-9]*)?"
_QCHAR = r"[!-\"$-~]"  # printable ASCII but "#"
_QUERY = rf"(?:\?{_QCHAR}+)?"
_BASE_RE = re.compile(rf"(https?)://({_NETLOC})((?:/{_PCHAR}*)?)({_QUERY})")
_ABSOLUTE_RE = re.compile(rf"(https?)(://{_NETLOC}(?:/{_PCHAR}*)?{_QUERY})(?:#.*)?", re.DOTALL)
_NETWORK_PATH_RE = re.compile(rf"(//{_NETLOC}(?:/{_PCHAR}*)?{_QUERY})(?:#.*)?", re.DOTALL)
_ABSOLUTE_PATH_RE = re.compile(rf"(/(?!/){_PCHAR}*)(\?{_QCHAR}+)?(?:#.*)?", re.DOTALL)
_RELATIVE_PATH_RE = re.compile(
    rf"([A-Za-z0-9\-._~!$&'()*+,=@%][A-Za-z0-9\-._~!$&'()*+,=@%/]*)(\?{_QCHAR}+)?(?:#.*)?",
    re.DOTALL,
)
_QUERY_ONLY_RE = re.compile(rf"\?({_QCHAR}*)(?:#.*)?", re.DOTALL)


class LinkResolver:
    """Resolves references against one base URL; build one per page.

    ``resolver(href)`` equals ``urldefrag(urljoin(base, href)).url`` (None where urljoin raises
    ``ValueError``). The result is not filtered by scheme.
    """

    __slots__ = ("_base", "_base_dir", "_base_parts", "_base_path", "_origin", "_scheme")

    def __init__(self, base: str) -> None:
        self._base = base
        match = _BASE_RE.fullmatch(base)
        path = match.group(3) if match else ""
        if match is None or "//" in path or (_DOT_SEGMENT_RE.search(path) is not None):
            self._scheme = ""  # an unusual base: every reference takes the general path
            self._origin = self._base_path = self._base_dir = ""
            self._base_parts: list[str] = []
            return
        self._scheme = match.group(1)
        self._origin = f"{self._scheme}://{match.group(2)}"
        self._base_path = path
        self._base_parts = path.split("/")
        if self._base_parts[-1] != "":
            del self._base_parts[-1]  # the last segment is a file, not a directory
        self._base_dir = path[: path.rfind("/") + 1] or "/"

    def __call__(self, href: str) -> str | None:
        if not self._scheme:
            return _urljoin_defrag(self._base, href)
        if not href:
            return self._base
        first = href[0]
        if first == "#":
            return self._base
        if first == "?":
            match = _QUERY_ONLY_RE.fullmatch(href)
            if match is None:
                return _urljoin_defrag(self._base, href)
            query = match.group(1)
            return f"{self._origin}{self._base_path}?{query}" if query else self._base
        if first == "/":
            if href.startswith("//"):
                match = _NETWORK_PATH_RE.fullmatch(href)
                if match is None:
                    return _urljoin_defrag(self._base, href)
                return f"{self._scheme}:{match.group(1)}"
            match = _ABSOLUTE_PATH_RE.fullmatch(href)
            if match is None:
                return _urljoin_defrag(self._base, href)
            path = match.group(1)
            if "/." in path and _DOT_SEGMENT_RE.search(path):
                path = self._merge(path.split("/"))
            return f"{self._origin}{path}{match.group(2) or ''}"
        if first == "h":
            match = _ABSOLUTE_RE.fullmatch(href)
            if match is not None:
                return match.group(1) + match.group(2)
        match = _RELATIVE_PATH_RE.fullmatch(href)
        if match is None:
            return _urljoin_defrag(self._base, href)
        path = match.group(1)
        dotted = path[0] == "." or "/." in path
        if "//" in path or (dotted and _DOT_SEGMENT_RE.search(path)):
            segments = self._base_parts + path.split("/")
            # urljoin drops empty segments between the first and the last
            segments[1:-1] = [s for s in segments[1:-1] if s]
            path = self._merge(segments)
        else:
            path = self._base_dir + path
        return f"{self._origin}{path}{match.group(2) or ''}"

    @staticmethod
    def _merge(segments: list[str]) -> str:
        """urljoin's dot-segment removal, including its quirks (".." above the root vanishes)."""
        resolved: list[str] = []
        for segment in segments:
            if segment == "..":
                if resolved:
                    resolved.pop()
            elif segment != ".":
                resolved.append(segment)
        if segments[-1] in (".", ".."):
            resolved.append("")
        path = "/".join(resolved) or "/"
        return path if path.startswith("/") else "/" + path


def _urljoin_defrag(base: str, href: str) -> str | None:
    try:
        return urldefrag(urljoin(base, href)).url
    except ValueError:  # e.g. "Invalid IPv6 URL" from urlsplit
        return None


def resolve(base: str, href: str) -> str | None:
    """``urldefrag(urljoin(base, href)).url``, computed fast where it can be; None on a
    reference urljoin rejects. For many references against one base, use :class:`LinkResolver`."""
    return LinkResolver(base)(href)


# -- scope -------------------------------------------------------------------------------------
class Scope:
    """Which normalised URLs the crawl may request.

    Allowed hosts: every seed's ``host:port``; ``allowed_domains`` entries ``"host"`` (any port),
    ``"host:port"`` (that port), ``"*.example.com"`` (example.com and its subdomains, optionally
    with ``:port``). Then ``include`` (if any, one must ``re.search`` the URL) and ``exclude``
    (none may). Raises :class:`ConfigError` for a bad domain entry or regex.
    """

    __slots__ = ("_any_port", "_cache", "_exact", "_exclude", "_include", "_suffixes")

    _CACHE_LIMIT = 1 << 14

    def __init__(
        self,
        seeds: Sequence[str],
        allowed_domains: Sequence[str] = (),
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> None:
        self._exact: set[str] = {key for key in map(host_key, seeds) if key}
        self._any_port: set[str] = set()
        self._suffixes: list[tuple[str, int | None]] = []  # (".example.com", port or None)
        for entry in allowed_domains:
            self._add_domain(entry)
        self._include = [_compile(p, "crawl.include") for p in include]
        self._exclude = [_compile(p, "crawl.exclude") for p in exclude]
        self._cache: dict[str, bool] = {}  # scheme://authority -> host allowed

    def _add_domain(self, entry: str) -> None:
        wildcard = entry.strip().lower().startswith("*.")
        text = entry.strip()[2:] if wildcard else entry.strip()
        host, port = _split_host_port(text)
        host = _canonical_host(host) if host else None
        if host is None or port is None:
            raise ConfigError("crawl.allowed_domains", entry, 'host, host:port or "*.host"')
        if wildcard:
            self._suffixes.append(("." + host, port or None))
        elif port:
            self._exact.add(f"{host}:{port}")
        else:
            self._any_port.add(host)

    def allows(self, normalized_url: str) -> bool:
        """True if the crawl may request ``normalized_url`` (a :func:`normalize` result)."""
        # scheme://authority: the scheme matters too, it sets the effective port
        end = normalized_url.find("/", normalized_url.find("//") + 2)
        origin = normalized_url[:end] if end > 0 else normalized_url
        allowed = self._cache.get(origin)
        if allowed is None:
            allowed = self._host_allowed(normalized_url)
            if len(self._cache) >= self._CACHE_LIMIT:
                self._cache.clear()
            self._cache[origin] = allowed
        if not allowed:
            return False
        if self._include and not any(p.search(normalized_url) for p in self._include):
            return False
        return not any(p.search(normalized_url) for p in self._exclude)

    def _host_allowed(self, normalized_url: str) -> bool:
        origin = _origin(normalized_url)
        if origin is None:
            return False
        _, host, port = origin
        if f"{host}:{port}" in self._exact or host in self._any_port:
            return True
        dotted = "." + host
        return any(
            dotted.endswith(suffix) and (want is None or want == port)
            for suffix, want in self._suffixes
        )


def _compile(pattern: str, key: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(key, pattern, f"a valid regular expression ({exc})") from exc
