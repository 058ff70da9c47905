"""How long the fuzz tests (tests/test_fuzz_*.py) run: a few hundred examples in CI, or a time
budget for a long run (docs/security.md)::

    CRAWLER_FUZZ_SECONDS=150 .venv/bin/python -m pytest -p no:cacheprovider --timeout 0 \\
        tests/test_fuzz_*.py      # each of the 4 fuzz tests runs 150 s: 10 min

``CRAWLER_FUZZ_EXAMPLES`` sets the examples of one round (default: the CI counts below).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from hypothesis import HealthCheck, settings

FUZZ_SECONDS = float(os.environ.get("CRAWLER_FUZZ_SECONDS", "0"))
_EXAMPLES = os.environ.get("CRAWLER_FUZZ_EXAMPLES")


def fuzz_settings(ci_examples: int) -> settings:
    """Settings for one round: ``ci_examples`` examples unless CRAWLER_FUZZ_EXAMPLES says."""
    return settings(
        max_examples=int(_EXAMPLES) if _EXAMPLES else ci_examples,
        deadline=None,  # a crawl of a hostile site takes what it takes; hangs are caught apart
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,  # CI must not depend on a previous run's examples
        print_blob=True,  # a failure prints the @reproduce_failure line
    )


def run_rounds(test: Callable[[], None]) -> int:
    """Run a @given test once, or again and again (fresh random examples each round) until
    CRAWLER_FUZZ_SECONDS have passed. Returns the number of rounds."""
    deadline = time.monotonic() + FUZZ_SECONDS
    rounds = 0
    while True:
        test()
        rounds += 1
        if time.monotonic() >= deadline:
            return rounds
