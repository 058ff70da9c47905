"""Hostile config files, paths and server text at the command line: one line, right exit code,
nothing on disk before validation, nothing that can drive a terminal."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from crawler.cli import main
from crawler.config import load_config
from crawler.errors import ConfigError, StorageError
from crawler.storage.output import JsonlSink, write_summary
from tests.raw_server import RawServer, response

FAST_TOML = """
[retry]
base_delay_s = 0.01
max_delay_s = 0.05
[llm]
enabled = false
[storage]
batch_interval_s = 0.02
"""


def _one_line(err: str, limit: int = 2100) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:2000]
    assert len(lines[0]) <= limit
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "toml",
    [
        "[crawl]\ninclude = " + "[" * 2000 + "]" * 2000 + "\n",
        "[crawl]\ntarget_data = " + "{a=" * 2000 + "1" + "}" * 2000 + "\n",
        "[" + ".".join(["a"] * 2000) + "]\nx = 1\n",
        "[crawl]\ninclude = " + "[" * 40 + "]" * 40 + "\n",
    ],
    ids=["arrays", "inline-tables", "dotted-headers", "forty-arrays"],
)
def test_deeply_nested_config_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError):
        load_config(path, env={})
    code = main(
        ["run", "http://127.0.0.1:9/", "--config", str(path), "--state-dir", str(tmp_path / "s")]
    )
    assert code == 2
    assert "nested" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "toml",
    [
        '[crawl]\nmax_pages = "' + "y" * 900_000 + '"\n',  # a huge bad value
        "[crawl]\n" + "k" * 900_000 + " = 1\n",  # a huge unknown key
        '[crawl]\nx = "' + "z" * 900_000 + "\n",  # a huge bad line
        '[crawl]\ninclude = ["(' + "a" * 900_000 + '"]\n',  # a huge bad regex
        '[crawl]\nuser_agent = "' + "u" * 2_000_000 + '"\n',  # over the file size limit
    ],
    ids=["value", "key", "toml-line", "regex", "file-size"],
)
def test_huge_config_errors_are_one_short_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str
) -> None:
    path = tmp_path / "big.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_config(path, env={})
    assert len(str(raised.value)) < 3000  # library users get a bounded message too
    assert main(["run", "http://127.0.0.1:9/", "--config", str(path)]) == 2
    _one_line(capsys.readouterr().err)


def test_huge_env_value_is_a_short_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(None, env={"CRAWLER_CRAWL_MAX_PAGES": "[" * 3000 + "]" * 3000})
    assert len(str(raised.value)) < 1000


@pytest.mark.parametrize(
    ("flag", "make"),
    [
        ("SEED_URL", None),
        ("--out", "dir"),
        ("--summary-json", "dir"),
        ("--out", "under-file"),
        ("--state-dir", "file"),
    ],
)
def test_bad_seed_or_path_is_refused_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, make: str | None
) -> None:
    state, out, summary = tmp_path / "state", tmp_path / "out" / "o.jsonl", tmp_path / "sum.json"
    seed = "http://127.0.0.1:9/"
    if flag == "SEED_URL":
        seed = "not a url"
    elif make == "dir":
        target = out if flag == "--out" else summary
        target.mkdir(parents=True)
    elif make == "under-file":
        (tmp_path / "out").write_text("a file")
    elif make == "file":
        state.write_text("a file")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code = main(
        [
            "run",
            seed,
            "--state-dir",
            str(state),
            "--out",
            str(out),
            "--summary-json",
            str(summary),
            "--no-llm",
        ]
    )
    assert code == 2
    assert flag in _one_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "something was created"


def test_write_summary_is_atomic_and_leaves_no_tmp(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "summary.json"
    write_summary(path, {"pages_ok": 1})
    write_summary(path, {"pages_ok": 2, "text": "\u2028\x1b"})
    assert json.loads(path.read_text()) == {"pages_ok": 2, "text": "\u2028\x1b"}
    (tmp_path / "d").mkdir()
    with pytest.raises(StorageError, match="directory"):
        write_summary(tmp_path / "d", {"pages_ok": 1})
    if os.path.exists("/dev/full"):
        with pytest.raises(StorageError, match="No space left"):
            write_summary(Path("/dev/full"), {"pages_ok": 1})
    assert [p.name for p in tmp_path.rglob("*tmp*")] == []
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["summary.json"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_sink_on_a_full_disk_raises_one_storage_error() -> None:
    sink = JsonlSink("/dev/full")
    await sink.open(None)
    sink.stage({"url": "http://h/"})
    with pytest.raises(StorageError, match="No space left on device"):
        sink.flush()
    with pytest.raises(StorageError):  # close writes what is staged, fails the same way
        await sink.close()
    await sink.close()  # and is closed: a second close is a no-op


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "crawler",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def _site(server: RawServer) -> None:
    html = b'<title>t</title><a href="/r">r</a><a href="/a">a</a>'
    server.route("/", response(200, [("Content-Type", "text/html")], html))
    server.route("/a", response(200, [("Content-Type", "text/html")], b"<title>a</title>"))
    server.route("/r", response(302, [("Location", "/x\x1b[2J\x1b]0;pwned\x07")]))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_out_on_a_full_disk_is_one_line_exit_1_and_resumable(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(FAST_TOML)
    state = str(tmp_path / "s")
    async with RawServer() as server:
        _site(server)
        code, _, err = await _cli(
            "run",
            server.url("/"),
            "--config",
            str(config),
            "--state-dir",
            state,
            "--out",
            "/dev/full",
        )
        assert code == 1
        assert "No space left on device" in err
        assert "Traceback" not in err
        assert [line for line in err.splitlines() if line.startswith("crawler:")] == [
            line for line in err.splitlines()[-1:]
        ]
        out = tmp_path / "o.jsonl"
        code, _, err = await _cli(
            "run", server.url("/"), "--config", str(config), "--state-dir", state, "--out", str(out)
        )
        assert code == 0, err
        assert out.exists()
        # Nothing was lost: the page whose line could not be written is fetched and stored now.
        stored = [json.loads(line)["url"] for line in out.read_text().splitlines()]
        assert server.url("/") in stored


async def test_terminal_escapes_never_reach_stderr_or_dlq_list(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(FAST_TOML)
    state = str(tmp_path / "s")
    async with RawServer() as server:
        _site(server)
        code, _, err = await _cli(
            "run",
            server.url("/"),
            "--config",
            str(config),
            "--state-dir",
            state,
            "--out",
            str(tmp_path / "o.jsonl"),
        )
        assert code == 0, err
        assert "\x1b" not in err
        assert "\x07" not in err
        code, listed, err = await _cli("dlq", "list", "--state-dir", state)
        assert code == 0, err
        assert "\x1b" not in listed
        assert "\x07" not in listed
        assert "\\x1b[2J" in listed  # shown, escaped
        # The target is on the same host: it is unusable, not off-scope.
        assert "leaves the crawl's scope" not in listed
        assert "unusable Location" in listed
        code, as_json, err = await _cli("dlq", "list", "--state-dir", state, "--json")
        assert code == 0, err
        assert "\x1b" not in as_json
        entries = json.loads(as_json)  # still valid JSON with the data intact
        assert any("unusable Location" in e["error"]["message"] for e in entries)
        entry_id = str(entries[0]["id"])
        code, shown, err = await _cli("dlq", "show", entry_id, "--state-dir", state)
        assert code == 0, err
        assert "\x1b" not in shown
        assert json.loads(shown)["id"] == entries[0]["id"]


async def test_url_credentials_are_used_but_never_logged(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(FAST_TOML)
    async with RawServer() as server:
        html = b'<title>t</title><a href="/gone?session=s3ss10n&page=1">x</a>'
        server.route("/?token=t0k3n", response(200, [("Content-Type", "text/html")], html))
        seed = server.url("/?token=t0k3n").replace("http://", "http://alice:hunter2@")
        code, _, err = await _cli(
            "run",
            seed,
            "--config",
            str(config),
            "--state-dir",
            str(tmp_path / "s"),
            "--out",
            str(tmp_path / "o.jsonl"),
            "--log-level",
            "DEBUG",
        )
        assert code == 0, err
        # The requests themselves carry the credentials: Basic auth and the query.
        assert all(h.get("authorization", "").startswith("Basic ") for h in server.headers)
        assert server.hits["/?token=t0k3n"] == 1
        assert server.hits["/gone?session=s3ss10n&page=1"] == 1
    assert "alice:***@" in err  # the URL is in the log, its secrets are not
    for secret in ("hunter2", "t0k3n", "s3ss10n"):
        assert secret not in err
