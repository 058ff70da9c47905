"""The configuration reference, generated from the models in :mod:`crawler.config`.

``config.toml`` (every key with its default and a comment) and ``docs/config.md`` (one table per
section) are both written from the field declarations, so neither can drift from the code:
``python -m crawler.config_docs`` rewrites them, and a test fails when a file is out of date.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from crawler.config import SECTIONS, Config

__all__ = ["render_markdown", "render_toml", "write_reference"]

TOML_HEADER = """\
# adaptive-crawler — the documented default configuration.
# Every key is shown with its default; this file parses to exactly the built-in defaults.
# Precedence: defaults < this file < CRAWLER_<SECTION>_<KEY> env vars < CLI flags.
# Reference: docs/config.md (generated, like this file, by `python -m crawler.config_docs`).
"""

MARKDOWN_PREAMBLE = """\
# Configuration reference

<!-- Generated from crawler/config/ by `python -m crawler.config_docs`; do not edit by hand. -->

The crawler reads one TOML file (`crawler run --config PATH`); every key is optional and
defaults to the value below (the shipped `config.toml` lists them all). Types are strict:
`"5"` is not an integer and `true` is not a number; an integer is accepted for a float.
Unknown sections or keys, wrong types and out-of-range values stop the run with exit code 2
and a message naming the dotted key, the value and what was expected.

**Precedence**, lowest first: built-in defaults, the TOML file, environment variables, CLI flags.

**Environment**: `CRAWLER_<SECTION>_<KEY>` sets `section.key`, e.g. `CRAWLER_LLM_API_KEY`,
`CRAWLER_CRAWL_MAX_PAGES=5`, `CRAWLER_CIRCUIT_BREAKER_FAILURE_THRESHOLD=2`. The value is parsed
as a TOML value (`5`, `2.5`, `true`, `["a", "b"]`, `{ SERVER = "FAIL_FAST" }`) unless the key
holds a string, where it is taken literally. A variable naming a known section but an unknown
key is an error; `CRAWLER_*` variables that start with no known section are ignored.

**Scope** (`crawl.allowed_domains`): the seeds' `host:port` are always in scope. An entry
`"example.com"` adds that exact host on any port, `"example.com:8080"` that host on that port
only, `"*.example.com"` every subdomain of example.com (not example.com itself: list both).
`include` / `exclude` regexes are searched (`re.search`) in the absolute URL; exclude wins.

**API key**: `llm.api_key` if non-empty, else the environment variable named by
`llm.api_key_env` (`LLMConfig.resolved_api_key()`); the key is never printed.
"""


def _default(section: type[BaseModel], key: str) -> Any:
    value = getattr(Config(), _section_name(section)).__getattribute__(key)
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


def _section_name(model: type[BaseModel]) -> str:
    for name, cls in SECTIONS.items():
        if cls is model:
            return name
    raise KeyError(model.__name__)


def _toml_value(value: Any) -> str:
    """A default as TOML: JSON's scalars and arrays are valid TOML; tables are written inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list | tuple):
        items = [_toml_value(v) for v in value]
        flat = "[" + ", ".join(items) + "]"
        if len(flat) <= 80:
            return flat
        return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    if hasattr(value, "value"):  # enums
        return json.dumps(str(value.value), ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def _range(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        if isinstance(meta, Ge):
            parts.append(f">= {meta.ge}")
        elif isinstance(meta, Gt):
            parts.append(f"> {meta.gt}")
        elif isinstance(meta, Le):
            parts.append(f"<= {meta.le}")
        elif isinstance(meta, Lt):
            parts.append(f"< {meta.lt}")
    return ", ".join(parts)


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "str: " + " or ".join(json.dumps(a) for a in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(annotation))
    if origin is dict:
        key, value = get_args(annotation)
        return f"table: {_type_name(key).lower()} → {_type_name(value).lower()}"
    if origin is not None:
        args = ", ".join(_type_name(a) for a in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is SecretStr:
        return "str (secret)"
    return getattr(annotation, "__name__", str(annotation))


def render_toml() -> str:
    """The shipped ``config.toml``: every section and key with its default and description."""
    out = [TOML_HEADER]
    for name, model in SECTIONS.items():
        out.append(f"\n[{name}]\n")
        for key, info in model.model_fields.items():
            rng = _range(info)
            comment = f"{info.description}." + (f" Range: {rng}." if rng else "")
            out.append(f"# {comment}\n{key} = {_toml_value(_default(model, key))}\n")
    return "".join(out)


def _md(text: str) -> str:
    return text.replace("|", "&#124;").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown() -> str:
    """``docs/config.md``: the preamble, then one table per section."""
    out = [MARKDOWN_PREAMBLE]
    for name, model in SECTIONS.items():
        doc = (model.__doc__ or "").split(":", 1)[-1].strip().replace("``", "`")
        out.append(f"\n## [{name}]\n\n{doc}\n\n")
        out.append("| key | type | default | range | meaning |\n| --- | --- | --- | --- | --- |\n")
        for key, info in model.model_fields.items():
            default = _toml_value(_default(model, key))
            default = default.replace("[\n    ", "[").replace(",\n]", "]").replace("\n    ", " ")
            row = (
                f"`{key}`",
                _md(_type_name(info.annotation)),
                f"`{default}`",
                _md(_range(info)),
                _md(str(info.description)),
            )
            out.append("| " + " | ".join(row) + " |\n")
    return "".join(out)


def write_reference(root: Path) -> list[Path]:
    """Rewrite ``config.toml`` and ``docs/config.md`` under ``root``; returns the changed ones."""
    changed = []
    targets = ((root / "config.toml", render_toml()), (root / "docs/config.md", render_markdown()))
    for path, text in targets:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


if __name__ == "__main__":
    here = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for changed_path in write_reference(here):
        print(f"wrote {changed_path}")
