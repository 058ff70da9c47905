"""The Redis store's Lua scripts (package files, assembled here) and the small codecs and helpers
its modules share: the crawl's namespace, lease and page-state records, a write that runs to its
end under cancellation."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Coroutine, Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crawler.errors import ConfigError
from crawler.records import PageState
from crawler.storage.base import Lease

__all__ = [
    "NAMESPACE_PARAM",
    "RECLAIM_BATCH",
    "REQUEUE_BATCH",
    "lease_from",
    "leases_from",
    "namespace_for",
    "page_from",
    "page_json",
    "redis_target",
    "scripts",
    "to_the_end",
]

# Expired leases reclaimed per lease call: bounds one script's run when many workers died.
RECLAIM_BATCH = 1000
NAMESPACE_PARAM = "namespace"  # redis_url query parameter naming the crawl's namespace
# -- Lua ------------------------------------------------------------------------------------------
# The scripts are package files (lua/*.lua): prelude.lua (shared helpers) is put in front of each.
# requeue and purge also get dlq_ids.lua. RECLAIM_BATCH_N in a script is the reclaim bound.
_SCRIPT_PARTS: dict[str, tuple[str, ...]] = {
    "lease": ("lease",),
    "next_ready": ("next_ready",),
    "add": ("add",),
    "add_done": ("add_done",),
    "lease_url": ("lease_url",),
    "nack": ("nack",),
    "dead": ("dead",),
    "give_up": ("give_up",),
    "ack": ("ack",),
    "renew": ("renew",),
    "release": ("release",),
    "requeue": ("dlq_ids", "requeue"),
    "purge": ("dlq_ids", "purge"),
    "requeue_due": ("revisit_fn", "requeue_due"),
    "revisit": ("revisit_fn", "revisit"),
    "commit": ("fn:add", "fn:ack", "commit"),  # "fn:x": x.lua as part_x(ARGV)
}
REQUEUE_BATCH = 1000  # due pages requeued per script call (bounds one script's run)


def _lua(name: str) -> str:
    return (resources.files(__package__) / "lua" / f"{name}.lua").read_text(encoding="utf-8")


def _part(part: str) -> str:
    if not part.startswith("fn:"):
        return _lua(part)
    name = part.removeprefix("fn:")  # the script's body, as a function of its own ARGV
    return f"local function part_{name}(ARGV)\n{_lua(name)}\nend\n"


def scripts() -> dict[str, str]:
    """Each script's full source: the prelude, then its parts."""
    prelude = _lua("prelude")
    return {
        name: (prelude + "".join(_part(part) for part in parts)).replace(
            "RECLAIM_BATCH_N", str(RECLAIM_BATCH)
        )
        for name, parts in _SCRIPT_PARTS.items()
    }


# -- helpers ---------------------------------------------------------------------------------------
async def to_the_end(send: Coroutine[Any, Any, None]) -> bool:
    """Await ``send`` to its end even when the caller is cancelled meanwhile, and say whether it
    was (the caller re-raises after its bookkeeping). A write cut off mid-flight would leave it
    unknown whether Redis applied it; waiting a round trip longer makes the outcome known. The
    write's own exception propagates."""
    task = asyncio.ensure_future(send)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done() or task.cancelled():
            await asyncio.wait([task])
        if task.cancelled():
            raise
        task.result()  # the write's own error wins over the cancellation
        return True
    return False


def namespace_for(state_dir: str | Path) -> str:
    """The default namespace of a crawl: the SHA-1 of its state directory's absolute path, so
    workers on several machines that use the same state dir path share one frontier."""
    return hashlib.sha1(str(Path(state_dir).resolve()).encode()).hexdigest()


def redis_target(redis_url: str, state_dir: str | Path) -> tuple[str, str]:
    """``(url for redis-py, namespace)``. A ``namespace`` query parameter in ``redis_url`` names
    the crawl explicitly (``redis://host:6379/0?namespace=shop``), so workers with different state
    dirs (e.g. several on one machine, each with its own lock and results file) share a frontier;
    without it the namespace is :func:`namespace_for` the state dir."""
    parts = urlsplit(redis_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == NAMESPACE_PARAM]
    if not names:
        return redis_url, namespace_for(state_dir)
    if not names[-1] or any(c in names[-1] for c in "{}"):
        raise ConfigError("storage.redis_url", redis_url, "a non-empty namespace without braces")
    rest = urlencode([(k, v) for k, v in query if k != NAMESPACE_PARAM])
    return urlunsplit(parts._replace(query=rest)), names[-1]


def lease_from(url: str, raw: str) -> Lease:
    record, _, fence = raw.rpartition("|")  # the lease script appends the fencing token
    _seq, depth, _status, attempts, tries, nat, _owner, host = record.split("|", 7)
    return Lease(url, int(depth), host, int(attempts), int(tries), float(nat), int(fence))


def leases_from(flat: Sequence[str]) -> list[Lease]:
    return [lease_from(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def page_json(page: PageState) -> str:
    return json.dumps(page.to_json(), ensure_ascii=False, separators=(",", ":"))


def page_from(url: str, due_at: float, text: str) -> PageState:
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    return PageState.from_json(url, due_at, data if isinstance(data, dict) else {})
