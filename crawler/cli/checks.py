"""Validation before side effects: ``crawler run`` refuses bad seeds and unusable paths with
exit 2 (a :class:`ConfigError`) before the state dir, ``--out``, the summary or the log file
exist, so a typo never leaves an empty crawl behind (docs/security.md)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from crawler.config import Config
from crawler.errors import ConfigError
from crawler.web.urls import normalize

__all__ = ["check_paths", "check_run"]


def check_run(cfg: Config, seeds: Sequence[str]) -> None:
    """Refuse bad seeds and unusable paths with exit 2 before the state dir, ``--out`` or the
    summary exist: a typo must not leave an empty crawl behind."""
    for seed in seeds:
        if normalize(seed) is None:
            raise ConfigError("SEED_URL", seed, "an absolute http(s) URL")
    check_paths(cfg)


def check_paths(cfg: Config) -> None:
    """The state dir, results, summary and log paths are usable (see :func:`check_run`)."""
    crawl = cfg.crawl
    _check_dir("--state-dir", Path(crawl.state_dir))
    _check_file("--out", crawl.out_path)
    _check_file("--summary-json", crawl.summary_path)
    if cfg.log.file:
        _check_file("log.file", Path(cfg.log.file))


def _check_dir(flag: str, path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(flag, str(path), "a directory (it exists and is not one)")
    _check_parents(flag, path)


def _check_file(flag: str, path: Path) -> None:
    """A path the crawler may create or write: not a directory, under a directory it can write.
    (A device such as /dev/full passes: its failure is a run-time error, exit 1.)"""
    if path.is_dir():
        raise ConfigError(flag, str(path), "a file path (it is a directory)")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(flag, str(path), "a writable file (permission denied)")
        return
    _check_parents(flag, path)


def _check_parents(flag: str, path: Path) -> None:
    """The nearest existing ancestor of ``path`` must be a writable directory (the crawler
    creates the missing ones)."""
    for parent in path.absolute().parents:
        if not parent.exists():
            continue
        if not parent.is_dir():
            raise ConfigError(flag, str(path), f"a path under a directory ({parent} is a file)")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(flag, str(path), f"a path in a writable directory ({parent} is not)")
        return
