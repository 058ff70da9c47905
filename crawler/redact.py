"""Secrets out of URLs, control characters out of terminals: pure functions and a log filter.

Untrusted text reaches people in three places: log lines, the CLI's output and the prompts sent to
the LLM endpoint. Two things must never pass through (``docs/security.md``):

* **credentials in URLs** — ``http://user:pass@host/`` and ``?token=…``: :func:`redact_url` turns
  them into ``http://user:***@host/`` and ``?token=***``; :func:`redact_text` does it to every URL
  inside a free text (an error message, a header dump). The request itself still uses the real
  URL: redaction is for what is shown and stored for people, never for what is fetched.
* **terminal control sequences** — a ``Location: \\x1b[2J`` header or a page title with ANSI
  escapes would clear or rewrite the terminal of whoever reads the log or ``crawler dlq list``:
  :func:`safe_for_terminal` writes every control character as a visible escape (``\\x1b``).

:class:`RedactingFilter` applies both to every log record of the handler it is added to; the CLI
installs it on its handler, and a library user adds it to theirs::

    handler.addFilter(RedactingFilter())
"""

from __future__ import annotations

import json
import logging
import re
import traceback

__all__ = [
    "MAX_LOG_CHARS",
    "SECRET_PARAM_WORDS",
    "RedactingFilter",
    "is_secret_param",
    "json_for_terminal",
    "one_line",
    "redact_text",
    "redact_url",
    "safe_for_terminal",
]

MASK = "***"
MAX_LOG_CHARS = 8000  # a log message longer than this is cut (a 10 MB line helps no one)

# A query (or fragment) parameter is a secret when its name, split at "_", "-" and ".", has one of
# these words as a part ("api_key", "X-Amz-Signature", "auth_token", "sessionid") or is one.
SECRET_PARAM_WORDS = frozenset(
    {
        "token",
        "key",
        "apikey",
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "sig",
        "signature",
        "session",
        "sessionid",
        "sid",
        "auth",
        "authorization",
        "credential",
        "credentials",
        "jwt",
    }
)
_NAME_PARTS = re.compile(r"[_\-.\[\]]+")

# C0 and C1 controls, DEL, and the invisible characters that reorder or split what a terminal
# shows (bidi overrides and isolates, line and paragraph separators, the BOM / zero-width space).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
_UNSAFE_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]"
)
# A URL inside free text: a scheme, "://", then anything up to white space or a quote.
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.\-]{0,15}://[^\s"'<>`]+""")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter called ``name`` likely holds a secret (see SECRET_PARAM_WORDS)."""
    lowered = name.strip().lower()
    if lowered in SECRET_PARAM_WORDS:
        return True
    parts = [p for p in _NAME_PARTS.split(lowered) if p]
    return any(part in SECRET_PARAM_WORDS for part in parts) or lowered.endswith(
        ("token", "secret", "password", "apikey", "signature", "sessionid")
    )


def _redact_params(text: str) -> str:
    """``a=1&token=abc`` → ``a=1&token=***``; order, separators and other bytes unchanged."""
    if "=" not in text:
        return text
    out: list[str] = []
    for pair in re.split(r"([&;])", text):
        name, sep, value = pair.partition("=")
        if sep and value and is_secret_param(_unquote_name(name)):
            out.append(f"{name}={MASK}")
        else:
            out.append(pair)
    return "".join(out)


def _unquote_name(name: str) -> str:
    # "api%5Fkey" is "api_key" to the server; a plain replace is enough for the name check.
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), name).replace("+", " ")


def redact_url(url: str) -> str:
    """``url`` with its userinfo and secret-named query/fragment parameters masked.

    ``http://user:pw@h/?token=t&q=1`` → ``http://user:***@h/?token=***&q=1``; a userinfo
    without a password (often a token itself) becomes ``***@``. Everything else is kept byte for
    byte, so the result still names the page. Never raises; not a URL → returned as is.
    """
    if not isinstance(url, str):
        return url
    scheme_end = url.find("://")
    if scheme_end < 0:
        return _redact_params(url) if "=" in url else url
    start = scheme_end + 3
    # The authority ends at the first "/", "?" or "#" after the scheme.
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start)
        if found != -1:
            end = min(end, found)
    authority = url[start:end]
    at = authority.rfind("@")
    if at != -1:
        user, colon, _password = authority[:at].partition(":")
        masked = f"{user}:{MASK}" if colon else MASK
        authority = f"{masked}{authority[at:]}"
    rest = url[end:]
    path, hash_, fragment = rest.partition("#")
    path, qmark, query = path.partition("?")
    if qmark:
        query = _redact_params(query)
    if hash_:
        fragment = _redact_params(fragment)
    return f"{url[:start]}{authority}{path}{qmark}{query}{hash_}{fragment}"


def redact_text(text: str) -> str:
    """Every URL inside ``text`` passed through :func:`redact_url`."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_for_terminal(text: str, *, keep_newlines: bool = False, limit: int | None = None) -> str:
    """``text`` with every control character written as a visible escape (``\\x1b``, ``\\n``
    as ``\\x0a``), so that printing it cannot move the cursor, clear the screen, set the window
    title or hide what follows; cut to ``limit`` characters (``…`` marks the cut).

    ``keep_newlines`` keeps ``\\n`` (for tracebacks and pretty-printed JSON, whose line breaks are
    structure, not data).
    """
    if not isinstance(text, str):
        text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    pattern = _UNSAFE_BUT_NEWLINE if keep_newlines else _UNSAFE
    return pattern.sub(_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def json_for_terminal(data: object, *, indent: int | None = 2) -> str:
    """``data`` as JSON that is safe to print: the characters :func:`safe_for_terminal` escapes
    are written as JSON ``\\uXXXX`` escapes, so the text still parses to the same data
    (``json.dumps`` escapes C0 controls itself, but not DEL, C1 or the bidi controls)."""
    text = json.dumps(data, indent=indent, ensure_ascii=False)
    return _UNSAFE_BUT_NEWLINE.sub(_json_escape, text)


def one_line(text: object, limit: int = 2000) -> str:
    """A message for one terminal line: secrets redacted, controls escaped, at most ``limit``
    characters (the escapes may add a few)."""
    raw = text if isinstance(text, str) else str(text)
    if len(raw) > limit:
        raw = raw[: max(0, limit - 1)] + "…"
    return safe_for_terminal(redact_text(raw))


class RedactingFilter(logging.Filter):
    """A handler filter: each record's message (its arguments filled in), exception and stack
    text are redacted (:func:`redact_text`) and made safe for a terminal
    (:func:`safe_for_terminal`); the message is cut at ``max_chars``. Records are never dropped.
    """

    def __init__(self, max_chars: int = MAX_LOG_CHARS) -> None:
        super().__init__()
        self.max_chars = max_chars

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself; leave the record
            return True
        record.msg = one_line(message, self.max_chars)
        record.args = None
        if record.exc_info and not record.exc_text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = safe_for_terminal(redact_text(text), keep_newlines=True)
        elif record.exc_text:
            record.exc_text = safe_for_terminal(redact_text(record.exc_text), keep_newlines=True)
        if record.stack_info:
            record.stack_info = safe_for_terminal(record.stack_info, keep_newlines=True)
        return True
