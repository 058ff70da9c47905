"""The labelled corpus of non-UTF-8 pages behind tests/test_encodings.py and bench/encodings.py.

``tests/data/encodings/manifest.json`` lists every page: its true codec, the label a server would
send, the language, short or long, and its true ``<title>`` (whitespace collapsed, as
:func:`crawler.web.parse.parse_html` returns it). Each page comes in two variants:

* **undeclared**: served as ``text/html`` with no charset anywhere (no header parameter, no BOM,
  no ``<meta>``): only detection can get it right;
* **declared**: the same text with its charset in the ``Content-Type`` header, in a
  ``<meta charset>``, in a ``<meta http-equiv>``, or (UTF-16) as a byte order mark.

The text is real language: sentences are translated program messages from the gettext catalogues
(``/usr/share/locale/<lang>/LC_MESSAGES/*.mo``) of the machine that built the corpus, laid out in
a short page (a title and a sentence) or a long one (nav, article, list, footer: mostly ASCII
markup, as on real sites). Every title holds at least one non-ASCII character, so no title is right
by the luck of being ASCII. The files are committed; ``python -m tests.encodings_corpus`` rebuilds
them (deterministic for the same catalogues) on a machine with those catalogues.
"""

from __future__ import annotations

import functools
import gettext
import json
import random
import re
import shutil
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parent / "data" / "encodings"
MANIFEST = ROOT / "manifest.json"
PAGES_PER_ENCODING = 24  # half short, half long
SEED = 20240611

# codec, the label servers use for it, the family it is reported under, languages to write in
ENCODINGS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("cp932", "Shift_JIS", "Japanese", ("ja",)),
    ("euc_jp", "EUC-JP", "Japanese", ("ja",)),
    ("iso2022_jp", "ISO-2022-JP", "Japanese", ("ja",)),
    ("gb2312", "GB2312", "Chinese", ("zh_CN",)),
    ("gbk", "GBK", "Chinese", ("zh_CN",)),
    ("gb18030", "GB18030", "Chinese", ("zh_CN",)),
    ("big5", "Big5", "Chinese", ("zh_TW",)),
    ("euc_kr", "EUC-KR", "Korean", ("ko",)),
    ("cp949", "ks_c_5601-1987", "Korean", ("ko",)),
    ("cp1251", "windows-1251", "Cyrillic", ("ru", "uk", "bg")),
    ("koi8_r", "KOI8-R", "Cyrillic", ("ru",)),
    ("koi8_u", "KOI8-U", "Cyrillic", ("uk",)),
    ("iso8859_5", "ISO-8859-5", "Cyrillic", ("ru", "bg")),
    ("cp866", "IBM866", "Cyrillic", ("ru",)),
    ("cp1250", "windows-1250", "Central European", ("pl", "cs", "hu", "sk", "hr", "sl")),
    ("iso8859_2", "ISO-8859-2", "Central European", ("pl", "cs", "hu", "sk")),
    ("cp1253", "windows-1253", "Greek", ("el",)),
    ("iso8859_7", "ISO-8859-7", "Greek", ("el",)),
    ("cp1255", "windows-1255", "Hebrew", ("he",)),
    ("iso8859_8", "ISO-8859-8-I", "Hebrew", ("he",)),
    ("cp1256", "windows-1256", "Arabic", ("ar", "fa")),
    ("iso8859_6", "ISO-8859-6", "Arabic", ("ar",)),
    ("cp874", "windows-874", "Thai", ("th",)),
    ("tis_620", "TIS-620", "Thai", ("th",)),
    ("cp1254", "windows-1254", "Turkish", ("tr",)),
    ("iso8859_9", "ISO-8859-9", "Turkish", ("tr",)),
    ("cp1258", "windows-1258", "Vietnamese", ("vi",)),
    ("cp1257", "windows-1257", "Baltic", ("lt", "lv", "et")),
    ("cp1252", "windows-1252", "Western", ("de", "fr", "es", "pt_BR", "it", "sv", "da")),
    ("iso8859_1", "ISO-8859-1", "Western", ("de", "fr", "es", "nl")),
    ("iso8859_15", "ISO-8859-15", "Western", ("fr", "fi", "et", "de")),
    ("utf_16_le", "UTF-16LE", "UTF-16", ("ja", "ru", "de", "el")),
    ("utf_16_be", "UTF-16BE", "UTF-16", ("zh_CN", "he", "pl")),
)
DECLARATIONS = ("header", "meta", "http-equiv")
_HTML_LANG = {"zh_CN": "zh-CN", "zh_TW": "zh-TW", "pt_BR": "pt-BR"}


@dataclass(frozen=True, slots=True)
class Page:
    """One labelled page of the corpus."""

    id: str
    encoding: str  # the Python codec the page was written in
    label: str  # the charset label a server would declare
    family: str
    lang: str
    size: str  # "short" or "long"
    title: str
    declared_by: str  # "header", "meta", "http-equiv" or "bom"
    undeclared: bytes
    declared: bytes

    @property
    def declared_content_type(self) -> str:
        if self.declared_by == "header":
            return f"text/html; charset={self.label}"
        return "text/html"

    undeclared_content_type = "text/html"


def load(root: Path = ROOT) -> list[Page]:
    """Every page of the corpus, in manifest order."""
    pages = []
    for entry in json.loads((root / "manifest.json").read_text("utf-8")):
        undeclared = (root / entry.pop("file")).read_bytes()
        declared_file = entry.pop("declared_file")
        declared = (root / declared_file).read_bytes() if declared_file else undeclared
        pages.append(Page(undeclared=undeclared, declared=declared, **entry))
    return pages


# -- building ------------------------------------------------------------------------------------
_FORMAT_RE = re.compile(r"[%{}<>&\\_=|$@#`*\[\]/~^\"]|--|\s{2}|\.\.|\w\(|https?:")


@functools.cache
def _catalogue(lang: str) -> list[str]:
    """The translated messages of every gettext catalogue for ``lang``, deduplicated, in a stable
    order, without the ones that hold format strings, markup or options."""
    seen: set[str] = set()
    for path in sorted(Path("/usr/share/locale", lang, "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except (OSError, ValueError, UnicodeError, KeyError, IndexError):
            continue
        for message in catalog.values():
            if isinstance(message, str):
                text = " ".join(message.split())
                if 4 <= len(text) <= 160 and not _FORMAT_RE.search(text):
                    seen.add(text)
    return sorted(seen)


def _for_codec(text: str, codec: str) -> str | None:
    """``text`` as it is written in ``codec`` (Vietnamese in windows-1258 keeps its tone marks as
    combining characters), or None if ``codec`` cannot write it."""
    if codec == "cp1258":
        out = []
        for char in text:
            for form in (char, *_partial_compositions(char)):
                try:
                    form.encode(codec)
                except UnicodeEncodeError:
                    continue
                out.append(form)
                break
            else:
                return None
        return "".join(out)
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return None
    return text


def _partial_compositions(char: str) -> Iterator[str]:
    decomposed = unicodedata.normalize("NFD", char)
    for cut in range(len(decomposed) - 1, 0, -1):
        yield unicodedata.normalize("NFC", decomposed[:cut]) + decomposed[cut:]


def _is_text(text: str, lang: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    non_ascii = sum(not ch.isascii() for ch in text)
    if lang in ("ja", "zh_CN", "zh_TW", "ko", "th"):
        return non_ascii >= 0.6 * len(text.replace(" ", ""))
    if lang in ("ru", "uk", "bg", "el", "he", "ar", "fa"):
        return non_ascii >= 0.7 * letters
    return non_ascii >= 1 and letters >= 0.75 * len(text.replace(" ", ""))


def _pools(langs: tuple[str, ...], codec: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per language, (titles, sentences) that the codec can write."""
    pools = {}
    for lang in langs:
        texts = [_for_codec(t, codec) for t in _catalogue(lang) if _is_text(t, lang)]
        usable = [t for t in texts if t is not None]
        titles = [t for t in usable if len(t) <= 40 and not t.isascii()]
        sentences = [t for t in usable if len(t) >= 12]
        if len(titles) >= 20 and len(sentences) >= 40:
            pools[lang] = (titles, sentences)
    return pools


_CSS = (
    "body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#222}"
    "header,footer{background:#f4f4f4;padding:8px 16px}"
    "nav ul{list-style:none;display:flex;gap:12px}"
    "main{max-width:960px;margin:0 auto;padding:16px}.meta{color:#777;font-size:13px}"
)
_SCRIPT = (
    "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
    "gtag('js',new Date());gtag('config','G-EXAMPLE1');"
)


def _short_page(rng: random.Random, title: str, sentences: list[str], lang_attr: str) -> str:
    return (
        f"<!DOCTYPE html>\n<html{lang_attr}>\n<head>\n<title>{title}</title>\n</head>\n"
        f"<body>\n<p>{rng.choice(sentences)}</p>\n</body>\n</html>\n"
    )


def _long_page(
    rng: random.Random, title: str, titles: list[str], sentences: list[str], lang_attr: str
) -> str:
    nav = "".join(
        f'<li><a href="/{section}/index.html" class="nav-link">{rng.choice(titles)}</a></li>'
        for section in rng.sample(("news", "shop", "help", "blog", "about", "docs", "faq"), 5)
    )
    paragraphs = "\n".join(
        "<p>" + " ".join(rng.sample(sentences, rng.randint(2, 5))) + "</p>"
        for _ in range(rng.randint(3, 8))
    )
    items = "".join(
        f'<li><a href="/item/{rng.randrange(10_000)}.html">{rng.choice(titles)}</a></li>'
        for _ in range(rng.randint(3, 10))
    )
    return (
        f"<!DOCTYPE html>\n<html{lang_attr}>\n<head>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        '<link rel="stylesheet" href="/static/css/main.css?v=3">\n'
        f"<style>{_CSS}</style>\n<script>{_SCRIPT}</script>\n</head>\n"
        f'<body class="page">\n<header><nav><ul>{nav}</ul></nav></header>\n'
        f"<main><article>\n<h1>{title.split(' | ')[0]}</h1>\n"
        f'<p class="meta">2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}</p>\n'
        f'{paragraphs}\n<ul class="related">{items}</ul>\n</article></main>\n'
        '<footer><p>&copy; 2024 Example Ltd. <a href="/privacy.html">Privacy</a></p></footer>\n'
        "</body>\n</html>\n"
    )


def _title(rng: random.Random, titles: list[str]) -> str:
    first = rng.choice(titles)
    shape = rng.random()
    if shape < 0.5:
        return first
    if shape < 0.75:
        return f"{first} | {rng.choice(('Example', 'example.org', 'Portal', 'Wiki'))}"
    return f"{first} - {rng.choice(titles)}"


def _declare(html: str, declared_by: str, label: str) -> str:
    if declared_by == "meta":
        tag = f'<meta charset="{label}">'
    elif declared_by == "http-equiv":
        tag = f'<meta http-equiv="Content-Type" content="text/html; charset={label}">'
    else:
        return html
    return html.replace("<head>\n", f"<head>\n{tag}\n", 1)


def build(root: Path = ROOT) -> list[dict[str, str]]:
    """Write the corpus under ``root`` (replacing it) and return its manifest."""
    rng = random.Random(SEED)
    shutil.rmtree(root, ignore_errors=True)
    manifest: list[dict[str, str]] = []
    for codec, label, family, langs in ENCODINGS:
        pools = _pools(langs, codec)
        if not pools:
            raise SystemExit(f"no gettext catalogue can be written in {codec}")
        (root / codec).mkdir(parents=True)
        for n in range(PAGES_PER_ENCODING):
            lang = sorted(pools)[n % len(pools)]
            titles, sentences = pools[lang]
            size = "short" if n % 2 == 0 else "long"
            title = _title(rng, titles)
            lang_attr = f' lang="{_HTML_LANG.get(lang, lang)}"' if rng.random() < 0.4 else ""
            if size == "short":
                html = _short_page(rng, title, sentences, lang_attr)
            else:
                html = _long_page(rng, title, titles, sentences, lang_attr)
            if codec.startswith("utf_16"):
                declared_by = "bom" if n % 4 < 2 else "header"
            else:
                declared_by = DECLARATIONS[n % 3]
            page_id = f"{codec}/{n:02d}"
            (root / f"{page_id}.html").write_bytes(html.encode(codec))
            declared_file = ""
            if declared_by == "bom":
                declared_file = f"{page_id}.decl.html"
                bom = "\ufeff".encode(codec)
                (root / declared_file).write_bytes(bom + html.encode(codec))
            elif declared_by != "header":
                declared_file = f"{page_id}.decl.html"
                (root / declared_file).write_bytes(_declare(html, declared_by, label).encode(codec))
            manifest.append(
                {
                    "id": page_id,
                    "encoding": codec,
                    "label": label,
                    "family": family,
                    "lang": lang,
                    "size": size,
                    "title": " ".join(title.split()),
                    "declared_by": declared_by,
                    "file": f"{page_id}.html",
                    "declared_file": declared_file,
                }
            )
    (root / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=0) + "\n", "utf-8"
    )
    return manifest


if __name__ == "__main__":
    built = build()
    size = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    print(f"{len(built)} pages, {size / 1e6:.2f} MB under {ROOT}")
