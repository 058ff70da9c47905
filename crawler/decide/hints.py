"""Whose change hints to believe (docs/recrawl.md, "Hint trust"): per host, how often its sitemap
``<lastmod>`` values and its validators (ETag, Last-Modified) predicted what revisits found.

Pure: the counts are kept by :class:`HintBook` and saved in the state's metadata by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_FALSE_SAME", "Evidence", "HintBook"]

# Two revisits where the validators said "same" while the content had changed are enough to stop
# sending them to that host: a 304 we cannot trust hides changes for good.
MAX_FALSE_SAME = 2


@dataclass(frozen=True, slots=True)
class Evidence:
    """One check of a hint: did it predict the change a visit found?"""

    kind: str  # "lastmod" | "validators"
    predicted_change: bool
    changed: bool


class HintBook:
    """Per host, how well its change hints predicted what visits found.

    Counts per kind: ``[tp, fp, tn, fn]`` (predicted change & changed, predicted change &
    unchanged, predicted same & unchanged, predicted same & changed).

    - ``lastmod`` only ever makes pages due early, so what matters is how often "changed" was
      right: after ``min_samples`` such predictions, a precision below ``min_accuracy`` stops
      the host's lastmods from making pages due.
    - ``validators`` make the server answer 304, so what matters is "same" being wrong:
      :data:`MAX_FALSE_SAME` such checks stop conditional requests to the host (full fetches
      and the digest decide from then on).
    """

    KINDS = ("lastmod", "validators")

    def __init__(self, *, min_samples: int, min_accuracy: float) -> None:
        self.min_samples = min_samples
        self.min_accuracy = min_accuracy
        self._counts: dict[str, dict[str, list[int]]] = {}

    def record(self, host: str, evidence: Evidence) -> None:
        counts = self._counts.setdefault(host, {}).setdefault(evidence.kind, [0, 0, 0, 0])
        index = (
            (0 if evidence.changed else 1)
            if evidence.predicted_change
            else (3 if evidence.changed else 2)
        )
        counts[index] += 1

    def counts(self, host: str, kind: str) -> list[int]:
        return list(self._counts.get(host, {}).get(kind, [0, 0, 0, 0]))

    def trusted(self, host: str, kind: str) -> bool:
        tp, fp, _tn, fn = self.counts(host, kind)
        if kind == "validators":
            return fn < MAX_FALSE_SAME
        said_changed = tp + fp
        return said_changed < self.min_samples or tp / said_changed >= self.min_accuracy

    def to_json(self) -> dict[str, Any]:
        return {
            host: {k: list(v) for k, v in kinds.items()} for host, kinds in self._counts.items()
        }

    def load(self, data: object) -> None:
        """Counts kept by earlier runs; anything malformed is skipped."""
        if not isinstance(data, dict):
            return
        for host, kinds in data.items():
            if not isinstance(host, str) or not isinstance(kinds, dict):
                continue
            for kind, counts in kinds.items():
                if (
                    kind in self.KINDS
                    and isinstance(counts, list)
                    and len(counts) == 4
                    and all(
                        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts
                    )
                ):
                    self._counts.setdefault(host, {})[kind] = list(counts)
