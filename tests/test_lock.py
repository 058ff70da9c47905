"""The state dir lock: one run at a time, released however the holder ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from crawler.errors import LockHeldError
from crawler.storage.lock import StateLock

HOLDER = textwrap.dedent(
    """
    import sys, time
    from crawler.storage.lock import StateLock

    with StateLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()  # hold until the parent says so (or kills us)
    print("released", flush=True)
    """
)


def _holder(state_dir: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_dir)],
        cwd=Path(__file__).resolve().parents[1],  # "-c" imports from the working directory
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "locked\n"
    return child


def test_lock_creates_the_dir_and_names_the_holder(tmp_path: Path) -> None:
    state_dir = tmp_path / "a" / "state"
    with StateLock(state_dir) as lock:
        assert lock.held
        content = (state_dir / "lock").read_text()
        assert content.startswith(f"pid {os.getpid()} since ")
        # A second lock on the same dir, even in this process, is refused.
        with pytest.raises(LockHeldError) as info, StateLock(state_dir):
            pass
        assert info.value.holder == content.strip()
        assert str(state_dir) in str(info.value)
    assert not lock.held
    with StateLock(state_dir):  # released on exit: taken again at once
        pass


def test_lock_held_by_another_process_then_released_when_it_dies(tmp_path: Path) -> None:
    with _holder(tmp_path) as child:
        with pytest.raises(LockHeldError, match=f"pid {child.pid}"), StateLock(tmp_path):
            pass
        child.kill()  # SIGKILL: no clean-up code runs in the holder
        child.wait(timeout=10)
    with StateLock(tmp_path) as lock:
        assert lock.held


def test_lock_released_when_the_holder_exits_normally(tmp_path: Path) -> None:
    with _holder(tmp_path) as child:
        assert child.stdin is not None
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout is not None
        assert child.stdout.readline() == "released\n"
        assert child.wait(timeout=10) == 0
    with StateLock(tmp_path):
        assert (tmp_path / "lock").read_text().startswith(f"pid {os.getpid()}")
