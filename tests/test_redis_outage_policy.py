"""The outage policy of the Redis backend (``crawler/storage/redis/outage.py``) on an injected
clock: bounded backoff, one WARNING per outage and one INFO at its end, a clear error after
``redis_unreachable_s``; and the command line's exit code 1 when Redis never comes."""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from crawler.cli import main
from crawler.errors import StorageError
from crawler.storage.redis.outage import MAX_DELAY_S, Outage


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(failures: int) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        if calls[0] <= failures:
            raise RedisConnectionError("Connection refused")
        return "ok"

    return calls, call


async def test_an_outage_is_waited_out_with_a_bounded_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = FakeTime()
    outage = Outage("redis://r:6379/0", 120.0, sleep=t.sleep, monotonic=t.monotonic)
    calls, call = flaky(9)
    with caplog.at_level(logging.INFO, logger="crawler"):
        assert await outage.call("lease", call) == "ok"
    assert calls[0] == 10
    assert t.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    assert max(t.sleeps) == MAX_DELAY_S
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unreachable (lease: Connection refused); waiting for it, for up to 120 s" in (
        warnings[0].getMessage()
    )
    assert "answers again after 21.3 s" in caplog.records[-1].getMessage()
    assert outage.outages == 1
    assert outage.down_for == 0.0


async def test_an_outage_longer_than_the_limit_is_a_clear_error() -> None:
    t = FakeTime()
    outage = Outage("redis://r:6379/0", 10.0, sleep=t.sleep, monotonic=t.monotonic)
    _, call = flaky(1000)
    with pytest.raises(StorageError, match=r"redis://r:6379/0: unreachable for 10 s \(commit"):
        await outage.call("commit", call)
    assert t.now == 10.0  # the last wait is cut to the limit


async def test_an_error_answer_is_not_an_outage() -> None:
    t = FakeTime()
    outage = Outage("redis://r:6379/0", 10.0, sleep=t.sleep, monotonic=t.monotonic)

    async def call() -> None:
        raise ResponseError("WRONGTYPE")

    with pytest.raises(StorageError, match="lease failed: WRONGTYPE"):
        await outage.call("lease", call)
    assert t.sleeps == []


def test_a_worker_whose_redis_never_comes_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text("[storage]\nredis_unreachable_s = 0.3\n[llm]\nenabled = false\n")
    argv = ["run", "http://127.0.0.1:9/", "--config", str(config)]
    argv += ["--redis-url", f"redis://127.0.0.1:{port}/0", "--state-dir", str(tmp_path / "s")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"crawler: error: redis://127.0.0.1:{port}/0: unreachable for 0 s (open" in err
    assert "giving up ([storage] redis_unreachable_s = 0.3)" in err
