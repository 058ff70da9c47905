"""The public face: a sorted ``__all__`` whose names all exist, and the console entry points."""

from __future__ import annotations

import subprocess
import sys

import crawler


def test_all_is_sorted_and_complete() -> None:
    assert crawler.__all__ == sorted(crawler.__all__)
    for name in crawler.__all__:
        assert hasattr(crawler, name), name


def test_python_dash_m_crawler_shows_usage() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    for command in ("run", "demo", "dlq", "stats"):
        assert command in proc.stdout
