"""Page verdicts: is a 2xx HTML page content, a block page, a login wall or a soft 404?

:func:`judge_page` is pure and runs on every HTML page, so it starts with a pre-check on bytes
(:mod:`crawler.decide.blocks_precheck`): one Aho-Corasick pass over the lower-cased first 32 KB
for the needles of every vendor marker and phrase, the ``<title>`` cut out of the bytes, a few
response headers, and whether the prefix's soft-404 probe got a 200. An ordinary page stops
there. A page with a trigger is parsed (:mod:`crawler.decide.page_features`) and scored:
evidence points per kind (vendor fingerprints, phrases by where they stand, password inputs,
status, the probe's resemblance) minus the evidence of content (prose, visible text size per
script). Every point of evidence needs a trigger the pre-check saw, so the pre-check never clears
a page the classifier would flag.

Bands: a score ≥ 6 is a confident verdict the LLM never sees; 3–6 leans to that kind and
1.5–3 leans to content, both *uncertain* (the only pages the LLM is asked about, and it may move
them either way); below 1.5 is confident content. docs/blocks.md has the weights, the vendor
table and the measured precision/recall.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from crawler.decide.blocks_phrases import STEMS
from crawler.decide.blocks_precheck import (
    FOLDED,
    PASSWORD_NEEDLES,
    PHRASE_NEEDLES,
    TITLE_RES,
    Triggers,
    fold,
    needs_judging,
    precheck,
)
from crawler.decide.blocks_vendors import match_vendors, quoted
from crawler.decide.page_features import (
    SCAN_BYTES,
    PageDoc,
    PageFeatures,
    extract,
    head_bytes,
)
from crawler.decide.soft404 import (
    LIKELY_SIMILARITY,
    SOFT404_SIMILARITY,
    ProbeAnswer,
    compare,
)
from crawler.decide.verdicts import (
    CONFIDENT_SCORE,
    DOUBT_SCORE,
    LEAN_SCORE,
    PAGE_CATEGORY,
    Band,
    PageKind,
    PageVerdict,
    settle,
)

__all__ = [
    "CONFIDENT_SCORE",
    "LEAN_SCORE",
    "Band",
    "PageKind",
    "PageVerdict",
    "Triggers",
    "judge_page",
    "needs_judging",
    "precheck",
    "settle",
]

# -- the classifier -------------------------------------------------------------------------

# Points for a phrase by where it stands: (strong, weak).
_PHRASE_POINTS = {"title": (4, 2), "heading": (3, 2), "text": (2, 1), "noscript": (1, 0)}
_TEXT_CHARS_FOR_PHRASES = 1_500


class _Evidence:
    def __init__(self) -> None:
        self.points: dict[PageKind, float] = {k: 0.0 for k in PAGE_CATEGORY}
        self.reasons: dict[PageKind, list[str]] = {k: [] for k in PAGE_CATEGORY}

    def add(self, kind: PageKind, points: float, reason: str) -> None:
        if points:
            self.points[kind] += points
            self.reasons[kind].append(f"{reason} {points:+g}")


# A title or heading is split at its separators ("Page not found – Example Blog").
_PART_SPLIT = re.compile(r"\s[|\-–—·:]{1,2}\s|\s\|\s*| \| ")


def _said(text: str, phrase: str, *, whole: bool) -> float:
    """How strongly ``text`` says ``phrase``: 0 when it does not, or only inside quotation
    marks (an article quoting a block page); for a title or heading (``whole``), 1 when the
    phrase is most of the part it stands in ("Access denied", "Page not found – Blog") and 0.5
    when it is a small part of a longer sentence ("Are you a robot? A short history of ...")."""
    best = 0.0
    for part in _PART_SPLIT.split(text) if whole else (text,):
        start = part.find(phrase)
        while start >= 0:
            if not quoted(part, start):
                if not whole:
                    return 1.0
                best = max(best, 1.0 if len(phrase) >= 0.5 * len(part.strip()) else 0.5)
            start = part.find(phrase, start + 1)
    return best


def _phrases(ev: _Evidence, f: PageFeatures, trig: Triggers, login_context: bool) -> None:
    places = {
        "title": fold(f.title),
        "heading": fold(f.headings),
        "text": fold(f.text_head[:_TEXT_CHARS_FOR_PHRASES]),
        "noscript": fold(f.noscript_text),
    }
    best: dict[tuple[PageKind, str], tuple[float, str]] = {}
    for phrase, needle in PHRASE_NEEDLES.items():
        if needle not in trig.needles:
            continue
        kind = PageKind(phrase.kind)
        if kind is PageKind.LOGIN and not (phrase.strong or login_context):
            continue  # "forgot password" is in every site header; it counts next to a form
        in_title = FOLDED[phrase] in places["title"]
        in_heading = FOLDED[phrase] in places["heading"]
        for place, text in places.items():
            if in_heading and place in ("text", "noscript"):
                continue  # the body repeating its heading adds nothing
            said = _said(text, FOLDED[phrase], whole=place in ("title", "heading"))
            if in_title and place == "heading":
                said /= 2  # a heading repeating the title adds half
            points = said * _PHRASE_POINTS[place][0 if phrase.strong else 1]
            if points > best.get((kind, place), (0.0, ""))[0]:
                best[(kind, place)] = (points, phrase.text)
    for kind in trig.title_words:
        found = TITLE_RES[kind].search(trig.title)
        said = _said(trig.title, found.group(1), whole=True) if found else 0.0
        points = said * (3 if kind is not PageKind.BLOCKED else 2)
        if points > best.get((kind, "title"), (0.0, ""))[0]:
            best[(kind, "title")] = (points, f"title word {found.group(1) if found else ''}")
    for (kind, place), (points, text) in best.items():
        ev.add(kind, points, f"{place} says {text!r}")
    _stems(ev, f, trig, places)


def _stems(ev: _Evidence, f: PageFeatures, trig: Triggers, places: Mapping[str, str]) -> None:
    """A short page dense with the words of a notice reads as one, whatever its wording. The
    stems are no needles (they are common words): they only weigh on a page a needle of a
    phrase or a vendor marker already sent to the full look."""
    if not trig.needles or f.text_weight >= 500 or f.prose_blocks >= 2:
        return
    text = " ".join((places["title"], places["heading"], places["text"][:600]))
    found: dict[PageKind, set[str]] = {}
    for stem in STEMS:
        if FOLDED[stem] in text:
            found.setdefault(PageKind(stem.kind), set()).add(stem.text)
    for kind, stems in found.items():
        if len(stems) >= 3:
            ev.add(kind, 3 if len(stems) >= 5 else 2, f"notice words {sorted(stems)[:5]}")


def _content_points(f: PageFeatures) -> tuple[float, str]:
    tw = f.text_weight
    size = -6 if tw >= 4000 else -4 if tw >= 2000 else -2 if tw >= 1000 else -1 if tw >= 600 else 0
    prose = -3 if f.prose_blocks >= 4 else -2 if f.prose_blocks >= 2 else 0
    article = -2 if f.has_article else 0
    total = size + prose + article
    return float(total), f"content: text {tw}, prose {f.prose_blocks} {total:+d}"


def judge_page(
    body: bytes,
    text: str,
    encoding: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    url: str = "",
    final_url: str = "",
    probe: ProbeAnswer | None = None,
    soft404_similarity: float = SOFT404_SIMILARITY,
) -> PageVerdict:
    """The verdict on one HTML page. ``body`` and ``text, encoding`` are the raw bytes and what
    :func:`crawler.web.parse.decode_body` made of them; ``probe`` is the soft-404 probe answer
    of the page's host and prefix (``ProbeBook.get(url)``), if one was fetched. Never raises."""
    headers = headers or {}
    head = head_bytes(body, text, encoding)
    trig = precheck(head, status=status, headers=headers, probe=probe)
    if not trig.any:
        return PageVerdict(PageKind.CONTENT, Band.CONFIDENT, 0.0, status=status)
    return _judge(
        head,
        trig,
        truncated=len(body) > SCAN_BYTES,
        status=status,
        headers=headers,
        url=url,
        final_url=final_url,
        probe=probe,
        soft404_similarity=soft404_similarity,
    )


def _judge(
    head: bytes,
    trig: Triggers,
    *,
    truncated: bool,
    status: int,
    headers: Mapping[str, str],
    url: str,
    final_url: str,
    probe: ProbeAnswer | None,
    soft404_similarity: float,
) -> PageVerdict:
    """The full look at a page the pre-check did not clear (every point needs a trigger)."""
    features, doc = extract(head, truncated=truncated)
    ev = _Evidence()
    vendor = _vendor_evidence(ev, doc, headers, trig, features)
    login_context = (
        features.password_inputs > 0 or status == 401 or (PageKind.LOGIN in trig.title_words)
    )
    _phrases(ev, features, trig, login_context)
    if trig.status:
        _status_evidence(ev, status)
    if features.password_inputs and any(n in trig.needles for n in PASSWORD_NEEDLES):
        in_page = features.password_inputs - features.chrome_password_inputs
        # A sign-in box in the header, a sidebar or a drop-down menu is site chrome.
        ev.add(PageKind.LOGIN, 3 if in_page else 1, f"password input x{features.password_inputs}")
    similarity = None
    match = compare(probe, features.text_head, requested_url=url, final_url=final_url)
    probe_confirmed = False
    if match is not None:
        similarity = match.similarity
        if match.same_redirect or match.similarity >= soft404_similarity:
            probe_confirmed = True
            ev.add(PageKind.SOFT_404, 8, f"like the probe answer ({match.similarity:.2f})")
        elif match.similarity >= LIKELY_SIMILARITY:
            ev.add(PageKind.SOFT_404, 4, f"close to the probe answer ({match.similarity:.2f})")
    if probe is not None and probe.honest and ev.points[PageKind.SOFT_404] > 0:
        # The host answers 404 for missing pages under this prefix: a 200 here is a real page
        # whatever it says (Bar-Yossef et al.'s premise).
        ev.points[PageKind.SOFT_404] = 0.0
        ev.reasons[PageKind.SOFT_404].append("host answers 404 for missing pages: real page")
    _shape_evidence(ev, features)
    content, content_reason = _content_points(features)
    scores: dict[PageKind, float] = {}
    for kind, points in ev.points.items():
        exempt = kind is PageKind.SOFT_404 and probe_confirmed
        scores[kind] = points if exempt or points <= 0 else max(0.0, points + content)
    kind = max(scores, key=lambda k: scores[k])  # dict order breaks ties: blocked, login, 404
    score = scores[kind]
    reasons = tuple(ev.reasons[kind]) + ((content_reason,) if content else ())
    if score >= CONFIDENT_SCORE:
        verdict_kind, band = kind, Band.CONFIDENT
    elif score >= LEAN_SCORE:
        verdict_kind, band = kind, Band.UNCERTAIN
    elif score >= DOUBT_SCORE:
        verdict_kind, band = PageKind.CONTENT, Band.UNCERTAIN
    else:
        verdict_kind, band = PageKind.CONTENT, Band.CONFIDENT
    return PageVerdict(
        kind=verdict_kind,
        band=band,
        score=score,
        vendor=vendor if kind is PageKind.BLOCKED and score >= DOUBT_SCORE else None,
        reasons=reasons,
        features=features,
        similarity=similarity,
        status=status,
    )


def _vendor_evidence(
    ev: _Evidence,
    doc: PageDoc,
    headers: Mapping[str, str],
    trig: Triggers,
    features: PageFeatures,
) -> str | None:
    """Block evidence from vendor markers and captcha widgets; the vendor named, if any."""
    hits = match_vendors(doc, headers, trig.needles)
    by_vendor: dict[str, list[str]] = {}
    totals: dict[str, int] = {}
    for hit in hits:
        totals[hit.vendor] = totals.get(hit.vendor, 0) + hit.points
        by_vendor.setdefault(hit.vendor, []).append(hit.evidence)
    # A vendor's 1-point markers (its server header, its cookies) only say it serves the site.
    telling = {hit.vendor for hit in hits if hit.points >= 2}
    vendor = max(telling, key=lambda v: totals[v]) if telling else None
    if vendor is not None:
        points = min(9, totals[vendor])
        ev.add(PageKind.BLOCKED, points, f"{vendor}: {', '.join(by_vendor[vendor][:3])}")
    if features.captcha_widget and not features.text_inputs and features.text_weight < 400:
        # A challenge asks for nothing but the captcha; a contact or sign-up form with a captcha
        # also asks for a name, an email, a message.
        ev.add(PageKind.BLOCKED, 3, f"{features.captcha_widget} widget, nothing else asked")
        vendor = vendor or features.captcha_widget
    return vendor


def _status_evidence(ev: _Evidence, status: int) -> None:
    if status == 401:
        ev.add(PageKind.LOGIN, 4, "status 401")
    elif status in (403, 429):
        ev.add(PageKind.BLOCKED, 2, f"status {status}")
    elif status in (404, 410):
        ev.add(PageKind.SOFT_404, 3, f"status {status}")


def _shape_evidence(ev: _Evidence, f: PageFeatures) -> None:
    """A near-empty page makes whatever it says count more (only where something was said, and
    not on a page with paragraphs of prose)."""
    if f.prose_blocks >= 2:
        return
    for kind in PAGE_CATEGORY:
        if ev.points[kind] < LEAN_SCORE:
            continue
        if f.text_weight < 250:
            ev.add(kind, 2, f"almost no text ({f.text_weight})")
        elif f.text_weight < 500:
            ev.add(kind, 1, f"little text ({f.text_weight})")
        if kind is PageKind.BLOCKED and (f.meta_refresh or f.links <= 2):
            ev.add(kind, 1, "no way on (refresh or no links)")
