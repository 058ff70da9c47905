"""Response bytes → text: the charset a page declares, else the one it is detected to be.

Decision order (docs/encodings.md says why, with the figures):

1. a ``charset`` parameter of the ``Content-Type`` header that names an encoding;
2. a byte order mark (UTF-8, UTF-16 LE/BE);
3. ``<meta charset>`` or ``<meta http-equiv="Content-Type">`` in the first 4 KB;
4. detection: UTF-16 without a BOM (NUL bytes every other byte in the first 512 bytes); valid
   UTF-8 (the common case, decoded once); ISO-2022-JP (pure ASCII with escape sequences); UTF-8
   with a few stray bytes; otherwise chardetng, Firefox's detector for undeclared legacy HTML, on
   the first 64 KB;
5. nothing usable: UTF-8 with replacement characters.

Labels mean what they mean to browsers (WHATWG Encoding Standard), not Python's codec of the same
name. Nothing here raises on any bytes or any header.
"""

from __future__ import annotations

import codecs
import functools
import re

import chardetng_py

# Every WHATWG label of a legacy encoding, under the Python codec that decodes it as browsers do:
# "iso-8859-1" and "ascii" are windows-1252, Shift_JIS is Microsoft's cp932 (real pages use its
# extensions), GB2312/GBK are gb18030, EUC-KR is cp949, Big5 is Big5-HKSCS, TIS-620 is
# windows-874, ISO-8859-8-I is ISO-8859-8. A few Python spellings (cp932, ms932, ...) ride along.
_WEB_CODEC_TABLE = """
utf-8: unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8
cp866: 866 cp866 csibm866 ibm866
iso8859-2: csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2
iso8859-2: latin2
iso8859-3: csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3
iso8859-3: latin3
iso8859-4: csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4
iso8859-4: latin4
iso8859-5: csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5
iso8859-5: iso_8859-5:1988
iso8859-6: arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6
iso8859-6: iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987
iso8859-7: csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7
iso8859-7: iso88597 iso_8859-7 iso_8859-7:1987 sun_eu_greek
iso8859-8: csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8
iso8859-8: iso88598 iso_8859-8 iso_8859-8:1988 visual csiso88598i iso-8859-8-i logical
iso8859-10: csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6
iso8859-13: iso-8859-13 iso8859-13 iso885913
iso8859-14: iso-8859-14 iso8859-14 iso885914
iso8859-15: csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9
iso8859-16: iso-8859-16
koi8-r: cskoi8r koi koi8 koi8-r koi8_r
koi8-u: koi8-ru koi8-u
mac-roman: csmacintosh mac macintosh x-mac-roman
mac-cyrillic: x-mac-cyrillic x-mac-ukrainian
cp874: dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 tis_620 windows-874
cp1250: cp1250 windows-1250 x-cp1250
cp1251: cp1251 windows-1251 x-cp1251
cp1252: ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1
cp1252: iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 latin-1 us-ascii windows-1252 x-cp1252
cp1252: x-user-defined
cp1253: cp1253 windows-1253 x-cp1253
cp1254: cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9
cp1254: iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254
cp1255: cp1255 windows-1255 x-cp1255
cp1256: cp1256 windows-1256 x-cp1256
cp1257: cp1257 windows-1257 x-cp1257
cp1258: cp1258 windows-1258 x-cp1258
gb18030: chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk gb18030
big5hkscs: big5 big5-hkscs cn-big5 csbig5 x-x-big5 big5hkscs
euc_jp: cseucpkdfmtjapanese euc-jp x-euc-jp euc_jp
iso2022_jp: csiso2022jp iso-2022-jp
cp932: csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis cp932
cp949: cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601
cp949: ksc_5601 windows-949 euc_kr cp949
utf-16-be: unicodefffe utf-16be utf_16_be
utf-16-le: csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le utf_16 utf_16_le
"""
_WEB_CODECS = {
    label: codec
    for codec, _, labels in (line.partition(": ") for line in _WEB_CODEC_TABLE.split("\n"))
    for label in labels.split()
}
# Never decoded: the labels WHATWG maps to its "replacement" encoding (ISO-2022-KR/CN, HZ: they
# can hide markup from a filter), UTF-7 (an XSS vector) and UTF-32. Such a label counts as absent.
_REFUSED_LABELS = frozenset(
    {"csiso2022kr", "hz-gb-2312", "iso-2022-cn", "iso-2022-cn-ext", "iso-2022-kr", "replacement"}
)
_REFUSED_CODECS = frozenset({"utf-7", "utf-32", "utf-32-le", "utf-32-be", "hz", "iso2022_kr"})

_CHARSET_PARAM_RE = re.compile(r"""charset\s*=\s*["']?\s*([^"';\s]+)""", re.IGNORECASE)
_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:\-]+)""", re.IGNORECASE
)
_META_SCAN_BYTES = 4096
_DETECT_BYTES = 64 * 1024  # chardetng reads this much; a prefix says enough
_UTF16_SNIFF_BYTES = 512
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@functools.lru_cache(maxsize=256)
def codec_for(label: str) -> str | None:
    """The Python codec a charset label means on the web (``"sjis"`` → ``"cp932"``), or None if
    the label names no text encoding Python has, or one browsers refuse to decode."""
    label = label.strip().strip("\"'").lower()
    if label in _REFUSED_LABELS:
        return None
    name = _WEB_CODECS.get(label)
    if name is None:
        try:
            name = codecs.lookup(label).name
            # LookupError for bytes-to-bytes codecs such as base64 (empty input would not tell)
            b"  ".decode(name, "replace")
        except (LookupError, ValueError):
            return None
        name = _WEB_CODECS.get(name, name)
    return None if name in _REFUSED_CODECS else name


def decode_body(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode a response body; returns ``(text, codec used)``. Never raises.

    The codec is the declared one (header, BOM, ``<meta>``), else the detected one; see the module
    docstring for the order. A byte order mark is never part of the text.
    """
    encoding = declared_encoding(body, content_type)
    if encoding is None:
        encoding, text = _detect(body)
        if text is not None:
            return text, encoding
    if encoding == "utf-8":
        return body.decode("utf-8-sig", "replace"), encoding
    text = body.decode(encoding, "replace")
    return text.removeprefix("\ufeff"), encoding


def declared_encoding(body: bytes, content_type: str | None) -> str | None:
    """The codec the response declares for itself, or None: a ``charset`` in ``content_type``, a
    byte order mark, or a ``<meta>`` charset in the first 4 KB. Unknown labels do not count."""
    if content_type:
        match = _CHARSET_PARAM_RE.search(content_type)
        if match:
            encoding = codec_for(match.group(1))
            if encoding is not None:
                return encoding
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    meta = _META_CHARSET_RE.search(body, 0, _META_SCAN_BYTES)
    if meta:
        encoding = codec_for(meta.group(1).decode("ascii"))
        if encoding is not None:
            # The page was read as ASCII to find the meta, so it cannot be UTF-16 (WHATWG).
            return "utf-8" if encoding.startswith("utf-16") else encoding
    return None


def _detect(body: bytes) -> tuple[str, str | None]:
    """The codec of an undeclared body, and its text when finding the codec decoded it already."""
    if b"\x00" in body[:_UTF16_SNIFF_BYTES]:
        utf16 = _utf16_without_bom(body[:_UTF16_SNIFF_BYTES])
        if utf16 is not None:
            return utf16, None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        if _mostly_utf8(body[:_DETECT_BYTES]):
            return "utf-8", None
    else:
        # Valid UTF-8 is practically never another charset, and pure ASCII reads the same under
        # every candidate, save ISO-2022-JP, which is ASCII with escape sequences.
        if (
            b"\x1b" in body
            and body.isascii()
            and _guess_legacy(body[:_DETECT_BYTES]) == "iso2022_jp"
        ):
            return "iso2022_jp", None
        return "utf-8", text
    return _guess_legacy(body[:_DETECT_BYTES]), None


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 LE or BE when every other byte of ``head`` is mostly NUL, as ASCII markup is in
    UTF-16, and the bytes in between are not; else None. Legacy and UTF-8 HTML have no NULs."""
    evens, odds = head[0::2].count(0), head[1::2].count(0)
    pairs = len(head) // 2
    if pairs < 4:
        return None
    if odds >= pairs // 4 and evens * 16 <= odds:
        return "utf-16-le"  # "<" is 3C 00
    if evens >= pairs // 4 and odds * 16 <= evens:
        return "utf-16-be"  # "<" is 00 3C
    return None


def _mostly_utf8(head: bytes) -> bool:
    """True for UTF-8 with a few stray bytes (a pasted windows-1252 quote, a cut sequence): at
    least 8 valid non-ASCII characters for each invalid byte. Legacy text decoded as UTF-8 has
    more invalid bytes than valid characters (at most 1.2 valid per invalid on the test corpus)."""
    text = head.decode("utf-8", "replace")
    invalid = text.count("\ufffd")
    valid = len(text) - len(text.encode("ascii", "ignore")) - invalid
    return valid >= 8 * invalid


def _guess_legacy(head: bytes) -> str:
    """chardetng's answer for bytes that are not UTF-8 (its default: windows-1252)."""
    try:
        label = chardetng_py.detect(head, allow_utf8=False)
    except BaseException as exc:  # a detector bug must not cost the page; windows-1252 stands in
        # pyo3 raises a Rust panic as PanicException, a BaseException: catch that one too.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        return "cp1252"
    return codec_for(label) or "cp1252"
