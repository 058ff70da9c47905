"""crawler.config: defaults, the shipped config.toml, precedence, env, and every error kind."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from crawler.config import (
    SECTIONS,
    Config,
    CrawlConfig,
    load_config,
)
from crawler.errors import ConfigError
from crawler.records import Category, Strategy

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config.toml"
DOCS = ROOT / "docs" / "config.md"

SECTION_MODELS: dict[str, type[Any]] = dict(SECTIONS)  # the models are the one source


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults and the shipped files ---------------------------------------------------------


def test_sections_are_the_documented_tables() -> None:
    assert list(Config.model_fields) == list(SECTION_MODELS)
    cfg = Config()
    for name, model in SECTION_MODELS.items():
        assert type(getattr(cfg, name)) is model


def test_contract_defaults() -> None:
    cfg = load_config(env={})
    assert cfg == Config()
    assert cfg.crawl.respect_robots_txt is True
    assert (cfg.crawl.max_pages, cfg.crawl.max_depth) == (1000, 5)
    assert (cfg.fetch.connect_timeout_s, cfg.fetch.read_timeout_s) == (10.0, 30.0)
    assert cfg.fetch.max_response_bytes == 10 * 1024 * 1024
    assert cfg.fetch.max_redirects == 10
    assert (cfg.retry.max_retries, cfg.retry.base_delay_s, cfg.retry.max_delay_s) == (3, 1.0, 20.0)
    assert cfg.retry.respect_retry_after is True
    assert cfg.retry.max_retry_after_s == 120.0
    assert 429 in cfg.retry.retry_http_codes
    assert 503 in cfg.retry.retry_http_codes
    assert (cfg.circuit_breaker.failure_threshold, cfg.circuit_breaker.reset_timeout_s) == (5, 10.0)
    assert cfg.circuit_breaker.max_open_cycles == 3
    assert cfg.llm.enabled is True
    assert (cfg.llm.base_url, cfg.llm.model, cfg.llm.timeout_s) == ("", "", 10.0)
    assert cfg.llm.api_key.get_secret_value() == ""
    assert cfg.storage.backend == "sqlite"
    assert (cfg.status.enabled, cfg.status.host) == (False, "127.0.0.1")
    assert cfg.log.format == "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
    assert cfg.fetch.block_markers == []  # the classifier's own fingerprints and phrases apply


def test_shipped_config_toml_is_exactly_the_defaults() -> None:
    assert load_config(SHIPPED, env={}) == Config()


def test_shipped_config_toml_spells_out_every_key_with_a_comment() -> None:
    raw = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    assert list(raw) == list(SECTION_MODELS)
    for section, model in SECTION_MODELS.items():
        assert list(raw[section]) == list(model.model_fields), section
    # Every key line is directly preceded by a comment line that explains it.
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    key_line = re.compile(r"^([a-z_]+) = ")
    keys_seen = 0
    for i, line in enumerate(lines):
        if key_line.match(line):
            keys_seen += 1
            assert lines[i - 1].startswith("# "), f"no comment above: {line}"
    # ...and that comment is the field's description (the models are the one source).
    text = SHIPPED.read_text(encoding="utf-8")
    for section, model in SECTION_MODELS.items():
        for key, info in model.model_fields.items():
            assert f"# {info.description}" in text, f"{section}.{key}: comment out of date"
    assert keys_seen == sum(len(m.model_fields) for m in SECTION_MODELS.values())


def test_docs_mention_every_section_and_key() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for section, model in SECTION_MODELS.items():
        heading = f"## [{section}]"
        assert heading in docs
        table = docs.split(heading, 1)[1].split("\n## ", 1)[0]
        for key, info in model.model_fields.items():
            assert f"| `{key}` |" in table, f"{section}.{key} missing from docs/config.md"
            meaning = str(info.description).replace("|", "&#124;")
            meaning = meaning.replace("<", "&lt;").replace(">", "&gt;")
            assert meaning in table, f"{section}.{key}: description out of date in docs"


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(ValidationError):
        cfg.fetch.connect_timeout_s = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        cfg.crawl = CrawlConfig()  # type: ignore[misc]


def test_output_paths_default_into_the_state_dir() -> None:
    cfg = load_config(overrides={"crawl.state_dir": "/tmp/s"}, env={})
    assert cfg.crawl.out_path == Path("/tmp/s/results.jsonl")
    assert cfg.crawl.summary_path == Path("/tmp/s/summary.json")
    cfg = load_config(overrides={"crawl.out": "o.jsonl", "crawl.summary_json": "s.json"}, env={})
    assert (cfg.crawl.out_path, cfg.crawl.summary_path) == (Path("o.jsonl"), Path("s.json"))


# --- file, overrides, env and their precedence ----------------------------------------------


def test_file_values_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [crawl]
        max_pages = 7
        include = ['^https?://a/']
        allowed_domains = ["Example.COM", "*.example.org", "localhost:8080", "[::1]:9000"]
        target_data = { price = "span.price", title = "h1" }
        [fetch]
        connect_timeout_s = 2   # an int is fine where a float is expected
        block_markers = ["Access DENIED"]
        [retry]
        strategies = { server = "fail_fast", RATE_LIMIT = "EXPONENTIAL_BACKOFF" }
        [log]
        level = "debug"
        """,
    )
    cfg = load_config(path, env={})
    assert cfg.crawl.max_pages == 7
    assert cfg.crawl.include == ["^https?://a/"]
    assert cfg.crawl.allowed_domains == [
        "example.com",
        "*.example.org",
        "localhost:8080",
        "[::1]:9000",
    ]
    assert cfg.crawl.target_data == {"price": "span.price", "title": "h1"}
    assert cfg.fetch.connect_timeout_s == 2.0
    assert isinstance(cfg.fetch.connect_timeout_s, float)
    assert cfg.fetch.block_markers == ["access denied"]
    assert cfg.retry.strategies == {
        Category.SERVER: Strategy.FAIL_FAST,
        Category.RATE_LIMIT: Strategy.EXPONENTIAL_BACKOFF,
    }
    assert cfg.log.level == "DEBUG"
    # Keys the file leaves out keep their defaults.
    assert cfg.crawl.max_depth == 5


def test_precedence_file_then_env_then_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "[crawl]\nmax_pages = 7\nmax_depth = 2\nconcurrency = 3\n")
    cfg = load_config(
        path,
        overrides={"crawl.max_pages": 5, "crawl.max_depth": None, "llm.enabled": False},
        env={"CRAWLER_CRAWL_MAX_PAGES": "6", "CRAWLER_CRAWL_MAX_DEPTH": "4"},
    )
    assert cfg.crawl.max_pages == 5  # override beats env beats file
    assert cfg.crawl.max_depth == 4  # a None override is "flag not given"
    assert cfg.crawl.concurrency == 3  # file beats default
    assert cfg.llm.enabled is False


def test_env_values_are_parsed_as_toml_except_for_strings() -> None:
    cfg = load_config(
        env={
            "CRAWLER_CRAWL_MAX_PAGES": "5",
            "CRAWLER_CRAWL_RESPECT_ROBOTS_TXT": "false",
            "CRAWLER_FETCH_READ_TIMEOUT_S": "2.5",
            "CRAWLER_CRAWL_EXCLUDE": '["\\\\.pdf$"]',
            "CRAWLER_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "2",
            "CRAWLER_RETRY_STRATEGIES": '{ SERVER = "SKIP" }',
            "CRAWLER_LLM_MODEL": "5",  # a string key: taken literally, not parsed
            "CRAWLER_LLM_BASE_URL": "http://127.0.0.1:8080/v1",
            "CRAWLER_LOG_LEVEL": "warning",
            "CRAWLER_HOME": "/somewhere",  # not a section: somebody else's variable
            "PATH": "/bin",
        }
    )
    assert cfg.crawl.max_pages == 5
    assert cfg.crawl.respect_robots_txt is False
    assert cfg.fetch.read_timeout_s == 2.5
    assert cfg.crawl.exclude == ["\\.pdf$"]
    assert cfg.circuit_breaker.failure_threshold == 2
    assert cfg.retry.strategies == {Category.SERVER: Strategy.SKIP}
    assert cfg.llm.model == "5"
    assert cfg.llm.base_url == "http://127.0.0.1:8080/v1"
    assert cfg.llm.configured
    assert cfg.log.level == "WARNING"


def test_defaults_read_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAWLER_STATUS_PORT", "9999")
    assert load_config().status.port == 9999


def test_api_key_from_env_is_secret() -> None:
    cfg = load_config(env={"CRAWLER_LLM_API_KEY": "sk-very-secret"})
    assert cfg.llm.resolved_api_key({}) == "sk-very-secret"
    for text in (repr(cfg), str(cfg), repr(cfg.llm), cfg.model_dump_json()):
        assert "sk-very-secret" not in text


def test_resolved_api_key_falls_back_to_the_named_env_var() -> None:
    llm = load_config(overrides={"llm.api_key_env": "MY_KEY"}, env={}).llm
    assert llm.resolved_api_key({"MY_KEY": "k2"}) == "k2"
    assert llm.resolved_api_key({}) == ""
    literal = load_config(overrides={"llm.api_key": "k1"}, env={}).llm
    assert literal.resolved_api_key({"OPENAI_API_KEY": "other"}) == "k1"


def test_llm_configured_needs_enabled_url_and_model() -> None:
    ok = {"llm.base_url": "http://h/v1", "llm.model": "m"}
    assert load_config(overrides=ok, env={}).llm.configured
    assert not load_config(overrides={**ok, "llm.enabled": False}, env={}).llm.configured
    assert not load_config(overrides={"llm.base_url": "http://h/v1"}, env={}).llm.configured


# --- errors: each names the key, the value and what was expected ----------------------------


def assert_config_error(
    exc: pytest.ExceptionInfo[ConfigError], key: str, value: object, expected: str
) -> None:
    err = exc.value
    assert err.key == key
    assert err.value == value
    assert expected in err.expected, err.expected
    message = str(err)
    assert key in message
    assert repr(value) in message
    assert expected in message


FILE_ERRORS = [
    pytest.param(
        "[fetch]\nconect_timeout_s = 5\n",
        "fetch.conect_timeout_s",
        5,
        "one of: connect_timeout_s, read_timeout_s",
        id="unknown-key",
    ),
    pytest.param(
        "[fetchh]\nconnect_timeout_s = 5\n",
        "fetchh",
        {"connect_timeout_s": 5},
        "a section, one of: crawl, fetch, retry",
        id="unknown-section",
    ),
    pytest.param(
        '[crawl]\nmax_pages = "5"\n', "crawl.max_pages", "5", "a valid integer", id="string-not-int"
    ),
    pytest.param(
        "[crawl]\nmax_pages = true\n", "crawl.max_pages", True, "a valid integer", id="bool-not-int"
    ),
    pytest.param(
        "[fetch]\nread_timeout_s = true\n",
        "fetch.read_timeout_s",
        True,
        "a valid number",
        id="bool-not-float",
    ),
    pytest.param(
        "[fetch]\nconnect_timeout_s = -1.5\n",
        "fetch.connect_timeout_s",
        -1.5,
        "greater than 0",
        id="negative-timeout",
    ),
    pytest.param(
        "[fetch]\nconnect_timeout_s = inf\n",
        "fetch.connect_timeout_s",
        float("inf"),
        "finite number",
        id="infinite-timeout",
    ),
    pytest.param(
        "[status]\nport = 70000\n", "status.port", 70000, "less than or equal to 65535", id="port"
    ),
    pytest.param(
        "[crawl]\nconcurrency = 0\n",
        "crawl.concurrency",
        0,
        "greater than or equal to 1",
        id="conc",
    ),
    pytest.param(
        "[crawl]\nexclude = ['ok', '(unclosed']\n",
        "crawl.exclude",
        ["ok", "(unclosed"],
        "valid regular expressions ('(unclosed' does not compile",
        id="bad-regex",
    ),
    pytest.param(
        '[retry]\nstrategies = { SERVR = "RETRY" }\n',
        "retry.strategies",
        {"SERVR": "RETRY"},
        "category names as keys ('SERVR' is not one of: NETWORK",
        id="bad-category",
    ),
    pytest.param(
        '[retry]\nstrategies = { SERVER = "PRAY" }\n',
        "retry.strategies",
        {"SERVER": "PRAY"},
        "strategy names as values (SERVER = 'PRAY' is not one of: RETRY",
        id="bad-strategy",
    ),
    pytest.param(
        "[retry]\nretry_http_codes = [503, 99]\n",
        "retry.retry_http_codes",
        [503, 99],
        "HTTP status codes 100..599 (bad: [99])",
        id="bad-status-code",
    ),
    pytest.param(
        '[crawl]\nallowed_domains = ["https://example.com/"]\n',
        "crawl.allowed_domains",
        ["https://example.com/"],
        "without scheme or path",
        id="bad-domain",
    ),
    pytest.param(
        '[crawl]\ntarget_data = { price = "span[[" }\n',
        "crawl.target_data",
        {"price": "span[["},
        "valid CSS selectors (price = 'span[['",
        id="bad-selector",
    ),
    pytest.param(
        '[storage]\nbackend = "postgres"\n',
        "storage.backend",
        "postgres",
        "'sqlite' or 'redis'",
        id="bad-literal",
    ),
    pytest.param(
        "[throttle]\nmin_delay_s = 5\nmax_delay_s = 1\n",
        "throttle.max_delay_s",
        1,
        "a value >= throttle.min_delay_s (5.0)",
        id="min-over-max",
    ),
    pytest.param("fetch = 3\n", "fetch", 3, "a TOML table", id="section-not-table"),
]


@pytest.mark.parametrize(("text", "key", "value", "expected"), FILE_ERRORS)
def test_file_errors(tmp_path: Path, text: str, key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), env={})
    assert_config_error(exc, key, value, expected)


def test_all_validation_errors_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "[crawl]\nmax_pages = -1\nmax_depth = -2\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert_config_error(exc, "crawl.max_pages", -1, "greater than or equal to 0")
    assert "also: crawl.max_depth: greater than or equal to 0" in str(exc.value)


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[crawl]\nmax_pages = = 3\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert_config_error(exc, str(path), "max_pages = = 3", "valid TOML: ")
    assert "line 2" in exc.value.expected


def test_non_utf8_file_is_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[crawl]\nuser_agent = "caf\xe9"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert exc.value.key == str(path)
    assert "valid TOML: not UTF-8" in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert_config_error(exc, "config file", str(path), "a readable TOML file")
    assert "No such file" in str(exc.value)


def test_directory_is_not_a_readable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path, env={})
    assert_config_error(exc, "config file", str(tmp_path), "a readable TOML file")


@pytest.mark.parametrize(
    ("overrides", "key", "value", "expected"),
    [
        ({"crawl.max_pagez": 5}, "crawl.max_pagez", 5, "one of: max_pages, max_depth"),
        ({"crawler.max_pages": 5}, "crawler.max_pages", 5, "sections: crawl, fetch"),
        ({"max_pages": 5}, "max_pages", 5, "sections: crawl, fetch"),
        ({"crawl.max_depth": -1}, "crawl.max_depth", -1, "greater than or equal to 0"),
        ({"crawl.max_pages": "5"}, "crawl.max_pages", "5", "a valid integer"),
    ],
)
def test_override_errors(
    overrides: dict[str, object], key: str, value: object, expected: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(overrides=overrides, env={})
    assert_config_error(exc, key, value, expected)


def test_env_errors() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(env={"CRAWLER_FETCH_CONNECT_TIMEOUT_S": "soon"})
    assert_config_error(exc, "fetch.connect_timeout_s", "soon", "a valid number")

    with pytest.raises(ConfigError) as exc:
        load_config(env={"CRAWLER_CRAWL_MAXPAGES": "5"})
    assert_config_error(exc, "CRAWLER_CRAWL_MAXPAGES", "5", "one of: CRAWLER_CRAWL_MAX_PAGES")


def test_secrets_never_appear_in_error_messages() -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(env={"CRAWLER_LLM_APIKEY": "sk-typo-secret"})
    assert "sk-typo-secret" not in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_config(overrides={"llm.api_key": 12345}, env={})
    assert exc.value.key == "llm.api_key"
    assert "12345" not in str(exc.value)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_status_port_range_property(port: int) -> None:
    env = {"CRAWLER_STATUS_PORT": str(port)}
    if 0 <= port <= 65535:
        assert load_config(env=env).status.port == port
    else:
        with pytest.raises(ConfigError) as exc:
            load_config(env=env)
        assert exc.value.key == "status.port"
        assert exc.value.value == port


def test_pseudo_element_selector_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {"crawl.target_data": {"x": "p::before"}}, env={})
    assert "crawl.target_data" in str(info.value)


def test_config_toml_and_docs_are_generated_from_the_models() -> None:
    from crawler.config_docs import render_markdown, render_toml

    assert SHIPPED.read_text(encoding="utf-8") == render_toml(), (
        "config.toml is out of date: run python -m crawler.config_docs"
    )
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/config.md is out of date: run python -m crawler.config_docs"
    )
