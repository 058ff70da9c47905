"""Page verdicts (block page, login wall, soft 404, content) against the labelled sets, the
pre-check's promise, the LLM's limits in the uncertain band, and the soft-404 probe's pure part."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.config import LLMConfig
from crawler.decide import blocks
from crawler.decide.blocks import Band, PageKind, judge_page, needs_judging, settle
from crawler.decide.blocks_phrases import PHRASES
from crawler.decide.page_features import head_bytes, script_sizes, weighted_size
from crawler.decide.rules import RuleAnalyser
from crawler.decide.soft404 import ProbeAnswer, ProbeBook, prefix_of, probe_url, resemblance
from crawler.decide.soft404 import fingerprint as text_fingerprint
from crawler.llm.cache import MemoryVerdictCache
from crawler.llm.manager import LLMManager
from tests.openai_server import Answer, OpenAIServer
from tests.openai_server import openai_server as openai_server  # the fixture
from tests.page_set import HOLDOUT, KINDS, MAIN, PageSet, load, rules_verdict, score

SETS = {"main": MAIN, "holdout": HOLDOUT}


@pytest.fixture(scope="module", params=sorted(SETS))
def page_set(request: pytest.FixtureRequest) -> PageSet:
    return load(SETS[request.param])


def test_the_sets_are_big_enough() -> None:
    assert len(load(MAIN).pages) >= 200
    assert len(load(HOLDOUT).pages) >= 60


def test_rules_alone_meet_the_targets(page_set: PageSet) -> None:
    scores = score((p, rules_verdict(page_set, p).kind) for p in page_set.pages)
    assert scores.recall[PageKind.BLOCKED] >= 0.95, scores.errors
    assert scores.content_false_out <= 0.02, scores.errors
    assert scores.recall[PageKind.SOFT_404] >= 0.80, scores.errors
    assert scores.recall[PageKind.LOGIN] >= 0.90, scores.errors


def _manager(server: OpenAIServer, **overrides: Any) -> LLMManager:
    cfg = LLMConfig(
        enabled=True,
        base_url=server.base_url,
        model="scripted",
        timeout_s=2.0,
        max_retries=0,
        max_calls_per_run=10_000,
        **overrides,
    )
    return LLMManager(cfg, fallback=RuleAnalyser(), cache=MemoryVerdictCache(), env={})


async def test_rules_plus_oracle_is_never_worse(
    page_set: PageSet, openai_server: OpenAIServer
) -> None:
    truth = {p.url: p.label for p in page_set.pages}

    def oracle(body: dict[str, Any]) -> Answer:
        user = str(body["messages"][-1]["content"])
        url = next(u for u in sorted(truth, key=len, reverse=True) if f"\n{u}\n" in user)
        return Answer({"verdict": truth[url].value, "reason": "truth"})

    openai_server.default = oracle
    verdicts = {p.file: rules_verdict(page_set, p) for p in page_set.pages}
    alone = score((p, verdicts[p.file].kind) for p in page_set.pages)
    settled = []
    async with _manager(openai_server) as manager:
        for page in page_set.pages:
            settled.append((page, (await manager.judge_page(page.url, verdicts[page.file])).kind))
    helped = score(settled)
    uncertain = sum(v.band is Band.UNCERTAIN for v in verdicts.values())
    assert openai_server.count == uncertain  # asked about the uncertain band only, once each
    for kind in KINDS:
        assert helped.recall[kind] >= alone.recall[kind]
        assert helped.precision[kind] >= alone.precision[kind]


# -- the LLM's limits -------------------------------------------------------------------------

CAPTCHA_PAGE = (
    b"<html><head><title>Attention Required! | Cloudflare</title></head><body>"
    b'<div id="cf-wrapper"><h1>Sorry, you have been blocked</h1><p>Cloudflare Ray ID: '
    b"8a1b2c3d4e5f6a7b</p></div></body></html>"
)
UNCERTAIN_PAGE = (
    b"<html><head><title>Sign in - Example Accounts</title></head><body><h1>Sign in</h1>"
    b'<form><input type="email" name="id"><button>Next</button></form></body></html>'
)


def _judge(body: bytes, **kw: Any) -> blocks.PageVerdict:
    return judge_page(body, body.decode(), "utf-8", **kw)


async def test_a_confident_verdict_is_never_sent_nor_overturned(
    openai_server: OpenAIServer,
) -> None:
    openai_server.default = Answer({"verdict": "content", "reason": "looks fine"})
    verdict = _judge(CAPTCHA_PAGE)
    assert (verdict.kind, verdict.band) == (PageKind.BLOCKED, Band.CONFIDENT)
    async with _manager(openai_server) as manager:
        assert await manager.judge_page("http://a.test/", verdict) is verdict
    assert openai_server.count == 0
    assert settle(verdict, PageKind.CONTENT) is verdict


async def test_links_and_instructions_in_an_answer_change_nothing_but_the_kind(
    openai_server: OpenAIServer,
) -> None:
    verdict = _judge(UNCERTAIN_PAGE)
    assert verdict.band is Band.UNCERTAIN
    openai_server.script(
        Answer({"verdict": "content", "reason": "fine; also crawl http://evil.test/ now"}),
        Answer({"blocked": False, "reason": "old shape"}),  # not the schema: rejected
    )
    async with _manager(openai_server) as manager:
        moved = await manager.judge_page("http://a.test/x", verdict)
        other = _judge(UNCERTAIN_PAGE.replace(b"Example", b"Other"))
        kept = await manager.judge_page("http://b.test/y", other)
    assert moved.kind is PageKind.CONTENT
    assert moved.source == "llm"
    assert "evil" not in repr(moved)
    assert kept == other  # a rejected answer leaves the rules' lean standing
    assert manager.rejected == 1
    prompt = openai_server.prompts()[0]
    assert "<form" not in prompt
    assert "<h1>" not in prompt


async def test_the_verdict_cache_is_keyed_by_what_the_page_shows(
    openai_server: OpenAIServer,
) -> None:
    openai_server.default = Answer({"verdict": "login", "reason": "sign-in form"})
    filler = "x" * 600
    first = UNCERTAIN_PAGE.replace(b"<h1>", f"<p>{filler} one</p><h1>".encode())
    second = UNCERTAIN_PAGE.replace(b"<h1>", f"<p>{filler} two</p><h1>".encode())
    async with _manager(openai_server) as manager:
        for url, body in [
            ("http://a.test/1", first),
            ("http://a.test/2", second),  # same first 600 characters, another page: asked
            ("http://b.test/9", first),  # the same page on another host: cached
        ]:
            await manager.judge_page(url, _judge(body))
    assert openai_server.count == 2
    assert manager.cache_hits == 1


# -- the pre-check ----------------------------------------------------------------------------

_FRAGMENTS = [p.text for p in PHRASES] + [
    '<script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1"></script>',
    '<div id="px-captcha"></div>',
    '<iframe src="/_Incapsula_Resource?x=1"></iframe>',
    "Reference #18.2f3c1d17.1699999999.4a5b6c7",
    '<input type="password" name="p">',
    '<div class="g-recaptcha"></div>',
    "Cloudflare Ray ID: 8a1b2c3d4e5f6a7b",
    "<p>The council approved the plan after a long debate about the lanes.</p>",
    "<h1>Notice</h1>",
    "<title>Notice</title>",
    "404",
    "Sign in",
]


def _cased(text: str, how: int) -> str:
    return [text, text.capitalize(), text.upper()][how]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(
        st.tuples(st.sampled_from(_FRAGMENTS), st.integers(0, 2), st.sampled_from(["h1", "p"])),
        max_size=6,
    ),
    status=st.sampled_from([200, 200, 200, 403]),
    title=st.sampled_from(["", "News", "Access denied", "Page not found", "Sign in", "Moment"]),
)
def test_the_precheck_never_clears_a_page_the_classifier_would_flag(
    parts: list[tuple[str, int, str]], status: int, title: str
) -> None:
    body = "".join(
        frag if frag.startswith("<") else f"<{tag}>{_cased(frag, how)}</{tag}>"
        for frag, how, tag in parts
    )
    html = f"<html><head><title>{title}</title></head><body>{body}</body></html>".encode()
    head = head_bytes(html, html.decode(), "utf-8")
    trig = blocks.precheck(head, status=status)
    full = blocks._judge(
        head,
        trig,
        truncated=False,
        status=status,
        headers={},
        url="http://a.test/",
        final_url="",
        probe=None,
        soft404_similarity=0.8,
    )
    if not trig.any:
        assert full.kind is PageKind.CONTENT, full.reasons
        assert not needs_judging(html, html.decode(), "utf-8", status=status)


def test_an_ordinary_page_is_cleared_by_the_precheck() -> None:
    page = b"<html><head><title>Council approves plan</title></head><body><p>The council"
    page += b" approved the cycling plan.</p><a href='/x'>more</a></body></html>"
    assert not needs_judging(page, page.decode(), "utf-8")
    verdict = judge_page(page, page.decode(), "utf-8")
    assert (verdict.kind, verdict.band, verdict.reasons) == (PageKind.CONTENT, Band.CONFIDENT, ())


def test_pages_in_other_encodings_are_judged_on_their_text() -> None:
    html = "<html><head><title>Доступ запрещён</title></head><body><h1>Доступ запрещён</h1>"
    html += "<p>Ваш запрос заблокирован системой безопасности.</p></body></html>"
    body = html.encode("cp1251")
    verdict = judge_page(body, body.decode("cp1251"), "cp1251")
    assert verdict.kind is PageKind.BLOCKED


def test_text_size_is_weighted_per_script() -> None:
    english = "The council approved the new cycling plan on Tuesday after a long debate."
    chinese = "市议会周二在经过长时间辩论后批准了新的自行车道计划。"
    assert len(chinese) < len(english) / 2
    assert weighted_size(script_sizes(chinese)) >= 0.8 * weighted_size(script_sizes(english))


# -- soft 404s --------------------------------------------------------------------------------


def test_probe_urls_are_random_under_the_prefix_and_keep_the_extension() -> None:
    rng = random.Random(7)
    first = probe_url("https://a.test/blog/2020/post.html", rng)
    second = probe_url("https://a.test/blog/2020/post.html", rng)
    assert first.startswith("https://a.test/blog/zz-nonexistent-")
    assert first.endswith(".html")
    assert first != second
    assert probe_url("https://a.test/blog/2020/post.html", random.Random(7)) == first
    assert prefix_of("https://A.test/about") == "https://a.test/"
    assert prefix_of("https://a.test/a/b/c", depth=2) == "https://a.test/a/b/"


def test_a_page_like_the_probe_answer_is_a_soft_404_and_an_honest_host_is_trusted() -> None:
    template = (
        "<html><head><title>Example Shop</title></head><body><nav>Home Shop Contact</nav>"
        "<h1>Hmm.</h1><p>This link goes nowhere {path}. Try the menu above or browse the "
        "latest products in the shop.</p><footer>Example Shop 2024</footer></body></html>"
    )
    probe_html = template.format(path="/r/zz-nonexistent-1").encode()
    book = ProbeBook()
    answer = ProbeAnswer.from_response(
        200, probe_html, requested_url="https://shop.test/r/zz-nonexistent-1"
    )
    book.put("https://shop.test/r/x", answer)
    page = template.format(path="/r/old-bread").encode()
    assert book.get("https://shop.test/r/old-bread") is not None
    probe = book.get("https://shop.test/r/y")
    verdict = _judge(page, url="https://shop.test/r/old-bread", probe=probe)
    assert (verdict.kind, verdict.band) == (PageKind.SOFT_404, Band.CONFIDENT)
    assert verdict.similarity is not None
    assert verdict.similarity > 0.8
    assert "soft-404" in verdict.message()
    article = (
        b"<html><head><title>Example Shop</title></head><body><nav>Home Shop Contact</nav>"
        b"<h1>Rye bread</h1><p>A dense loaf that keeps for a week. Mix the starter with water and"
        b" flour, leave it overnight, then bake for an hour.</p><footer>Example Shop 2024"
        b"</footer></body></html>"
    )
    assert _judge(article, probe=book.get("https://shop.test/r/y")).kind is PageKind.CONTENT
    honest = ProbeAnswer.from_response(404, b"<h1>Not found</h1>")
    nf = b"<html><head><title>Page not found</title></head><body><h1>Page not found</h1></body>"
    assert _judge(nf).kind is PageKind.SOFT_404
    assert _judge(nf, probe=honest).kind is PageKind.CONTENT


def test_resemblance() -> None:
    a = text_fingerprint("the quick brown fox jumps over the lazy dog")
    assert resemblance(a, a) == 1.0
    assert resemblance(a, text_fingerprint("an entirely different sentence about bread")) == 0.0
    assert resemblance(a, frozenset()) == 0.0
    assert len(text_fingerprint("页面不存在")) == 3  # one token per Han character


def test_local_llm_flag_selects_the_local_provider() -> None:
    from crawler.cli import _config_for, build_parser

    args = build_parser().parse_args(["run", "http://a.test/", "--local-llm"])
    cfg = _config_for(args)
    assert (cfg.llm.provider, cfg.llm.enabled) == ("local", True)
    with pytest.raises(Exception, match="not allowed with"):
        build_parser().parse_args(["run", "http://a.test/", "--local-llm", "--no-llm"])
