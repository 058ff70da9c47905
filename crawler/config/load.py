"""Loading: the TOML file, ``CRAWLER_*`` environment variables and CLI overrides → :class:`Config`,
with every problem turned into one :class:`~crawler.errors.ConfigError`."""

from __future__ import annotations

import os
import re
import reprlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
)

from crawler.config.base import Section
from crawler.config.crawl import CrawlConfig, FetchConfig
from crawler.config.failure import BreakerConfig, LLMConfig, RetryConfig, ThrottleConfig
from crawler.config.operations import (
    AlertsConfig,
    DegradationConfig,
    LogConfig,
    MetricsConfig,
    Soft404Config,
    StatusConfig,
    StorageConfig,
)
from crawler.config.recrawl import RecrawlConfig
from crawler.errors import ConfigError

ENV_PREFIX = "CRAWLER_"
# Limits on what a config file may be, checked before and right after parsing, so that a hostile
# or broken file ends as a ConfigError (exit 2), never as a RecursionError or a 10 MB message.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 16  # tables and arrays inside each other; the schema needs 3
MAX_SHOWN_CHARS = 200  # of a bad value, in the error message


class Config(Section):
    """The whole configuration: one frozen model per TOML table."""

    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    circuit_breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    throttle: ThrottleConfig = Field(default_factory=ThrottleConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    status: StatusConfig = Field(default_factory=StatusConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    degradation: DegradationConfig = Field(default_factory=DegradationConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    soft404: Soft404Config = Field(default_factory=Soft404Config)
    recrawl: RecrawlConfig = Field(default_factory=RecrawlConfig)


def _sections() -> dict[str, type[Section]]:
    """Section name → model class, in declaration order."""
    out: dict[str, type[Section]] = {}
    for name, info in Config.model_fields.items():
        model = info.annotation
        assert isinstance(model, type)
        assert issubclass(model, Section)
        out[name] = model
    return out


SECTIONS: Mapping[str, type[Section]] = _sections()


def load_config(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the validated configuration.

    ``path``: a TOML file (``None`` = built-in defaults, identical to the shipped ``config.toml``).
    ``env`` (default ``os.environ``): ``CRAWLER_<SECTION>_<KEY>`` sets ``section.key``; the value
    is parsed as a TOML value (``5``, ``true``, ``["a"]``) unless the key holds a string, where it
    is taken literally. Variables whose name starts with no known section are ignored.
    ``overrides``: dotted keys from CLI flags, e.g. ``{"crawl.max_pages": 5}``, applied last;
    ``None`` values are skipped (a flag that was not given).

    Raises :class:`ConfigError` for an unreadable file, invalid TOML, unknown sections or keys,
    wrong types and out-of-range values.
    """
    data: dict[str, Any] = _read_toml(Path(path)) if path is not None else {}
    _check_depth(data, str(path))
    for dotted, value in _env_settings(os.environ if env is None else env).items():
        _set(data, dotted, value)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _check_key(dotted, value)
            _set(data, dotted, value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError("config file", str(path), f"a readable TOML file ({reason})") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            "config file", str(path), f"a TOML file of at most {MAX_CONFIG_BYTES} bytes"
        )
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.end]
        raise ConfigError(str(path), bad, f"valid TOML: not UTF-8 ({exc})") from exc
    except RecursionError as exc:  # tomllib recurses once per nested array or inline table
        raise ConfigError(
            str(path), _Shown("..."), f"valid TOML nested at most {MAX_CONFIG_DEPTH} levels deep"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        # The offending line is the most useful "value" a person can look at.
        line_match = re.search(r"at line (\d+)", str(exc))
        lines = raw.decode("utf-8").splitlines()
        value: object = None
        if line_match and 0 < int(line_match.group(1)) <= len(lines):
            value = _shown(lines[int(line_match.group(1)) - 1])
        raise ConfigError(str(path), value, f"valid TOML: {exc}") from exc


def _check_depth(data: dict[str, Any], source: str) -> None:
    """Refuse tables or arrays nested deeper than MAX_CONFIG_DEPTH (walked without recursion:
    ``[a.a.a…]`` headers build a deep dict that tomllib parses without recursing)."""
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        value, key, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            where = key[:MAX_SHOWN_CHARS] or source
            raise ConfigError(
                where, _Shown("..."), f"at most {MAX_CONFIG_DEPTH} nested tables or arrays"
            )
        if isinstance(value, dict):
            for name, item in value.items():
                stack.append((item, f"{key}.{name}" if key else str(name), depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{key}[{index}]", depth + 1))


class _Shown:
    """A value as the error message shows it: ``repr`` is this text, unquoted."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = MAX_SHOWN_CHARS
_REPR.maxother = MAX_SHOWN_CHARS
_REPR.maxlist = _REPR.maxdict = _REPR.maxtuple = _REPR.maxset = 8


def _shown(value: object) -> object:
    """``value`` itself when it is small, else a bounded stand-in for the error message: a bad
    value of 10 MB (or 2,000 levels) must not become a 10 MB (or recursing) message."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str | bytes) and len(value) <= MAX_SHOWN_CHARS:
        return value
    try:
        if len(repr(value)) <= MAX_SHOWN_CHARS:
            return value
        return _Shown(_REPR.repr(value))
    except RecursionError:
        return _Shown(f"<{type(value).__name__}>")


def _is_text_field(section: str, key: str) -> bool:
    """Whether an env value for this key is taken literally instead of parsed as TOML."""
    annotation = SECTIONS[section].model_fields[key].annotation
    return annotation in (str, SecretStr) or get_origin(annotation) is Literal


def _env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """``CRAWLER_<SECTION>_<KEY>`` variables → ``{"section.key": value}``."""
    found: dict[str, Any] = {}
    # Longest section first so a prefix of another section name never wins.
    sections = sorted(SECTIONS, key=len, reverse=True)
    for name, raw in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        section = next((s for s in sections if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not ours (e.g. CRAWLER_HOME of some wrapper script)
        key = rest[len(section) + 1 :]
        if key not in SECTIONS[section].model_fields:
            shown = (
                "<redacted>" if "KEY" in name.upper() or "TOKEN" in name.upper() else _shown(raw)
            )
            raise ConfigError(name, shown, f"one of: {_known_keys(section, env_style=True)}")
        found[f"{section}.{key}"] = raw if _is_text_field(section, key) else _parse_env(raw)
    return found


def _parse_env(raw: str) -> object:
    """A TOML value if ``raw`` is one (``5``, ``1.5``, ``true``, ``["a"]``), else the string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return raw


def _known_keys(section: str, *, env_style: bool = False) -> str:
    keys = list(SECTIONS[section].model_fields)
    if env_style:
        return ", ".join(f"{ENV_PREFIX}{section}_{k}".upper() for k in keys)
    return ", ".join(keys)


def _check_key(dotted: str, value: object) -> None:
    section, _, key = dotted.partition(".")
    if section not in SECTIONS:
        raise ConfigError(
            dotted, _shown(value), f"a key in one of the sections: {', '.join(SECTIONS)}"
        )
    if key not in SECTIONS[section].model_fields:
        raise ConfigError(dotted, _shown(value), f"one of: {_known_keys(section)}")


def _set(data: dict[str, Any], dotted: str, value: object) -> None:
    section, _, key = dotted.partition(".")
    table = data.setdefault(section, {})
    if isinstance(table, dict):
        table[key] = value
    # Otherwise the file holds a non-table there; validation reports that key.


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "[key]":
            out += f".{part}" if out else part
    return out


def _expected(error: Mapping[str, Any]) -> str:
    loc = error["loc"]
    kind = error["type"]
    if kind == "extra_forbidden":
        if len(loc) == 1:
            return f"a section, one of: {', '.join(SECTIONS)}"
        return f"one of: {_known_keys(str(loc[0]))}"
    if kind in ("model_type", "model_attributes_type", "dict_type") and len(loc) == 1:
        return "a TOML table"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "assertion_error":
        return str(error["msg"])
    return str(error["msg"]).removeprefix("Input should be ")


def _translate(exc: ValidationError) -> ConfigError:
    """First validation error → ConfigError; the rest are appended to ``expected``."""
    errors = exc.errors()
    first = errors[0]
    key = _dotted(first["loc"])[:MAX_SHOWN_CHARS]
    value = "<redacted>" if key.endswith(("api_key", "token")) else _shown(first.get("input"))
    expected = _expected(first)
    if len(errors) > 1:
        rest = "; ".join(f"{_dotted(e['loc'])}: {_expected(e)}" for e in errors[1:6])
        more = f"; and {len(errors) - 6} more" if len(errors) > 6 else ""
        expected += f" (also: {rest}{more})"
    if len(expected) > 5 * MAX_SHOWN_CHARS:
        expected = expected[: 5 * MAX_SHOWN_CHARS - 1] + "…"
    return ConfigError(key, value, expected)
