"""The results sink: batches, truncation to the committed offset, torn tails, and SIGKILLs."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.errors import StorageError
from crawler.storage.output import JsonlSink

ROOT = Path(__file__).resolve().parents[1]


def line(n: int) -> bytes:
    return json.dumps({"n": n}, separators=(",", ":")).encode() + b"\n"


async def test_stage_and_flush_write_compact_utf8_lines(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.jsonl"
    sink = JsonlSink(path)
    await sink.open(None)
    sink.stage({"url": "http://a.test/é", "title": "日本", "links": []})
    sink.stage({"url": "http://a.test/2", "title": None, "links": ["x"]})
    assert sink.staged == 2
    assert path.read_bytes() == b""  # nothing reaches the file before flush
    offset = sink.flush()
    data = path.read_bytes()
    assert offset == len(data) == sink.size
    assert data.decode() == (
        '{"url":"http://a.test/é","title":"日本","links":[]}\n'
        '{"url":"http://a.test/2","title":null,"links":["x"]}\n'
    )
    assert sink.flush() == offset  # an empty batch changes nothing
    await sink.close()
    await sink.close()


async def test_odd_characters_keep_one_record_a_line(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    await sink.open(None)
    sink.stage({"title": "bad \udcff byte"})
    # Raw, these would be line breaks to str.splitlines(): written escaped instead.
    sink.stage({"title": "a\x85b\u2028c\u2029d"})
    sink.flush()
    await sink.close()
    records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert records == [{"title": "bad \udcff byte"}, {"title": "a\x85b\u2028c\u2029d"}]


async def test_open_cuts_back_to_the_committed_offset(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(line(1) + line(2) + line(3)[:4])  # two uncommitted lines, one torn
    sink = JsonlSink(path)
    await sink.open(len(line(1)))
    assert path.read_bytes() == line(1)
    sink.stage({"n": 9})
    assert sink.flush() == len(line(1) + line(9))
    await sink.close()
    assert path.read_bytes() == line(1) + line(9)


async def test_open_at_the_committed_offset_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(line(1) + line(2))
    sink = JsonlSink(path)
    await sink.open(len(line(1) + line(2)))
    assert sink.size == len(line(1) + line(2))
    await sink.close()
    assert path.read_bytes() == line(1) + line(2)


@pytest.mark.parametrize("committed", [None, 10_000])
async def test_unknown_or_shorter_file_keeps_complete_lines_only(
    tmp_path: Path, committed: int | None
) -> None:
    # None: a new state dir on an existing results file. 10_000: the file is shorter than
    # what was committed (someone edited it). Either way: keep it, minus a torn tail.
    path = tmp_path / "out.jsonl"
    path.write_bytes(line(1) + line(2) + b'{"n":')
    sink = JsonlSink(path)
    await sink.open(committed)
    assert sink.size == len(line(1) + line(2))
    await sink.close()
    assert path.read_bytes() == line(1) + line(2)


async def test_torn_tail_longer_than_one_read_chunk(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(line(1) + b'{"big":"' + b"x" * 200_000)
    sink = JsonlSink(path)
    await sink.open(None)
    await sink.close()
    assert path.read_bytes() == line(1)
    path.write_bytes(b"no newline at all")
    sink = JsonlSink(path)
    await sink.open(None)
    await sink.close()
    assert path.read_bytes() == b""


async def test_close_writes_what_is_staged(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = JsonlSink(path)
    with pytest.raises(StorageError, match="not open"):
        sink.flush()
    await sink.open(None)
    sink.stage({"n": 1})
    await sink.close()
    assert path.read_bytes() == line(1)


async def test_unopenable_path_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(StorageError, match=r"dir\.jsonl"):
        await JsonlSink(tmp_path / "dir.jsonl").open(None)


_FILES = itertools.count()
RECORD = st.dictionaries(
    st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(), st.lists(st.text()))
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.lists(RECORD, max_size=4), min_size=1, max_size=5), data=st.data())
async def test_reopen_at_any_committed_batch_keeps_exactly_those_records(
    tmp_path: Path, batches: list[list[dict[str, Any]]], data: st.DataObject
) -> None:
    path = tmp_path / f"out-{next(_FILES)}.jsonl"
    sink = JsonlSink(path)
    await sink.open(None)
    offsets = [0]
    for batch in batches:
        for record in batch:
            sink.stage(record)
        offsets.append(sink.flush())
    await sink.close()
    committed = data.draw(st.integers(0, len(batches)))  # the last batch whose commit landed
    sink = JsonlSink(path)
    await sink.open(offsets[committed])
    await sink.close()
    got = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert got == [r for batch in batches[:committed] for r in batch]


# -- crashes: a real process, SIGKILLed --------------------------------------------------------
CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from crawler.storage.output import JsonlSink
    from crawler.storage.sqlite import SQLiteStorage

    state, out, total, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    crash_after = int(os.environ.get("CRASH_AFTER_FLUSH", "0"))

    async def main():
        store = SQLiteStorage(state)
        await store.open()
        sink = JsonlSink(out)
        await sink.open(await store.out_offset(out))
        if await store.get_meta("seeded") is None:
            await store.add((f"http://t.test/{i}", 0) for i in range(total))
            await store.set_meta("seeded", True)
            await store.commit(out, sink.flush())
        print("ready", flush=True)
        flushes = 0
        while leases := await store.lease(batch, 0.0):
            for lease in leases:
                n = int(lease.url.rsplit("/", 1)[1])
                sink.stage({"url": lease.url, "pad": "é" * (n * 7919 % 700)})
                await store.ack(lease, lease.attempts + 1)
            offset = sink.flush()  # 1. the lines are durable ...
            flushes += 1
            if flushes == crash_after:
                os.kill(os.getpid(), signal.SIGKILL)  # ... and the commit never happens
            await store.commit(out, offset)  # 2. ... then the acks with the offset
            print("batch", flush=True)
        await sink.close()
        await store.close()

    asyncio.run(main())
    """
)


def _run_child(
    tmp_path: Path, total: int, batch: int, env: dict[str, str]
) -> subprocess.Popen[str]:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out.jsonl"
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state), str(out), str(total), str(batch)],
        cwd=ROOT,  # "-c" puts the working directory on sys.path: the package under test
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def _assert_each_once(path: Path, total: int) -> None:
    data = path.read_bytes()
    assert data.endswith(b"\n"), "torn last line"
    urls = [json.loads(x)["url"] for x in data.decode("utf-8").splitlines()]
    assert len(urls) == len(set(urls)), "a record appears twice"
    assert set(urls) == {f"http://t.test/{i}" for i in range(total)}, "a record is missing"


def _committed_offset(tmp_path: Path) -> int:
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    try:
        (value,) = db.execute(
            "SELECT value FROM meta WHERE key = ?", ("out_offset:" + str(tmp_path / "out.jsonl"),)
        ).fetchone()
    finally:
        db.close()
    return int(json.loads(value))


@pytest.mark.slow
def test_killed_between_flush_and_commit_neither_repeats_nor_loses(tmp_path: Path) -> None:
    with _run_child(tmp_path, 200, 10, {"CRASH_AFTER_FLUSH": "3"}) as child:
        assert child.wait(timeout=30) == -signal.SIGKILL
    written = (tmp_path / "out.jsonl").stat().st_size
    assert written > _committed_offset(tmp_path) > 0  # the third batch's lines are not covered
    with _run_child(tmp_path, 200, 10, {}) as child:
        assert child.wait(timeout=30) == 0
    _assert_each_once(tmp_path / "out.jsonl", 200)


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_every_record_exactly_once(tmp_path: Path) -> None:
    # Killed after a random number of committed batches (1-8 of the ~430 it needs), so five
    # kills always land before it finishes — when exactly within the next batch (staging,
    # flushing, committing) is up to the scheduler: a random point, every run.
    rng = random.Random(20240501)
    total, kills = 3000, 0
    while kills < 5:
        with _run_child(tmp_path, total, 7, {}) as child:
            assert child.stdout is not None
            assert child.stdout.readline() == "ready\n"
            for _ in range(rng.randint(1, 8)):
                assert child.stdout.readline() == "batch\n"
            child.kill()
            assert child.wait(timeout=30) == -signal.SIGKILL
        kills += 1
    with _run_child(tmp_path, total, 7, {}) as child:
        assert child.wait(timeout=60) == 0
    _assert_each_once(tmp_path / "out.jsonl", total)
