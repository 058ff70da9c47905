"""Writes the held-out page set: ``python tests/data/pages_holdout/build.py`` (deterministic).

Written apart from ../pages/build.py and never used to tune the rules: other page templates
(bare HTML, Bootstrap-like layouts, wikis, forums, admin tools), other wording, other variants of
the vendors' pages, and block walls of products the vendor table does not know (Wordfence,
ModSecurity, DDoS-Guard, slider captchas, Yandex SmartCaptcha). Same file format as ../pages.
"""

# ruff: noqa: E501  (page text is data: long literal lines)
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent
PAGES: list[dict[str, Any]] = []
PROBES: list[dict[str, Any]] = []
FILES: dict[str, str] = {}


def page(
    name: str,
    label: str,
    html: str,
    group: str,
    note: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    url: str = "",
    final_url: str = "",
) -> None:
    file = f"{name}.html"
    assert file not in FILES
    FILES[file] = html
    PAGES.append(
        {
            "file": file,
            "label": label,
            "status": status,
            "url": url or f"https://www.{name}.test/page",
            "final_url": final_url,
            "headers": headers or {},
            "group": group,
            "note": note,
        }
    )


def probe(key: str, prefix_url: str, status: int, html: str, final_url: str = "") -> None:
    file = f"probe-{key}.html"
    FILES[file] = html
    PROBES.append({"url": prefix_url, "status": status, "file": file, "final_url": final_url})


def bootstrap(title: str, body: str, *, lang: str = "en", brand: str = "Brand") -> str:
    """A Bootstrap-like layout: navbar, container, sidebar, footer."""
    return (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        '<link href="/css/bootstrap.min.css" rel="stylesheet">\n</head>\n<body>\n'
        f'<nav class="navbar navbar-expand-lg"><a class="navbar-brand" href="/">{brand}</a>'
        '<ul class="navbar-nav"><li class="nav-item"><a class="nav-link" href="/products">'
        'Products</a></li><li class="nav-item"><a class="nav-link" href="/pricing">Pricing</a>'
        '</li><li class="nav-item"><a class="nav-link" href="/blog">Blog</a></li>'
        '<li class="nav-item"><a class="nav-link" href="/login">Log in</a></li></ul></nav>\n'
        f'<div class="container"><div class="row"><div class="col-md-8">{body}</div>'
        '<div class="col-md-4"><div class="card"><h5>Newsletter</h5><p>Monthly, no spam.</p>'
        "</div></div></div></div>\n"
        '<footer class="footer"><span>&copy; Brand Inc.</span> <a href="/imprint">Imprint</a>'
        "</footer>\n</body>\n</html>\n"
    )


def bare(title: str, body: str, *, lang: str = "en", head: str = "") -> str:
    return (
        f'<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f"<body>{body}</body></html>"
    )


def wiki(title: str, paragraphs: list[str], *, lang: str = "en") -> str:
    toc = "".join(f'<li><a href="#s{i}">Section {i}</a></li>' for i in range(1, 5))
    text = "".join(f'<h2 id="s{i}">Section {i}</h2><p>{p}</p>' for i, p in enumerate(paragraphs))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="UTF-8"><title>{title} - '
        f'Wikipedia-like</title></head><body><div id="content"><h1 id="firstHeading">{title}</h1>'
        f'<div id="toc"><ul>{toc}</ul></div><div id="bodyContent">{text}</div></div>'
        '<div id="footer"><a href="/wiki/Privacy">Privacy</a> <a href="/wiki/About">About</a>'
        '<a href="/w/index.php?title=Special:UserLogin">Log in</a></div></body></html>'
    )


def build_blocks() -> None:
    page(
        "cf-turnstile-interstitial",
        "blocked",
        bare(
            "Just a moment...",
            '<div class="main-wrapper"><div class="main-content"><h1 class="zone-name-title">'
            'www.retailer.test</h1><p id="Truv1">Verifying you are human. This may take a few '
            'seconds.</p><div id="turnstile-wrapper"></div><div id="challenge-success-text" '
            'style="display:none">Verification successful</div></div></div>'
            "<script>(function(){window._cf_chl_opt={cvId:'3',cType:'managed',cRay:'91ab'};"
            "var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/h/g/"
            "orchestrate/chl_page/v1?ray=91ab';document.head.appendChild(a);})();</script>",
        ),
        "vendor:cloudflare",
        "newer Cloudflare interstitial with Turnstile",
    )
    page(
        "cf-1010",
        "blocked",
        bare(
            "Access denied | www.forum.test used Cloudflare to restrict access",
            '<div id="cf-wrapper"><div id="cf-error-details"><h1><span>Error</span> '
            "<span>1010</span></h1><span>Ray ID: 91ab2c3d4e5f6071</span><h2>Access denied</h2>"
            "<p>The owner of this website (www.forum.test) has banned your access based on your "
            "browser's signature (91ab2c3d4e5f6071-ua48).</p></div></div>",
        ),
        "vendor:cloudflare",
        "Cloudflare 1010 browser-signature ban",
        status=200,
    )
    page(
        "akamai-denied-alt",
        "blocked",
        "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>"
        'You don\'t have permission to access "/api/v2/prices" on this server.<P>'
        "Reference #18.7c3d1702.1714550000.1b2c3d4</BODY></HTML>",
        "vendor:akamai",
        "Akamai deny page, plain characters",
    )
    page(
        "datadome-iframe",
        "blocked",
        bare(
            "retailer.test",
            '<iframe src="https://geo.captcha-delivery.com/captcha/?initialCid=AHrlqAAA&hash=9F1A'
            '&cid=0xyz&t=fe&referer=https%3A%2F%2Fretailer.test%2F&s=12345" title="DataDome CAPTCHA"'
            ' width="100%" height="100%" style="height:100vh;" frameborder="0"></iframe>',
        ),
        "vendor:datadome",
        "DataDome captcha iframe",
        status=403,
        headers={"x-datadome": "protected", "x-dd-b": "2"},
    )
    page(
        "px-new",
        "blocked",
        bare(
            "Access to this page has been denied",
            '<div class="px-block"><h1>Before we continue...</h1><p>Press &amp; Hold to confirm '
            'you are a human (and not a bot).</p><div id="px-captcha"></div><p>Reference ID '
            "a1b2c3d4-aaaa-bbbb-cccc-ddddeeeeffff</p></div>"
            "<script>window._pxAppId='PXq1w2e3r4';</script>",
        ),
        "vendor:perimeterx",
        "PerimeterX 'Before we continue' page",
    )
    page(
        "imperva-security-check",
        "blocked",
        bare(
            "Additional security check is required",
            "<h1>Additional security check is required</h1><p>Please complete the security check to "
            'access the site.</p><div class="g-recaptcha" data-sitekey="6LeX"></div>'
            '<script src="/_Incapsula_Resource?SWCGHOEL=v2&dai=1&cts=2"></script>'
            "<p>Incident ID: 1234000560078901234-567890123456789</p>",
        ),
        "vendor:imperva",
        "Imperva captcha challenge",
    )
    page(
        "sucuri-alt",
        "blocked",
        bare(
            "Sucuri WebSite Firewall - Access Denied",
            "<h2>Access Denied - Sucuri Website Firewall</h2><p>If you are the site owner, please "
            "whitelist your IP. Block reason: Access from your Country was disabled by the "
            'administrator.</p><p><a href="https://sucuri.net/website-firewall/">Sucuri</a></p>',
        ),
        "vendor:sucuri",
        "Sucuri country block",
        headers={"x-sucuri-block": "BNP101"},
    )
    page(
        "aws-waf-405",
        "blocked",
        bare(
            "",
            '<div id="captcha-container"></div><script type="text/javascript" '
            'src="https://q9w8e7r6.us-east-1.captcha-sdk.awswaf.com/q9w8e7r6/jsapi.js"></script>'
            "<script>window.addEventListener('load', function(){AwsWafCaptcha.renderCaptcha("
            "document.getElementById('captcha-container'),{apiKey:'x'});});</script>",
        ),
        "vendor:aws-waf",
        "AWS WAF captcha served with 405",
        status=405,
        headers={"x-amzn-waf-action": "captcha"},
    )
    page(
        "kasada-alt",
        "blocked",
        '<html><head><script src="/149e9513-01fa-4fb0-aad4-566afd725d1b/'
        '2d206a39-8ed7-437e-a3be-862e0f06eea3/p.js"></script></head><body></body></html>',
        "vendor:kasada",
        "Kasada bootstrap, second variant",
    )
    page(
        "f5-fr",
        "blocked",
        bare(
            "Requête rejetée",
            "L'URL demandée a été rejetée. Veuillez contacter votre administrateur.<br><br>"
            "Votre identifiant de support est : 9517534682<br>",
            lang="fr",
            head='<script src="/TSPD/?type=21"></script>',
        ),
        "vendor:f5",
        "F5 rejection page in French with TSPD script",
    )
    page(
        "google-sorry-es",
        "blocked",
        bare(
            "https://www.google.com/search?q=precios",
            '<form id="captcha-form" action="index" method="post"><div id="recaptcha" '
            'class="g-recaptcha" data-sitekey="6LfwuyU"></div></form><b>¿Por qué ha ocurrido esto?'
            "</b><br>Nuestros sistemas han detectado tráfico inusual procedente de tu red de "
            "ordenadores. Esta página comprueba si eres tú quien envía las solicitudes y no un "
            "robot.",
            lang="es",
        ),
        "vendor:google-sorry",
        "Google sorry page in Spanish",
        status=429,
    )
    page(
        "wordfence",
        "blocked",
        bare(
            "Your access to this site has been limited",
            "<h1>Your access to this site has been limited by the site owner</h1><p>Your access "
            "to this service has been limited. (HTTP response code 503)</p><p>If you think you "
            "have been blocked in error, contact the owner of this site for assistance.</p>"
            "<h2>Block Technical Data</h2><table><tr><td>Block Reason:</td><td>Access from your "
            "area has been temporarily limited for security reasons.</td></tr><tr><td>Time:</td>"
            "<td>Wed, 1 May 2024 10:00:00 GMT</td></tr></table>"
            "<p>Generated by Wordfence at Wed, 1 May 2024.</p>",
        ),
        "unknown-vendor",
        "Wordfence block page (vendor not in the table)",
    )
    page(
        "modsecurity",
        "blocked",
        bare(
            "406 Not Acceptable",
            "<h1>Not Acceptable!</h1><p>An appropriate representation of the requested resource "
            "could not be found on this server. This error was generated by Mod_Security.</p>",
        ),
        "unknown-vendor",
        "ModSecurity rejection served with 200 (vendor not in the table)",
    )
    page(
        "ddos-guard",
        "blocked",
        bare(
            "DDoS-Guard",
            "<h1>Checking your browser before accessing www.game.test</h1><p>This process is "
            "automatic. Your browser will redirect to your requested content shortly.</p>"
            "<p>Please allow up to 5 seconds…</p>"
            '<a href="https://ddos-guard.net/">DDoS protection by DDoS-Guard</a>',
            head='<meta http-equiv="refresh" content="5">',
        ),
        "unknown-vendor",
        "DDoS-Guard browser check",
    )
    page(
        "slider-captcha-zh",
        "blocked",
        bare(
            "安全验证",
            '<div class="nc-container"><p>请拖动下方滑块完成验证</p><div id="nc_1_wrapper"></div>'
            "<p>为了保障您的访问安全，请先完成安全验证。</p></div>",
            lang="zh",
        ),
        "generic-block",
        "Chinese slider captcha",
    )
    page(
        "yandex-smartcaptcha",
        "blocked",
        bare(
            "Вы не робот?",
            "<h1>Подтвердите, что запросы отправляли вы, а не робот</h1><p>Нам очень жаль, но "
            "запросы с вашего устройства похожи на автоматические.</p>"
            '<form action="/checkcaptcha" method="get"><input type="checkbox" id="js-button">'
            "<label>Я не робот</label></form>",
            lang="ru",
        ),
        "generic-block",
        "Yandex SmartCaptcha style page",
    )
    page(
        "naver-style-ko",
        "blocked",
        bare(
            "보안 확인",
            "<h2>자동입력 방지를 위해 보안 확인이 필요합니다</h2><p>비정상적인 접근이 감지되어 "
            '잠시 접속이 제한되었습니다. 아래 문자를 입력해 주세요.</p><img src="/captcha.png">'
            '<input type="text" name="answer">',
            lang="ko",
        ),
        "generic-block",
        "Korean captcha with image and answer box",
    )
    page(
        "bot-detected-en",
        "blocked",
        bootstrap(
            "Bot detected",
            "<h1>We need to make sure you're not a bot</h1><p>Our system flagged your session as "
            "suspicious activity. Please verify you're a human to continue browsing.</p>"
            '<button class="btn btn-primary">I am human</button>',
        ),
        "generic-block",
        "bot wall inside a Bootstrap site",
    )
    page(
        "suspicious-de",
        "blocked",
        bootstrap(
            "Verdächtige Aktivität",
            "<h1>Verdächtige Aktivität erkannt</h1><p>Von Ihrer IP-Adresse kommen ungewöhnlich "
            "viele Anfragen. Bitte bestätigen Sie, dass Sie ein Mensch sind.</p>",
            lang="de",
        ),
        "generic-block",
        "German suspicious-activity wall",
    )
    page(
        "blocked-fr",
        "blocked",
        bare(
            "Accès bloqué",
            "<h1>Votre accès a été bloqué</h1><p>Notre système de protection a détecté un "
            "comportement anormal. Réessayez plus tard.</p>",
            lang="fr",
        ),
        "generic-block",
        "French block notice",
    )
    page(
        "rate-es",
        "blocked",
        bare(
            "Demasiadas solicitudes",
            "<h1>Demasiadas solicitudes</h1><p>Has realizado demasiadas solicitudes en poco "
            "tiempo. Espera unos minutos e inténtalo de nuevo.</p>",
            lang="es",
        ),
        "generic-block",
        "Spanish rate-limit notice",
    )
    page(
        "denied-pt",
        "blocked",
        bare(
            "Acesso negado",
            "<h1>Acesso negado</h1><p>Você não tem permissão para acessar esta página.</p>",
            lang="pt",
        ),
        "generic-block",
        "Portuguese access denied",
    )
    page(
        "denied-ja",
        "blocked",
        bare(
            "403 Forbidden",
            "<h1>アクセスできません</h1><p>お使いの環境からのアクセスは制限されています。"
            "ロボットではないことを確認してください。</p>",
            lang="ja",
        ),
        "generic-block",
        "Japanese forbidden page",
    )
    page(
        "hcaptcha-es",
        "blocked",
        bare(
            "Verificación",
            '<p>Confirma que eres humano para continuar.</p><form method="post">'
            '<div class="h-captcha" data-sitekey="a1"></div></form>'
            '<script src="https://hcaptcha.com/1/api.js?hl=es"></script>',
            lang="es",
        ),
        "captcha-only",
        "hCaptcha-only page in Spanish",
    )


ARTICLE = [
    "Researchers followed 2,000 households for a year to see how they use energy at home. The "
    "biggest savings came not from new appliances but from changing when the washing machine "
    "and the dishwasher run.",
    "Households on a time-of-use tariff moved about a fifth of their consumption to the night, "
    "which cut their bills by eleven percent on average without any loss of comfort.",
    "The authors warn that the effect may shrink once the novelty wears off, and they plan a "
    "second study that follows the same homes for three more years.",
]


def build_content() -> None:
    page(
        "energy-study",
        "content",
        bootstrap(
            "Study: timing beats new appliances",
            "<h1>Timing beats new appliances</h1>" + "".join(f"<p>{p}</p>" for p in ARTICLE),
        ),
        "article",
        "English article, Bootstrap layout",
    )
    page(
        "wiki-captcha",
        "content",
        wiki(
            "CAPTCHA",
            [
                "A CAPTCHA is a type of challenge–response test used in computing to determine whether "
                "the user is human in order to deter bot attacks and spam.",
                "The term was coined in 2003. Common types ask the user to read distorted text, select "
                "images, or simply tick a box saying 'I'm not a robot'.",
                "Critics argue that CAPTCHAs are an accessibility barrier and that modern solvers defeat "
                "them; many sites now rely on invisible risk analysis instead.",
                "When a site's bot protection blocks a visitor, it often shows a page stating that "
                "unusual traffic was detected from the visitor's network.",
            ],
        ),
        "about-blocks",
        "encyclopedia article about CAPTCHA",
    )
    page(
        "cf-outage-news",
        "content",
        bootstrap(
            "Cloudflare outage left sites showing 'Just a moment' screens",
            "<h1>Outage left sites stuck on challenge screens</h1><p>For about forty minutes on "
            "Tuesday, visitors to thousands of websites saw Cloudflare's 'Just a moment...' page "
            "instead of the content they wanted.</p><p>The company said a configuration change to "
            "its bot management system caused the challenge to fail for real browsers, and rolled "
            "it back.</p><p>Site owners reported a drop in traffic and a spike in support "
            "tickets from users who thought they had been blocked.</p>",
        ),
        "about-blocks",
        "news about a Cloudflare outage quoting the challenge page",
    )
    page(
        "community-1020",
        "content",
        bootstrap(
            "Error 1020 Access Denied when calling my own API - Community",
            "<h1>Error 1020 Access Denied when calling my own API</h1>"
            '<div class="post"><p>Since yesterday my mobile app gets “Error 1020: Access denied” '
            "from our API behind Cloudflare. The browser works fine. I did not change any firewall "
            "rule. What else could trigger it?</p></div>"
            '<div class="post"><p>Check Security → Events in the dashboard: it lists the rule that '
            "blocked each request. Often it is a rate limiting rule or Bot Fight Mode.</p></div>"
            '<div class="post"><p>That was it, Bot Fight Mode. Thanks!</p></div>',
        ),
        "about-blocks",
        "community thread about Cloudflare error 1020",
    )
    page(
        "api-rate-limits",
        "content",
        bootstrap(
            "Rate limits — API reference",
            "<h1>Rate limits</h1><p>Each API key may send 600 requests per minute. When you exceed "
            "the limit, the API answers <code>429 Too Many Requests</code> with a "
            "<code>Retry-After</code> header.</p><p>Back off exponentially and retry after the "
            "given time. Bulk endpoints count as one request per item.</p>"
            "<table><tr><th>Plan</th><th>Requests/min</th></tr><tr><td>Free</td><td>60</td></tr>"
            "<tr><td>Pro</td><td>600</td></tr></table>",
        ),
        "about-blocks",
        "API docs about rate limits",
    )
    page(
        "windows-access-denied",
        "content",
        bootstrap(
            "Fix “Access is denied” on a Windows folder",
            "<h1>Fix “Access is denied” on a Windows folder</h1><ol><li>Right-click the folder and "
            "choose Properties.</li><li>Open the Security tab and click Advanced.</li><li>Change "
            "the owner to your account and tick “Replace owner on subcontainers”.</li></ol><p>If "
            "the folder is on a network share, the share permissions may also deny access; ask "
            "the administrator.</p>",
        ),
        "about-blocks",
        "how-to about Windows access denied",
    )
    page(
        "login-design",
        "content",
        bootstrap(
            "Login page design: 9 patterns that work",
            "<h1>Login page design: 9 patterns that work</h1><p>A good sign-in page asks for as "
            "little as possible: an email first, the password on the next step, and a visible "
            "'Forgot password?' link.</p><p>Show the password rules before the user types, not "
            "after an error. Let password managers fill the fields by using the right autocomplete "
            "attributes.</p><p>Finally, never lock people out after three attempts; slow them down "
            "instead.</p>",
        ),
        "about-blocks",
        "article about login page design",
    )
    page(
        "que-es-404",
        "content",
        bootstrap(
            "¿Qué significa «página no encontrada»?",
            "<h1>¿Qué significa «página no encontrada»?</h1><p>El error 404 indica que el "
            "servidor no encontró la dirección solicitada. Suele deberse a un enlace roto o a una "
            "página que se borró sin redirigirla.</p><p>Para evitarlo, revise los enlaces "
            "internos con regularidad y configure redirecciones 301 cuando cambie una URL.</p>",
            lang="es",
        ),
        "about-blocks",
        "Spanish article about 404 errors",
    )
    page(
        "contact-recaptcha-es",
        "content",
        bootstrap(
            "Contacto",
            "<h1>Contacto</h1><p>¿Tienes una pregunta sobre tu pedido? Escríbenos y te "
            'responderemos en 24 horas.</p><form action="/contacto" method="post">'
            '<input type="text" name="nombre" placeholder="Nombre"><input type="email" '
            'name="correo"><textarea name="mensaje"></textarea><div class="g-recaptcha" '
            'data-sitekey="6Lc1"></div><button>Enviar</button></form>'
            '<script src="https://www.google.com/recaptcha/api.js"></script>',
            lang="es",
        ),
        "captcha-form",
        "Spanish contact form with reCAPTCHA",
    )
    page(
        "comment-hcaptcha",
        "content",
        bootstrap(
            "Ten days in Lisbon",
            "<h1>Ten days in Lisbon</h1><p>We arrived on a rainy Monday and left on a sunny Thursday "
            "ten days later, with a bag full of tins of sardines and a new love for custard tarts."
            "</p><p>The trams are slow and full, so walk: the hills are steep but every corner "
            'opens on a view.</p><h3>Leave a comment</h3><form action="/comment">'
            '<textarea name="c"></textarea><div class="h-captcha" data-sitekey="b2"></div>'
            '<button>Post</button></form><script src="https://hcaptcha.com/1/api.js"></script>',
        ),
        "captcha-form",
        "blog post with an hCaptcha comment form",
    )
    page(
        "zh-poem",
        "content",
        bare(
            "静夜思",
            "<h1>静夜思</h1><p>床前明月光，疑是地上霜。举头望明月，低头思故乡。</p><p>李白</p>",
            lang="zh",
        ),
        "short-article",
        "four-line Chinese poem",
    )
    page(
        "ja-review",
        "content",
        bare(
            "商品レビュー：電気ケトル",
            "<h1>電気ケトルを一か月使ってみた</h1><p>お湯が沸くのが早く、注ぎ口も細いのでコーヒーを"
            "いれるのに便利です。音が少し大きいのが気になりました。</p>",
            lang="ja",
        ),
        "short-article",
        "short Japanese product review",
    )
    page(
        "ko-notice",
        "content",
        bare(
            "공지사항",
            "<h1>설 연휴 배송 안내</h1><p>연휴 기간에는 배송이 일시 중단됩니다. 주문은 평소처럼 "
            "받으며 연휴 후 순차적으로 발송됩니다.</p>",
            lang="ko",
        ),
        "short-article",
        "Korean shipping notice",
    )
    page(
        "ru-recipe",
        "content",
        bare(
            "Блины на молоке",
            "<h1>Блины на молоке</h1><p>Смешайте два яйца, пол-литра молока и стакан муки. "
            "Оставьте тесто на двадцать минут, затем жарьте на горячей сковороде.</p>",
            lang="ru",
        ),
        "short-article",
        "short Russian recipe",
    )
    page(
        "ar-weather",
        "content",
        bare(
            "الطقس اليوم",
            "<h1>طقس معتدل مع رياح خفيفة</h1><p>تتراوح درجات الحرارة بين عشرين وخمس وعشرين درجة "
            "مئوية، مع احتمال سقوط أمطار خفيفة في المساء.</p>",
            lang="ar",
        ),
        "short-article",
        "short Arabic weather report",
    )
    page(
        "he-short",
        "content",
        bare(
            "חדשות",
            "<h1>הספרייה העירונית נפתחת מחדש</h1><p>לאחר שיפוץ של שנה, הספרייה תיפתח מחדש ביום "
            "ראשון עם אגף חדש לילדים.</p>",
            lang="he",
        ),
        "short-article",
        "short Hebrew news item",
    )
    page(
        "de-artikel",
        "content",
        bootstrap(
            "Neue Bahnstrecke eröffnet",
            "<h1>Neue Bahnstrecke eröffnet</h1><p>Nach sieben Jahren Bauzeit fahren seit Sonntag "
            "die ersten Züge auf der neuen Strecke. Die Fahrzeit zwischen den beiden Städten sinkt "
            "von 90 auf 45 Minuten.</p><p>Anwohner hatten lange gegen den Lärm protestiert; nun "
            "sollen Schallschutzwände die Belastung begrenzen.</p>",
            lang="de",
        ),
        "article",
        "German article",
    )
    page(
        "fr-article",
        "content",
        bootstrap(
            "La médiathèque rouvre ses portes",
            "<h1>La médiathèque rouvre ses portes</h1><p>Après dix-huit mois de travaux, la "
            "médiathèque accueille de nouveau le public avec un espace jeux vidéo et un atelier de "
            "réparation.</p><p>L'entrée reste gratuite et les horaires sont élargis le samedi.</p>",
            lang="fr",
        ),
        "article",
        "French article",
    )
    page(
        "pt-article",
        "content",
        bootstrap(
            "Festival de cinema bate recorde",
            "<h1>Festival de cinema bate recorde de público</h1><p>Mais de quarenta mil pessoas "
            "assistiram às sessões ao ar livre, um recorde desde a primeira edição.</p>",
            lang="pt",
        ),
        "short-article",
        "short Portuguese article",
    )
    page(
        "github-like-repo",
        "content",
        bootstrap(
            "example/crawler: A polite crawler",
            "<h1>example/crawler</h1><p>A polite crawler that respects robots.txt.</p>"
            "<ul><li><a href='/example/crawler/tree/main/src'>src</a></li><li>"
            "<a href='/example/crawler/blob/main/README.md'>README.md</a></li></ul>"
            "<article><h2>README</h2><p>Install with pip and run <code>crawl URL</code>. The "
            "crawler waits between requests, honours Crawl-delay and backs off on 429.</p></article>"
            '<p><a href="/login?return_to=/example/crawler">Sign in</a> to star this repository.</p>',
        ),
        "misc",
        "repository page with a sign-in prompt",
    )
    page(
        "grafana-dashboard-doc",
        "content",
        bootstrap(
            "Sign-in options — Admin guide",
            "<h1>Sign-in options</h1><p>Administrators can enable single sign-on with SAML, OAuth "
            "or LDAP. Users then log in with their company account instead of a local password.</p>"
            "<p>To disable the login form entirely, set <code>disable_login_form = true</code> in "
            "the configuration file. Keep one admin account with a password as a fallback.</p>",
        ),
        "login-box",
        "admin docs about sign-in options",
    )
    page(
        "shop-with-login-dropdown",
        "content",
        bootstrap(
            "Running shoes — Brand",
            '<h1>Running shoes</h1><div class="grid">'
            + "".join(
                f'<div class="item"><a href="/p/{i}">Runner {i}</a> €{80 + 5 * i}</div>'
                for i in range(16)
            )
            + '</div><div class="dropdown-menu"><form action="/login" method="post"><input '
            'type="email" name="e"><input type="password" name="p"><button>Log in</button></form>'
            "</div>",
        ),
        "login-box",
        "shop listing with a login dropdown in the markup",
    )


def build_logins() -> None:
    page(
        "login-github-like",
        "login",
        bare(
            "Sign in to CodeHub · CodeHub",
            '<div class="auth-form"><h1>Sign in to CodeHub</h1><form action="/session" '
            'method="post"><label for="login_field">Username or email address</label><input '
            'type="text" name="login" id="login_field" autocomplete="username"><label '
            'for="password">Password</label><input type="password" name="password" id="password">'
            '<a href="/password_reset">Forgot password?</a><input type="submit" value="Sign in">'
            '</form><p>New to CodeHub? <a href="/signup">Create an account</a>.</p></div>',
        ),
        "login-wall",
        "code forge sign-in",
    )
    page(
        "login-ms-like",
        "login",
        bare(
            "Sign in to your account",
            '<div id="lightbox"><div class="logo"></div><div role="heading">Sign in</div>'
            '<input type="email" name="loginfmt" placeholder="Email, phone, or Skype">'
            '<div><a href="/getaccount">No account? Create one!</a></div>'
            '<input type="submit" value="Next"></div>',
        ),
        "login-wall",
        "email-first sign-in (no password field)",
    )
    page(
        "login-jenkins-like",
        "login",
        bare(
            "Sign in [Jenkins]",
            '<div id="main-panel"><h1>Welcome to Jenkins!</h1><form method="post" '
            'action="j_spring_security_check"><input name="j_username" placeholder="Username">'
            '<input name="j_password" type="password" placeholder="Password"><input '
            'type="checkbox" name="remember_me"> Keep me signed in<button>Sign in</button>'
            "</form></div>",
        ),
        "login-wall",
        "CI server sign-in",
    )
    page(
        "login-phpmyadmin-like",
        "login",
        bare(
            "phpMyAdmin",
            '<div class="container"><h1>Welcome to phpMyAdmin</h1><form method="post" '
            'action="index.php" name="login_form"><fieldset><legend>Log in</legend>'
            '<label for="input_username">Username:</label><input type="text" name="pma_username" '
            'id="input_username"><label for="input_password">Password:</label><input '
            'type="password" name="pma_password" id="input_password"></fieldset><input '
            'value="Go" type="submit"></form></div>',
        ),
        "login-wall",
        "database admin login",
    )
    page(
        "login-confluence-like",
        "login",
        bare(
            "Log in - Confluence",
            '<div class="aui-page-panel"><h2>Log in to continue to Confluence</h2><form '
            'id="loginform" method="post" action="/dologin.action"><input type="text" '
            'name="os_username" placeholder="Username"><input type="password" name="os_password" '
            'placeholder="Password"><input type="checkbox" name="os_cookie"> Remember me '
            '<input type="submit" value="Log in"></form><a href="/forgotuserpassword.action">'
            "Unable to access your account?</a></div>",
        ),
        "login-wall",
        "wiki login wall",
    )
    for lang, (title, h, user, pw, btn) in {
        "de": (
            "Einloggen | Kundenportal",
            "Im Kundenportal einloggen",
            "Kundennummer",
            "Kennwort",
            "Einloggen",
        ),
        "es": ("Acceder – Mi cuenta", "Accede a tu cuenta", "Usuario", "Contraseña", "Acceder"),
        "ja": ("会員ログイン", "会員の方はこちらからログイン", "会員ID", "パスワード", "ログイン"),
        "zh": ("账号登录", "账号登录", "手机号/邮箱", "密码", "登录"),
        "ru": ("Вход в личный кабинет", "Вход в личный кабинет", "Логин", "Пароль", "Войти"),
        "pt": ("Acesse sua conta", "Acesse sua conta", "CPF ou e-mail", "Senha", "Acessar"),
        "ko": ("회원 로그인", "회원 로그인", "아이디", "비밀번호", "로그인"),
    }.items():
        page(
            f"login-{lang}",
            "login",
            bootstrap(
                title,
                f'<h1>{h}</h1><form method="post" action="/auth/login"><label>{user}</label>'
                f'<input type="text" name="u"><label>{pw}</label><input type="password" name="p">'
                f"<button>{btn}</button></form>",
                lang=lang,
            ),
            "login-wall",
            f"portal login ({lang})",
        )
    page(
        "login-turnstile",
        "login",
        bare(
            "Log in · Forum",
            '<h1>Log in</h1><form action="/login" method="post"><input type="text" name="user">'
            '<input type="password" name="pass"><div class="cf-turnstile" data-sitekey="0x4"></div>'
            '<button>Log in</button></form><script src="https://challenges.cloudflare.com/'
            'turnstile/v0/api.js"></script>',
        ),
        "login-wall",
        "forum login with a Turnstile widget",
    )


def nf_site(key: str, lang: str, title: str, heading: str, text: str) -> str:
    return bootstrap(
        title,
        f'<div class="text-center"><h1>{heading}</h1><p>{text}</p><a class="btn" href="/">'
        "Home</a></div>",
        lang=lang,
        brand=key.capitalize(),
    )


def build_soft404() -> None:
    sites = [
        (
            "gadgets",
            "en",
            "Oops! — Gadgets",
            "Oops! We can't find that product",
            "It may be sold out or the link may be wrong.",
        ),
        (
            "wander",
            "en",
            "Lost? — Wander Blog",
            "This page has wandered off",
            "Let's get you back on track: try the home page.",
        ),
        (
            "moebel",
            "de",
            "Fehler – Möbelhaus",
            "Die Seite konnte leider nicht gefunden werden",
            "Vielleicht hilft Ihnen unsere Suche weiter.",
        ),
        (
            "maison",
            "fr",
            "Erreur – Maison",
            "Cette page n'existe pas",
            "Elle a peut-être été déplacée ou supprimée.",
        ),
        (
            "tienda",
            "es",
            "Error – Tienda",
            "La página solicitada no está disponible",
            "Comprueba la dirección o vuelve al inicio.",
        ),
        (
            "shouji",
            "zh",
            "出错了 - 手机商城",
            "页面找不到了",
            "您要找的页面可能已被删除或地址有误。",
        ),
        (
            "kaisha",
            "ja",
            "エラー - 株式会社サンプル",
            "ページが存在しません",
            "アドレスをご確認ください。",
        ),
        (
            "magazin",
            "ru",
            "Ошибка — Магазин",
            "404 — Страница не существует",
            "Проверьте адрес или перейдите на главную.",
        ),
    ]
    for key, lang, title, heading, text in sites:
        html = nf_site(key, lang, title, heading, text)
        prefix = f"https://www.{key}.test/catalog/"
        probe(key, prefix, 200, html)
        page(
            f"soft404-{key}",
            "soft_404",
            html,
            "soft-404",
            f"soft 404 ({lang}): {heading}",
            url=f"{prefix}item-2016-old",
        )
        page(
            f"site-page-{key}",
            "content",
            bootstrap(
                f"Catalog — {key.capitalize()}",
                '<h1>Catalog</h1><div class="grid">'
                + "".join(
                    f'<div class="card"><a href="/catalog/{i}">Item {i}</a><p>{ARTICLE[i % 3]}'
                    "</p></div>"
                    for i in range(3)
                )
                + "</div>",
                lang=lang,
                brand=key,
            ),
            "soft-404-site-content",
            f"real catalog page on a site with soft 404s ({lang})",
            url=f"{prefix}index",
        )
    home = bootstrap(
        "News Portal — Start",
        "<h1>Top stories</h1>" + "".join(f"<p>{p}</p>" for p in ARTICLE),
        brand="Portal",
    )
    probe(
        "portal", "https://www.portal.test/news/", 200, home, final_url="https://www.portal.test/"
    )
    page(
        "soft404-portal-redirect",
        "soft_404",
        home,
        "soft-404",
        "missing page redirected to the home page",
        url="https://www.portal.test/news/2015/x",
        final_url="https://www.portal.test/",
    )
    for lang, title, heading in [
        ("it", "Errore 404", "Pagina non trovata"),
        ("en", "404 | Docs", "404: This page could not be found"),
        ("ko", "오류", "요청하신 페이지를 찾을 수 없습니다"),
    ]:
        page(
            f"soft404-noprobe-{lang}",
            "soft_404",
            bare(title, f"<h1>{heading}</h1>", lang=lang),
            "soft-404-no-probe",
            f"minimal not-found page, no probe ({lang})",
            url=f"https://www.noprobe-{lang}.test/x/y",
        )


def main() -> None:
    build_blocks()
    build_content()
    build_logins()
    build_soft404()
    urls = [p["url"] for p in PAGES]
    assert len(urls) == len(set(urls)), "urls must be unique"
    for old in OUT.glob("*.html"):
        old.unlink()
    for file, html in FILES.items():
        (OUT / file).write_text(html, encoding="utf-8")
    with (OUT / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for entry in PAGES:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    with (OUT / "probes.jsonl").open("w", encoding="utf-8") as fh:
        for entry in PROBES:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for entry in PAGES:
        counts[entry["label"]] = counts.get(entry["label"], 0) + 1
    print(f"{len(PAGES)} pages, {len(PROBES)} probes: {counts}")


if __name__ == "__main__":
    main()
