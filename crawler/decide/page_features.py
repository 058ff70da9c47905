"""What a page looks like to the block / login-wall / soft-404 classifier: features from lxml.

One lxml parse of the page's scanned head (the first :data:`SCAN_BYTES`, the same bytes the
pre-check in :mod:`crawler.decide.blocks` scans), then a few C-level queries: title, headings,
visible text (scripts, styles, templates and ``<noscript>`` left out), links, forms, password
inputs, scripts, iframes, meta refresh, and the raw strings vendor fingerprints are matched in
(script sources and inline code, iframe sources, form actions, element ids and classes, hrefs).

Visible text is measured *per script*: a Chinese sentence says in 20 characters what English
says in 60, so a short Chinese or Japanese article must not look "small". The weighted size
counts Han ideographs ×3, kana and Hangul ×2, everything else (Latin, Cyrillic, Greek, Arabic,
Hebrew, digits, punctuation) ×1 — roughly the character ratio of translations into English.
See docs/blocks.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

__all__ = [
    "SCAN_BYTES",
    "PageDoc",
    "PageFeatures",
    "extract",
    "head_bytes",
    "script_sizes",
    "weighted_size",
]

# Block pages, login walls and "not found" pages say what they are early; everything the
# classifier reads lies in the first SCAN_BYTES of the page (the pre-check scans the same bytes).
SCAN_BYTES = 32_768
# Visible text kept for phrase matching and the LLM excerpt.
TEXT_HEAD_CHARS = 4_000
# Inline script text kept for vendor fingerprints (challenge bootstraps sit near the top).
SCRIPT_TEXT_CHARS = 16_384
# A paragraph this long (weighted characters) reads as prose, not as a notice.
PROSE_CHARS = 80

# The one lxml HTML parser configuration (crawler/web/parse.py uses it too).
HTML_PARSER = etree.HTMLParser(
    encoding="utf-8",
    recover=True,
    no_network=True,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
    compact=True,
)
_SPACE_RE = re.compile(r"\s+")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_KANA_RE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]+")
_HANGUL_RE = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]+")
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]+")
_ARABIC_HEBREW_RE = re.compile(r"[\u0590-\u06ff\u0750-\u077f]+")
_LATIN_RE = re.compile(r"[\u00c0-\u024f]+")
_ASCII_RE = re.compile(r"[\x00-\x7f]+")
_SYSTEMS = ("latin", "cyrillic", "han", "kana", "hangul", "arabic_hebrew", "other")
_INVISIBLE = ("script", "style", "template", "noscript", "title")


def head_bytes(body: bytes, text: str, encoding: str) -> bytes:
    """The scanned head of a page as UTF-8 bytes: ``body`` itself when it is UTF-8 (no copy
    beyond the slice), else the decoded ``text`` re-encoded, so needles are always UTF-8."""
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8", "ascii", "us-ascii"):
        return body[:SCAN_BYTES]
    return text[:SCAN_BYTES].encode("utf-8", "replace")[:SCAN_BYTES]


def script_sizes(text: str) -> dict[str, int]:
    """Characters of ``text`` per writing system (whitespace not counted; ASCII punctuation and
    digits count with Latin on an all-ASCII text, the common case, which is not scanned)."""
    total = len(text) - text.count(" ")
    if text.isascii():
        sizes = dict.fromkeys(_SYSTEMS, 0)
        sizes["latin"] = total
        return sizes
    rest = _ASCII_RE.sub("", text)  # the regexes below then scan only the non-ASCII part
    han = sum(map(len, _HAN_RE.findall(rest)))
    kana = sum(map(len, _KANA_RE.findall(rest)))
    hangul = sum(map(len, _HANGUL_RE.findall(rest)))
    cyrillic = sum(map(len, _CYRILLIC_RE.findall(rest)))
    arabic = sum(map(len, _ARABIC_HEBREW_RE.findall(rest)))
    latin = total - len(rest) + rest.count(" ") + sum(map(len, _LATIN_RE.findall(rest)))
    other = total - han - kana - hangul - cyrillic - arabic - latin
    return {
        "latin": latin,
        "cyrillic": cyrillic,
        "han": han,
        "kana": kana,
        "hangul": hangul,
        "arabic_hebrew": arabic,
        "other": max(0, other),
    }


def weighted_size(sizes: dict[str, int]) -> int:
    """Text size in "English-equivalent characters": Han ×3, kana and Hangul ×2, rest ×1."""
    return sum(sizes.values()) + 2 * sizes["han"] + sizes["kana"] + sizes["hangul"]


@dataclass(frozen=True, slots=True)
class PageFeatures:
    """The structural facts the classifier (and the LLM, for the uncertain band) sees."""

    title: str = ""
    headings: str = ""  # the first h1/h2 texts, joined
    text_head: str = ""  # visible text, whitespace collapsed, first TEXT_HEAD_CHARS
    noscript_text: str = ""
    text_chars: int = 0  # visible non-space characters in the scanned head
    text_weight: int = 0  # the same, weighted per script (see weighted_size)
    scripts_by_system: tuple[tuple[str, int], ...] = ()
    links: int = 0
    forms: int = 0
    password_inputs: int = 0
    chrome_password_inputs: int = 0  # of those, in a header, nav, aside, menu or modal
    text_inputs: int = 0  # text, email, search inputs and textareas: what a visitor fills in
    scripts: int = 0
    iframes: int = 0
    prose_blocks: int = 0  # paragraphs of PROSE_CHARS weighted characters or more
    has_article: bool = False  # an <article> or <main> holding prose
    meta_refresh: bool = False
    captcha_widget: str | None = None  # "recaptcha" | "hcaptcha" | "turnstile"
    truncated: bool = False  # the page is longer than the scanned head

    def summary(self) -> dict[str, object]:
        """The numeric features as plain data (for the LLM prompt, logs and DLQ context)."""
        return {
            "text_chars": self.text_chars,
            "text_weight": self.text_weight,
            "scripts_by_system": dict(self.scripts_by_system),
            "links": self.links,
            "forms": self.forms,
            "password_inputs": self.password_inputs,
            "chrome_password_inputs": self.chrome_password_inputs,
            "text_inputs": self.text_inputs,
            "scripts": self.scripts,
            "iframes": self.iframes,
            "prose_blocks": self.prose_blocks,
            "has_article": self.has_article,
            "meta_refresh": self.meta_refresh,
            "captcha_widget": self.captcha_widget,
            "truncated": self.truncated,
        }


@dataclass(frozen=True, slots=True)
class PageDoc:
    """The raw strings vendor fingerprints are matched in (lower-cased)."""

    scripts: str = ""  # script srcs and inline script text, newline-joined
    iframes: str = ""
    forms: str = ""  # form actions and ids
    ids: str = ""
    classes: str = ""
    hrefs: str = ""
    text: str = ""  # title + headings + visible text + noscript text


_EMPTY = (PageFeatures(), PageDoc())


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _text_of(element: etree._Element) -> str:
    return _collapse("".join(str(t) for t in element.itertext()))


def _attribute_values(root: etree._Element, path: str) -> list[str]:
    found = root.xpath(path)
    return [str(v) for v in found] if isinstance(found, list) else []


_CHROME_TAGS = frozenset(("header", "nav", "aside", "footer"))
_CHROME_CLASS = re.compile(r"dropdown|modal|menu|sidebar|popup|popover|overlay|navbar|widget")


def _in_chrome(element: etree._Element) -> bool:
    """Whether a form field sits in the site's chrome (a header, nav, sidebar, drop-down menu or
    modal) rather than in the page itself: a sign-in box there is not a login wall."""
    for ancestor in element.iterancestors():
        if ancestor.tag in _CHROME_TAGS:
            return True
        marks = f"{ancestor.get('class') or ''} {ancestor.get('id') or ''}"
        if _CHROME_CLASS.search(marks.lower()):
            return True
    return False


def _widget(classes: str, scripts: str) -> str | None:
    if "g-recaptcha" in classes or "recaptcha/api" in scripts:
        return "recaptcha"
    if "h-captcha" in classes or "hcaptcha.com" in scripts:
        return "hcaptcha"
    if "cf-turnstile" in classes or "turnstile/v0" in scripts:
        return "turnstile"
    return None


def extract(head: bytes, *, truncated: bool = False) -> tuple[PageFeatures, PageDoc]:
    """Features and fingerprint strings of a page's scanned head (UTF-8 bytes, see
    :func:`head_bytes`). Never raises: markup lxml cannot read gives empty features."""
    try:
        root = etree.fromstring(head, HTML_PARSER) if head.strip() else None
    except (etree.LxmlError, ValueError, MemoryError):
        root = None
    if root is None:
        return _EMPTY
    title_el = next(root.iter("title"), None)
    title = _text_of(title_el) if title_el is not None else ""
    script_parts: list[str] = []
    n_scripts = 0
    for script in root.iter("script"):
        n_scripts += 1
        src = script.get("src")
        if src:
            script_parts.append(src)
        elif script.text:
            script_parts.append(script.text[:SCRIPT_TEXT_CHARS])
    scripts = "\n".join(script_parts)[:SCRIPT_TEXT_CHARS].lower()
    iframes = [f.get("src") or "" for f in root.iter("iframe")]
    forms = list(root.iter("form"))
    form_text = "\n".join(f"{f.get('action') or ''} {f.get('id') or ''}" for f in forms).lower()
    password_inputs = text_inputs = chrome_passwords = 0
    for element in root.iter("input"):
        kind = (element.get("type") or "text").strip().lower()
        if kind == "password":
            password_inputs += 1
            chrome_passwords += _in_chrome(element)
        elif kind in ("text", "email", "tel", "search"):
            text_inputs += 1
    text_inputs += sum(1 for _ in root.iter("textarea"))
    ids = "\n".join(_attribute_values(root, "//@id")).lower()
    classes = "\n".join(_attribute_values(root, "//@class")).lower()
    hrefs = _attribute_values(root, "//a/@href")
    meta_refresh = any(
        (m.get("http-equiv") or "").strip().lower() == "refresh" for m in root.iter("meta")
    )
    noscript = " ".join(_text_of(n) for n in root.iter("noscript"))[:TEXT_HEAD_CHARS]
    headings = " | ".join(_text_of(h) for h in root.iter("h1", "h2"))[:500]
    prose = 0
    for block in root.iter("p", "li", "td", "dd", "blockquote", "pre"):
        if prose >= 4:  # the classifier reads no further
            break
        block_text = _text_of(block)
        if len(block_text) >= PROSE_CHARS // 3 and (
            weighted_size(script_sizes(block_text)) >= PROSE_CHARS
        ):
            prose += 1
    has_article = False
    for holder in root.iter("article", "main"):
        # <article> marks self-contained content; <main> is also where a notice would stand.
        least = 2 * PROSE_CHARS if holder.tag == "article" else 4 * PROSE_CHARS
        if weighted_size(script_sizes(_text_of(holder))) >= least:
            has_article = True
            break
    etree.strip_elements(root, *_INVISIBLE, with_tail=False)
    sizes = script_sizes(_collapse(etree.tostring(root, method="text", encoding="unicode")))
    # Text in <pre>/<code> quotes (an error message in a docs page): it does not speak for the
    # page, so phrases are looked for without it (it still counts towards the size).
    etree.strip_elements(root, "pre", "code", with_tail=False)
    visible = _collapse(etree.tostring(root, method="text", encoding="unicode"))
    features = PageFeatures(
        title=title,
        headings=headings,
        text_head=visible[:TEXT_HEAD_CHARS],
        noscript_text=noscript,
        text_chars=sum(sizes.values()),
        text_weight=weighted_size(sizes),
        scripts_by_system=tuple((k, v) for k, v in sizes.items() if v),
        links=len(hrefs),
        forms=len(forms),
        password_inputs=password_inputs,
        chrome_password_inputs=chrome_passwords,
        text_inputs=text_inputs,
        scripts=n_scripts,
        iframes=len(iframes),
        prose_blocks=prose,
        has_article=has_article,
        meta_refresh=meta_refresh,
        captcha_widget=_widget(classes, scripts),
        truncated=truncated,
    )
    doc = PageDoc(
        scripts=scripts,
        iframes="\n".join(iframes).lower(),
        forms=form_text,
        ids=ids,
        classes=classes,
        hrefs="\n".join(hrefs)[:SCRIPT_TEXT_CHARS].lower(),
        text=f"{title}\n{headings}\n{visible[:TEXT_HEAD_CHARS]}\n{noscript}".lower(),
    )
    return features, doc
