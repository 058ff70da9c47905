"""The command line: arguments → config → crawler; our root error → message and exit code.

Exit codes: 0 finished (failures parked in the DLQ are not an error), 1 unexpected error,
2 bad configuration or usage, 3 the state dir's lock is held by another run, and
``[alerts] exit_code`` (4..125, off by default) when a run raised run-over-run alerts.

``stats`` and ``dlq list/show/export`` only read: they open the state read-only and without
the lock, so they work while a crawl runs. ``dlq retry/purge`` change it and take the lock
(SQLite; on Redis they are atomic and take none: ``cli/state.py``, docs/workers.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from crawler.cli.checks import check_paths, check_run
from crawler.cli.state import dlq, dlq_ids, existing_state_dir, history, open_state, stats
from crawler.config import Config, load_config
from crawler.crawler import AdaptiveCrawler
from crawler.errors import ConfigError, CrawlerError, LockHeldError
from crawler.observe.alerts import exit_code as alerts_exit_code
from crawler.observe.progress import Progress
from crawler.records import CrawlSummary
from crawler.redact import RedactingFilter, one_line

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
MAX_ERROR_CHARS = 2000  # one stderr line, whatever the error carries (a 10 MB config value)
log = logging.getLogger("crawler")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ConfigError (exit code 2, one message shape)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError("command line", " ".join(sys.argv[1:]), message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="crawler", description="An LLM-assisted adaptive web crawler.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", metavar="PATH", help="config.toml to use (default: built-in)")
        sp.add_argument("--state-dir", metavar="DIR", help="frontier, DLQ and lock live here")
        sp.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
        sp.add_argument(
            "--redis-url",
            metavar="URL",
            help="use the Redis backend at URL (redis://host:6379/0?namespace=NAME); "
            "sets [storage] backend = redis and redis_url",
        )

    run = sub.add_parser("run", help="crawl from seed URLs (resumes an existing state dir)")
    run.add_argument("seeds", nargs="+", metavar="SEED_URL")
    common(run)
    run.add_argument("--out", metavar="PATH", help="results JSONL (appended)")
    run.add_argument("--summary-json", metavar="PATH", help="where the summary JSON goes")
    run.add_argument("--max-pages", type=_positive_int, metavar="N")
    run.add_argument("--max-depth", type=_positive_int, metavar="N")
    run.add_argument("--concurrency", type=_positive_int, metavar="N")
    run.add_argument("--per-host-concurrency", type=_positive_int, metavar="N")
    run.add_argument(
        "--recrawl",
        action="store_true",
        help="revisit the stored pages that are due ([crawl] recrawl = true; docs/recrawl.md)",
    )
    llm = run.add_mutually_exclusive_group()
    llm.add_argument("--no-llm", action="store_true", help="rules only; never call the LLM")
    llm.add_argument(
        "--local-llm",
        action="store_true",
        help="start the bundled small model and use it ([llm] provider = local)",
    )

    demo = sub.add_parser("demo", help="crawl a built-in local site with injected faults")
    demo.add_argument("--no-llm", action="store_true", help="do not start the local model")
    demo.add_argument("--keep", metavar="DIR", help="keep the state and results in DIR")

    stats = sub.add_parser("stats", help="frontier and DLQ counts of a state dir")
    common(stats)
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--history", action="store_true", help="the kept runs, one a row")

    dlq = sub.add_parser("dlq", help="inspect and act on the dead-letter queue")
    dsub = dlq.add_subparsers(dest="dlq_command", required=True, parser_class=_Parser)
    ls = dsub.add_parser("list", help="list entries")
    common(ls)
    ls.add_argument("--category")
    ls.add_argument("--host", help="host:port")
    ls.add_argument("--since", help="ISO 8601 time: entries that failed last at or after it")
    ls.add_argument("--json", action="store_true")
    show = dsub.add_parser("show", help="one entry in full")
    common(show)
    show.add_argument("id", type=int)
    retry = dsub.add_parser("retry", help="re-queue entries and crawl them")
    common(retry)
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all", action="store_true")
    retry.add_argument("--no-llm", action="store_true")
    retry.add_argument(
        "--requeue-only",
        action="store_true",
        help="re-queue and exit without crawling (Redis: the running workers crawl them)",
    )
    purge = dsub.add_parser("purge", help="delete entries")
    common(purge)
    purge.add_argument("ids", nargs="*", type=int, metavar="ID")
    purge.add_argument("--all", action="store_true")
    export = dsub.add_parser("export", help="entries as JSONL")
    common(export)
    export.add_argument("--out", metavar="PATH", help="file to write (default: stdout)")
    return p


def _config_for(args: argparse.Namespace) -> Config:
    overrides: dict[str, Any] = {}
    flags = {
        "state_dir": "crawl.state_dir",
        "out": "crawl.out",
        "summary_json": "crawl.summary_json",
        "max_pages": "crawl.max_pages",
        "max_depth": "crawl.max_depth",
        "concurrency": "crawl.concurrency",
        "per_host_concurrency": "crawl.per_host_concurrency",
        "log_level": "log.level",
    }
    for attr, key in flags.items():
        value = getattr(args, attr, None)
        if value is not None:
            overrides[key] = value
    if getattr(args, "redis_url", None):
        overrides["storage.backend"] = "redis"
        overrides["storage.redis_url"] = args.redis_url
    if getattr(args, "recrawl", False):
        overrides["crawl.recrawl"] = True
    if getattr(args, "no_llm", False):
        overrides["llm.enabled"] = False
    if getattr(args, "local_llm", False):
        overrides["llm.enabled"] = True
        overrides["llm.provider"] = "local"
    return load_config(getattr(args, "config", None), overrides)


def _setup_logging(cfg: Config) -> None:
    handler: logging.Handler
    if cfg.log.file:
        try:
            handler = logging.FileHandler(cfg.log.file, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                "log.file", cfg.log.file, f"a writable file ({exc.strerror})"
            ) from exc
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(cfg.log.format))
    # URLs, headers and server messages in log records are untrusted: secrets redacted,
    # control characters escaped, each message cut at a sane length (docs/security.md).
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("crawler")
    root.handlers[:] = [handler]
    root.setLevel(cfg.log.level)
    root.propagate = False


def _error(prefix: str, exc: BaseException) -> None:
    """One line on stderr: ``crawler: <prefix><message>``, redacted, escaped and capped."""
    print(f"crawler: {prefix}{one_line(exc, MAX_ERROR_CHARS)}", file=sys.stderr)


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups: a TaskGroup wraps what its
    tasks raised, and the CLI answers for what happened, not for the wrapping."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        crawler_errors = [e for e in exc.exceptions if isinstance(_leaf(e), CrawlerError)]
        exc = crawler_errors[0] if crawler_errors else exc.exceptions[0]
    return exc


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BaseException as raised:  # every error ends as one line and a code
        exc = _leaf(raised)
        if isinstance(exc, ConfigError):
            _error("configuration error: ", exc)
            return EXIT_USAGE
        if isinstance(exc, LockHeldError):
            _error("", exc)
            return EXIT_LOCKED
        if isinstance(exc, CrawlerError):
            _error("error: ", exc)
            return EXIT_ERROR
        if isinstance(exc, KeyboardInterrupt):
            print("crawler: interrupted", file=sys.stderr)
            return EXIT_ERROR
        if isinstance(exc, SystemExit):  # --help, --version
            raise
        log.debug("Unexpected error", exc_info=exc)
        _error(f"unexpected error: {type(exc).__name__}: ", exc)
        print("crawler: (run with --log-level DEBUG for the traceback)", file=sys.stderr)
        return EXIT_ERROR


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from crawler.cli.demo import run_demo

        return asyncio.run(run_demo(no_llm=args.no_llm, keep=args.keep))
    cfg = _config_for(args)
    if args.command == "run":
        check_run(cfg, args.seeds)  # before anything (the log file included) touches the disk
    _setup_logging(cfg)
    if args.command == "run":
        return _run_crawl(cfg, args.seeds)
    state_dir = existing_state_dir(cfg)
    if args.command == "stats":
        if args.history:
            return asyncio.run(history(cfg, state_dir, as_json=args.json))
        return asyncio.run(stats(cfg, state_dir, as_json=args.json))
    if args.command == "dlq" and args.dlq_command == "retry":
        check_paths(cfg)
        if not args.requeue_only:
            return asyncio.run(_dlq_retry(cfg, state_dir, dlq_ids(args)))
    return asyncio.run(dlq(cfg, state_dir, args))


# -- run -----------------------------------------------------------------------------------------
def _run_crawl(cfg: Config, seeds: Sequence[str]) -> int:
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return asyncio.run(_crawl(cfg, seeds))
    return int(uvloop.run(_crawl(cfg, seeds)))


async def _crawl(cfg: Config, seeds: Sequence[str]) -> int:

    loop = asyncio.get_running_loop()
    main_task = asyncio.current_task()
    async with AdaptiveCrawler(cfg) as crawler:
        signals = 0

        def on_signal(signame: str) -> None:
            nonlocal signals
            signals += 1
            if signals == 1:
                log.warning("%s received: finishing in-flight requests (again to force)", signame)
                crawler.request_stop()
            elif main_task is not None:
                main_task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig.name)
        try:
            async with Progress(crawler, enabled=sys.stderr.isatty()):
                summary = await crawler.run(seeds)
        except asyncio.CancelledError:
            print("crawler: forced stop; state saved up to the last commit", file=sys.stderr)
            return EXIT_ERROR
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    _print_summary(summary, crawler.config.crawl.summary_path)
    return alerts_exit_code(cfg.alerts, summary.alerts)


def _print_summary(summary: CrawlSummary, path: Path) -> None:
    print(f"crawl finished: {summary.headline()}", file=sys.stderr)
    if summary.pages_changed or summary.pages_unchanged or summary.pages_gone:
        keys = ("pages_new", "pages_changed", "pages_unchanged", "not_modified", "pages_gone")
        changes = ", ".join(f"{k}={getattr(summary, k)}" for k in (*keys, "bytes_downloaded"))
        print(f"recrawl: {changes}", file=sys.stderr)
    if summary.breakers:
        print(f"circuit breakers: {json.dumps(summary.breakers)}", file=sys.stderr)
    for alert in summary.alerts:
        message = alert.get("message", alert)
        print(f"alert: {message}", file=sys.stderr)
    print(f"summary written to {path}", file=sys.stderr)


async def _dlq_retry(cfg: Config, state_dir: Path, ids: list[int] | None) -> int:
    if not cfg.crawl.out and cfg.storage.backend != "redis":
        # Results of a retry go where the crawl that filled the DLQ wrote its own.
        async with open_state(cfg, state_dir) as storage:
            out = await storage.get_meta("out_path")
        if out:
            cfg = cfg.model_copy(update={"crawl": cfg.crawl.model_copy(update={"out": out})})
    async with AdaptiveCrawler(cfg) as crawler:
        n = await crawler.storage.dlq_requeue(ids)
        await crawler.storage.commit()
        print(f"re-queued {n} entries", file=sys.stderr)
        summary = await crawler.run([], history=False)
    _print_summary(summary, crawler.config.crawl.summary_path)
    return EXIT_OK
