"""Whole crawls in virtual time (tests/sim.py), over failure sequences, budgets and breakers.

The guarantees of docs/failure-path.md, checked against the real engine with a fake transport
and a fake clock (no sockets, no sleeping):

* a host that fails the first k ≤ max_retries requests of every URL (any retryable kind) ends
  with every page stored, each with attempts = k + 1 = the requests the server received;
* URLs that fail more often than that end in the DLQ with attempts = max_retries + 1, unless
  their host was given up (it then served nothing since its breaker first opened);
* a host that never answers is given up within failure_threshold + max_open_cycles requests;
* the summary agrees with the files, and the simulated time stays under the bound below.
"""

from __future__ import annotations

import math
import os
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.sim import FLAKY_KINDS, ScriptedTransport, SimResult, run_sim

HOST = "flaky.test:8080"
LATENCY_S = 0.02

SETTINGS = settings(
    max_examples=int(os.environ.get("CRAWLER_PROPERTY_EXAMPLES", "25")),
    deadline=None,
    # "explain" re-runs every shrunk example under a tracer: minutes for a whole crawl.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def guards(draw: st.DrawFn) -> dict[str, Any]:
    """Retry, budget and breaker settings; max_open_cycles ≥ max_retries (docs: the probe is the
    URL that failed most, so a URL with k ≤ max_retries succeeds within max_retries − 1 failed
    probes)."""
    max_retries = draw(st.integers(1, 4))
    return {
        "retry.max_retries": max_retries,
        "retry.base_delay_s": draw(st.sampled_from([0.05, 0.5, 1.0])),
        "retry.network_base_delay_s": draw(st.sampled_from([0.01, 0.1])),
        "retry.max_delay_s": draw(st.sampled_from([1.0, 5.0, 20.0])),
        "retry.budget_ratio": draw(st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0])),
        "retry.budget_window_s": draw(st.sampled_from([1.0, 10.0, 60.0])),
        "retry.budget_min_retries": draw(st.integers(1, 60)),
        "circuit_breaker.failure_threshold": draw(st.integers(1, 8)),
        "circuit_breaker.failure_rate_threshold": draw(st.sampled_from([0.5, 0.8, 1.0])),
        "circuit_breaker.min_calls": draw(st.integers(1, 30)),
        "circuit_breaker.reset_timeout_s": draw(st.sampled_from([0.5, 2.0, 10.0])),
        "circuit_breaker.max_open_s": draw(st.sampled_from([2.0, 30.0])),
        "circuit_breaker.success_threshold": draw(st.integers(1, 3)),
        "circuit_breaker.max_open_cycles": max_retries + draw(st.integers(0, 2)),
        "circuit_breaker.alive_s": draw(st.sampled_from([0.5, 2.0, 10.0])),
        "crawl.per_host_concurrency": draw(st.integers(1, 4)),
    }


@st.composite
def flaky_site(draw: st.DrawFn, max_k: int) -> dict[str, tuple[str, ...]]:
    n = draw(st.integers(1, 30))
    kinds = st.sampled_from(FLAKY_KINDS)
    return {f"http://{HOST}/p{i}": tuple(draw(st.lists(kinds, max_size=max_k))) for i in range(n)}


def time_bound(result: SimResult, cfg: dict[str, Any]) -> float:
    """An upper bound on the simulated crawl time (docs/failure-path.md, "How long it takes"):
    every request one after the other, every retry after its longest backoff, every failed
    request followed by a full open period, and retries at the budget's floor rate."""
    requests = sum(result.requests.values())
    failed = requests - result.summary.pages_stored
    retries = result.summary.retries
    floor = cfg["retry.budget_min_retries"]
    return float(
        requests * (LATENCY_S + 0.05)
        + cfg["retry.max_retries"] * cfg["retry.max_delay_s"]
        + failed * cfg["circuit_breaker.max_open_s"]
        + math.ceil(retries / floor) * cfg["retry.budget_window_s"]
        + 5.0
    )


def assert_books_balance(result: SimResult, urls: list[str]) -> None:
    """Nothing lost, nothing twice, and the summary agrees with the files."""
    assert set(result.pages) | set(result.dlq) == set(urls)
    assert not set(result.pages) & set(result.dlq), "a URL is both stored and dead-lettered"
    assert result.lines == len(result.pages), "a page was written twice"
    assert result.summary.pages_ok == len(result.pages)
    assert result.summary.dlq_items == len(result.dlq)


@SETTINGS
@given(cfg=guards(), data=st.data(), seed=st.integers(0, 2**16))
def test_a_flaky_but_alive_host_ends_with_every_page_stored(
    cfg: dict[str, Any], data: st.DataObject, seed: int
) -> None:
    failures = data.draw(flaky_site(cfg["retry.max_retries"]))
    urls = list(failures)
    transport = ScriptedTransport(failures, latency_s=LATENCY_S)
    result = run_sim(transport, urls, cfg, seed=seed)
    assert_books_balance(result, urls)
    assert result.dlq == {}, {u: e.error["message"] for u, e in result.dlq.items()}
    for url, scripted in failures.items():
        page = result.pages[url]
        assert page["attempts"] == len(scripted) + 1 == result.requests[url], url
    assert result.elapsed <= time_bound(result, cfg)


@SETTINGS
@given(cfg=guards(), data=st.data(), seed=st.integers(0, 2**16))
def test_urls_failing_beyond_their_retries_end_in_the_dlq_with_exact_attempts(
    cfg: dict[str, Any], data: st.DataObject, seed: int
) -> None:
    max_retries = cfg["retry.max_retries"]
    failures = data.draw(flaky_site(max_retries + 2))
    urls = list(failures)
    transport = ScriptedTransport(failures, latency_s=LATENCY_S)
    result = run_sim(transport, urls, cfg, seed=seed)
    assert_books_balance(result, urls)
    given_up = any("given up" in e.context.get("reason", "") for e in result.dlq.values())
    for url, scripted in failures.items():
        k = len(scripted)
        assert result.requests[url] <= max_retries + 1
        if url in result.pages:
            assert k <= max_retries
            assert result.pages[url]["attempts"] == k + 1 == result.requests[url]
            continue
        entry = result.dlq[url]
        assert entry.attempts == result.requests[url]
        if not given_up:
            # Only a URL's own evidence sends it to the DLQ: its retries were used up.
            assert k > max_retries, (url, k, entry.error["message"])
            assert entry.attempts == max_retries + 1
    assert result.elapsed <= time_bound(result, cfg)


@SETTINGS
@given(cfg=guards(), n=st.integers(1, 20), robots=st.booleans(), seed=st.integers(0, 2**16))
def test_a_dead_host_is_given_up_within_threshold_plus_cycles_requests(
    cfg: dict[str, Any], n: int, robots: bool, seed: int
) -> None:
    dead = "dead.test:8080"
    urls = [f"http://{dead}/d{i}" for i in range(n)]
    transport = ScriptedTransport({}, dead=frozenset({dead}), latency_s=LATENCY_S)
    result = run_sim(transport, urls, {**cfg, "crawl.respect_robots_txt": robots}, seed=seed)
    assert_books_balance(result, urls)
    assert set(result.dlq) == set(urls)
    assert {e.error["category"] for e in result.dlq.values()} == {"NETWORK"}
    sent = result.host_requests(dead)
    if robots:  # robots.txt is the host's first request; it is retried, then the host parked
        assert sent <= cfg["retry.max_retries"] + 1
    else:  # in-flight requests when the breaker opens may still land (per-host concurrency)
        bound = cfg["circuit_breaker.failure_threshold"] + cfg["circuit_breaker.max_open_cycles"]
        assert sent <= bound + cfg["crawl.per_host_concurrency"] - 1
    assert dead in result.summary.breakers
    assert result.elapsed <= time_bound(result, cfg)
