"""Vendor fingerprints of block and challenge pages, from the vendors' public page structure.

Each :class:`Marker` says where to look (a response header, a cookie name in ``Set-Cookie``,
script sources and inline script code, iframe sources, form actions and ids, element ids and
classes, link targets, or the visible text), what to look for (a case-insensitive regex) and how
much it weighs. ``points`` ≥ 5: the marker exists only on a challenge or block page (a challenge
bootstrap, a block-page form id); 3–4: a block-page text such as a reference id; 1: the vendor
serves this site, which says nothing alone (``server: cloudflare`` is on every Cloudflare page).

Every body marker has a ``needle``: a lower-case literal its match always contains; the byte
pre-check looks for the needles, and a marker whose needle is not in the page's head bytes is not
even tried, so the pre-check can never clear a page a marker would flag. docs/blocks.md lists the
markers per vendor with the public structure each one comes from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from crawler.decide.page_features import PageDoc

__all__ = ["HEADER_TRIGGERS", "MARKERS", "Marker", "VendorHit", "match_vendors", "quoted"]

Where = Literal["script", "iframe", "form", "id", "class", "href", "text", "header", "cookie"]


@dataclass(frozen=True)
class Marker:
    vendor: str
    where: Where
    pattern: str  # case-insensitive regex
    points: int
    needle: str = ""  # body markers: a literal every match contains (lower-case)
    header: str = ""  # header markers: the header's name

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class VendorHit:
    vendor: str
    points: int
    evidence: str


def _m(vendor: str, where: Where, pattern: str, points: int, needle: str) -> Marker:
    return Marker(vendor, where, pattern, points, needle=needle)


def _h(vendor: str, header: str, pattern: str, points: int) -> Marker:
    return Marker(vendor, "header", pattern, points, header=header)


def _c(vendor: str, pattern: str, points: int) -> Marker:
    return Marker(vendor, "cookie", pattern, points, header="set-cookie")


MARKERS: tuple[Marker, ...] = (
    # Cloudflare: challenge pages ("Just a moment...") bootstrap window._cf_chl_opt and load
    # /cdn-cgi/challenge-platform/h/<b|g>/orchestrate/<chl_page|managed|jsch>/...; their form is
    # #challenge-form with a __cf_chl_*_tk action; every challenge response has
    # `cf-mitigated: challenge`. Block pages (error 1006-1020, "Sorry, you have been blocked") sit
    # in #cf-wrapper / #cf-error-details with a "Cloudflare Ray ID".
    _h("cloudflare", "cf-mitigated", r"challenge", 7),
    _m("cloudflare", "script", r"_cf_chl_opt", 6, "_cf_chl_opt"),
    _m("cloudflare", "script", r"/cdn-cgi/challenge-platform/h/\w/orchestrate/", 6, "orchestrate"),
    _m("cloudflare", "form", r"__cf_chl_\w*tk", 6, "__cf_chl_"),
    _m(
        "cloudflare",
        "id",
        r"\bchallenge-(form|running|stage|body-text|error-text)\b",
        5,
        "challenge-",
    ),
    _m("cloudflare", "id", r"\bcf-please-wait\b", 5, "cf-please-wait"),
    _m("cloudflare", "id", r"\btrk_jschal_js\b", 5, "trk_jschal_js"),
    _m("cloudflare", "id", r"\bcf-(wrapper|error-details)\b", 3, "cf-wrapper"),
    _m("cloudflare", "text", r"cloudflare ray id", 3, "cloudflare"),
    _m("cloudflare", "text", r"\berror (100[5-9]|101[0-2]|1015|1020)\b", 3, "cloudflare"),
    _m("cloudflare", "text", r"performance (&|and) security by cloudflare", 2, "cloudflare"),
    _c("cloudflare", r"\bcf_chl_\w+=", 3),
    _h("cloudflare", "server", r"cloudflare", 1),
    # Akamai: the edge's deny page is "Access Denied / You don't have permission to access ...
    # Reference #18.<hex>.<epoch>.<hex>" (served by AkamaiGHost); Bot Manager's interstitial
    # loads /_sec/cp_challenge/ak-challenge-*.js into #sec-if-cpt-container.
    _m("akamai", "text", r"reference\s*#\s*\d+\.[0-9a-f]+\.\d+\.[0-9a-f]+", 5, "denied"),
    _m("akamai", "script", r"/_sec/cp_challenge/", 6, "/_sec/cp_challenge"),
    _m("akamai", "id", r"\bsec-(if-cpt-container|cpt-if)\b", 4, "cpt"),
    _m("akamai", "text", r"powered and protected by akamai", 3, "akamai"),
    _h("akamai", "server", r"akamaighost", 1),
    # DataDome: the block/captcha page is a few lines: `var dd={'rt':'c','cid':...,'host':
    # 'geo.captcha-delivery.com'}` and a script or iframe from (ct|geo).captcha-delivery.com;
    # blocked responses carry `x-dd-b` and a `datadome=` cookie.
    _m("datadome", "script", r"captcha-delivery\.com", 6, "captcha-delivery"),
    _m("datadome", "iframe", r"captcha-delivery\.com", 6, "captcha-delivery"),
    _h("datadome", "x-dd-b", r".", 4),
    _h("datadome", "x-datadome", r".", 1),
    _c("datadome", r"\bdatadome=", 1),
    # PerimeterX / HUMAN: "Access to this page has been denied" with a #px-captcha element,
    # window._pxAppId / _pxUuid bootstraps and the captcha script from captcha.px-cdn.net or
    # /<appid>/captcha/captcha.js; cookies _px3, _pxhd, _pxvid.
    _m("perimeterx", "id", r"\bpx-captcha\b", 6, "px-captcha"),
    _m("perimeterx", "script", r"_px(appid|uuid|vid|hostUrl|jsClientSrc)", 5, "_px"),
    _m("perimeterx", "script", r"px-(cdn|cloud)\.net", 5, "px-c"),
    _m("perimeterx", "script", r"/captcha/captcha\.js", 4, "captcha.js"),
    _c("perimeterx", r"\b_px(3|hd|vid)=", 1),
    # Imperva / Incapsula: "Request unsuccessful. Incapsula incident ID: <n>-<n>" with an iframe
    # or script from /_Incapsula_Resource; Imperva Advanced Bot Protection (ex-Distil) pages say
    # "Pardon Our Interruption"; cookies incap_ses_*, visid_incap_*; header X-Iinfo.
    _m("imperva", "iframe", r"_incapsula_resource", 6, "_incapsula_resource"),
    _m("imperva", "script", r"_incapsula_resource", 6, "_incapsula_resource"),
    _m("imperva", "text", r"incapsula incident id", 5, "incapsula"),
    _m("imperva", "id", r"\bdistil_r_(captcha|blocked)\b", 5, "distil"),
    _h("imperva", "x-iinfo", r".", 1),
    _c("imperva", r"\b(incap_ses_|visid_incap_)", 1),
    # Sucuri: "Access Denied - Sucuri Website Firewall" with "Block ID" and "Block reason";
    # its JS challenge sets sucuri_cloudproxy_uuid_* from inline code; `x-sucuri-block` on blocks.
    _h("sucuri", "x-sucuri-block", r".", 6),
    _m("sucuri", "script", r"sucuri_cloudproxy", 6, "sucuri_cloudproxy"),
    _m("sucuri", "text", r"sucuri website firewall", 5, "sucuri"),
    _m("sucuri", "href", r"sucuri\.net", 2, "sucuri"),
    _h("sucuri", "x-sucuri-id", r".", 1),
    # AWS WAF: CAPTCHA and challenge actions answer 405 / 202 with `x-amzn-waf-action` and a
    # page loading <id>.<region>.captcha-sdk.awswaf.com or token.awswaf.com scripts
    # (AwsWafIntegration, window.gokuProps); CloudFront's block page says "The request could not
    # be satisfied ... Generated by cloudfront (CloudFront)".
    _h("aws-waf", "x-amzn-waf-action", r"captcha|challenge|block", 7),
    _m("aws-waf", "script", r"awswaf", 6, "awswaf"),
    _m("aws-waf", "script", r"gokuprops", 6, "gokuprops"),
    _m("aws-waf", "text", r"the request could not be satisfied", 3, "satisfied"),
    _m("aws-waf", "text", r"generated by cloudfront", 2, "cloudfront"),
    # Kasada: a near-empty 429 page loading /149e9513-01fa-4fb0-aad4-566afd725d1b/
    # 2d206a39-8ed7-437e-a3be-862e0f06eea3/ips.js, window.KPSDK, and x-kpsdk-* headers.
    _m("kasada", "script", r"149e9513-01fa-4fb0-aad4-566afd725d1b", 7, "149e9513-01fa"),
    _m("kasada", "script", r"kpsdk", 5, "kpsdk"),
    _h("kasada", "x-kpsdk-ct", r".", 4),
    # F5 BIG-IP ASM / Advanced WAF: "The requested URL was rejected. Please consult with your
    # administrator. Your support ID is: <n>"; bot defense loads /TSPD/ scripts (window.bobcmn);
    # cookies TS<hex>.
    _m("f5", "text", r"the requested url was rejected", 5, "rejected"),
    _m("f5", "text", r"your support id is", 4, "rejected"),
    _m("f5", "script", r"/tspd/", 5, "/tspd/"),
    _m("f5", "script", r"bobcmn", 5, "bobcmn"),
    _c("f5", r"\bTS[0-9a-f]{6,8}=", 1),
    # Google "sorry": /sorry/index answers 429 with "Our systems have detected unusual traffic
    # from your computer network ... checks to see if it's really you sending the requests",
    # a reCAPTCHA in form#captcha-form (action "index").
    _m("google-sorry", "form", r"\bcaptcha-form\b", 4, "captcha-form"),
    _m("google-sorry", "text", r"really you sending the requests", 5, "robot"),
    _m("google-sorry", "href", r"/sorry/", 3, "/sorry/"),
    # ModSecurity (the Apache/nginx WAF module): its default rejection says "This error was
    # generated by Mod_Security" ("Not Acceptable!").
    _m("modsecurity", "text", r"generated by mod_security", 5, "mod_security"),
    # Wordfence (WordPress): "Your access to this site has been limited by the site owner" with
    # "Generated by Wordfence" and a "Block Technical Data" table.
    _m("wordfence", "text", r"generated by wordfence", 5, "wordfence"),
    # DDoS-Guard: "Checking your browser before accessing ..." with a link to ddos-guard.net.
    _m("ddos-guard", "href", r"ddos-guard\.net", 4, "ddos-guard"),
    # Anubis (proof-of-work wall in front of many forges and wikis): "Making sure you're not a
    # bot!" and scripts under /.within.website/.
    _m("anubis", "script", r"/\.within\.website/", 6, ".within.website"),
    # Vercel's firewall challenge: `x-vercel-mitigated: challenge`, "Vercel Security Checkpoint".
    _h("vercel", "x-vercel-mitigated", r"challenge", 7),
)

# Headers whose presence alone is worth a full look (the pre-check's header triggers).
HEADER_TRIGGERS: tuple[str, ...] = tuple(
    sorted({m.header for m in MARKERS if m.where == "header" and m.points >= 4})
)


_OPEN_QUOTES = frozenset("“„«‹「『《〈")
_CLOSE_QUOTES = frozenset("”»›」』》〉")
_SINGLE_OPEN = re.compile(r"(?:^|(?<=[\s(\[]))'")
_SINGLE_CLOSE = re.compile(r"(?<=\S)'(?=[\s.,;:!?)\]]|$)")


def quoted(text: str, start: int) -> bool:
    """Whether position ``start`` of ``text`` lies inside quotation marks — an article quoting
    a block page rather than a block page speaking. Typographic pairs, an odd number of straight
    double quotes, or an open straight single quote (one after a space; contractions must be
    spelled out first, and "visitor's" is neither opening nor closing)."""
    before = text[:start]
    depth = sum(c in _OPEN_QUOTES for c in before) - sum(c in _CLOSE_QUOTES for c in before)
    singles = len(_SINGLE_OPEN.findall(before)) - len(_SINGLE_CLOSE.findall(before))
    return depth > 0 or singles > 0 or before.count('"') % 2 == 1


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if callable(getall):
        return [str(v) for v in getall(name, [])]
    value = headers.get(name)
    if value is None:
        lowered = {k.lower(): v for k, v in headers.items()}
        value = lowered.get(name)
    return [] if value is None else [str(value)]


def _field(doc: PageDoc, where: Where) -> str:
    return {
        "script": doc.scripts,
        "iframe": doc.iframes,
        "form": doc.forms,
        "id": doc.ids,
        "class": doc.classes,
        "href": doc.hrefs,
        "text": doc.text,
    }.get(where, "")


def match_vendors(
    doc: PageDoc, headers: Mapping[str, str], needle_hits: frozenset[str]
) -> list[VendorHit]:
    """Every marker that matches, best first. A body marker is tried only when its needle was
    found in the page's head bytes (``needle_hits``)."""
    hits: list[VendorHit] = []
    for marker in MARKERS:
        if marker.where in ("header", "cookie"):
            for value in _header_values(headers, marker.header):
                if marker.regex.search(value):
                    hits.append(VendorHit(marker.vendor, marker.points, f"{marker.header}"))
                    break
            continue
        if marker.needle not in needle_hits:
            continue
        haystack = _field(doc, marker.where)
        found = marker.regex.search(haystack)
        while found and marker.where == "text" and quoted(haystack, found.start()):
            found = marker.regex.search(haystack, found.end())
        if found:
            hits.append(VendorHit(marker.vendor, marker.points, found.group(0)[:40]))
    hits.sort(key=lambda h: -h.points)
    return hits
