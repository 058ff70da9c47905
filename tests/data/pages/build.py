"""Writes the labelled page set: ``python tests/data/pages/build.py`` (deterministic).

Every page is a look-alike written for this set: block pages in the style of each vendor's
public block/challenge page (the structure docs/blocks.md describes), login walls, "page not
found" pages served with 200 (with the answer each site gives to a URL that cannot exist, in
probes.jsonl), and content pages, with hard negatives: articles *about* captchas, WAFs and HTTP
errors, contact forms with a captcha widget, short articles in CJK, Cyrillic and Arabic, docs
pages that quote "access denied" errors, pages with a sign-in box in the sidebar.

``labels.jsonl``: one object a page — file, label (content | blocked | login | soft_404),
status, url, headers, group (what kind of page it is, for the per-group table), note.
The held-out set in ../pages_holdout is written by a different script with other templates and
wording, and is never used to tune the rules.
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


def add(
    name: str,
    label: str,
    html: str,
    *,
    group: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    url: str = "",
    note: str = "",
) -> None:
    file = f"{name}.html"
    assert file not in FILES, file
    FILES[file] = html
    PAGES.append(
        {
            "file": file,
            "label": label,
            "status": status,
            "url": url or f"http://{name}.example/",
            "headers": headers or {},
            "group": group,
            "note": note,
        }
    )


def probe(site: str, prefix_url: str, status: int, html: str, final_url: str = "") -> None:
    file = f"probe-{site}.html"
    FILES[file] = html
    PROBES.append({"url": prefix_url, "status": status, "file": file, "final_url": final_url})


# -- site chrome ------------------------------------------------------------------------------

NAV = {
    "en": ["Home", "News", "Sport", "Business", "Culture", "Travel", "Contact", "Sign in"],
    "de": ["Startseite", "Nachrichten", "Sport", "Wirtschaft", "Kultur", "Reisen", "Anmelden"],
    "fr": ["Accueil", "Actualités", "Sport", "Économie", "Culture", "Voyage", "Connexion"],
    "es": ["Inicio", "Noticias", "Deportes", "Economía", "Cultura", "Viajes", "Iniciar sesión"],
    "pt": ["Início", "Notícias", "Esportes", "Economia", "Cultura", "Viagem", "Entrar"],
    "it": ["Home", "Notizie", "Sport", "Economia", "Cultura", "Viaggi", "Accedi"],
    "ru": ["Главная", "Новости", "Спорт", "Экономика", "Культура", "Путешествия", "Войти"],
    "ja": ["ホーム", "ニュース", "スポーツ", "経済", "文化", "旅行", "ログイン"],
    "zh": ["首页", "新闻", "体育", "财经", "文化", "旅游", "登录"],
    "ko": ["홈", "뉴스", "스포츠", "경제", "문화", "여행", "로그인"],
    "ar": ["الرئيسية", "أخبار", "رياضة", "اقتصاد", "ثقافة", "سفر", "تسجيل الدخول"],
    "pl": ["Start", "Wiadomości", "Sport", "Biznes", "Kultura", "Podróże", "Zaloguj się"],
}
FOOTER = {
    "en": "© 2024 Example Media. Privacy policy · Terms of use · Cookie settings",
    "de": "© 2024 Beispiel Verlag. Datenschutz · Impressum · Cookie-Einstellungen",
    "fr": "© 2024 Exemple Médias. Confidentialité · Mentions légales · Cookies",
    "es": "© 2024 Ejemplo Medios. Privacidad · Aviso legal · Cookies",
    "pt": "© 2024 Exemplo Mídia. Privacidade · Termos de uso · Cookies",
    "it": "© 2024 Esempio Media. Privacy · Note legali · Cookie",
    "ru": "© 2024 Пример Медиа. Политика конфиденциальности · Условия использования",
    "ja": "© 2024 サンプルメディア 個人情報保護方針・利用規約",
    "zh": "© 2024 示例传媒 隐私政策 · 使用条款",
    "ko": "© 2024 예시 미디어 개인정보처리방침 · 이용약관",
    "ar": "© 2024 مثال للإعلام. سياسة الخصوصية · شروط الاستخدام",
    "pl": "© 2024 Przykład Media. Polityka prywatności · Regulamin",
}


def chrome(lang: str, title: str, main: str, *, head: str = "", nav: bool = True) -> str:
    links = ""
    if nav:
        items = NAV.get(lang, NAV["en"])
        links = "".join(
            f'<li><a href="/{i}/{w.lower().replace(" ", "-")}">{w}</a></li>'
            for i, w in enumerate(items)
        )
        links = f'<header><a class="logo" href="/">Example</a><nav><ul>{links}</ul></nav></header>'
    foot = FOOTER.get(lang, FOOTER["en"])
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title>"
        f'<link rel="stylesheet" href="/static/site.css">{head}</head>'
        f"<body>{links}<main>{main}</main>"
        f'<footer><p>{foot}</p><a href="/about">About</a> <a href="/rss">RSS</a></footer>'
        f'<script src="/static/app.js"></script></body></html>'
    )


def paras(*texts: str) -> str:
    return "".join(f"<p>{t}</p>" for t in texts)


# -- prose per language (content pages) -------------------------------------------------------

PROSE = {
    "en": [
        "The city council approved the new cycling plan on Tuesday after a debate that lasted "
        "almost four hours. Supporters said the network of protected lanes would make the centre "
        "safer for children walking to school, while shop owners worried about deliveries.",
        "Work on the first section along the river is expected to begin in the spring. The "
        "council will publish a map of the routes next month and invite residents to comment on "
        "the crossings, the parking changes and the timing of the works.",
        "Similar schemes in other cities have cut traffic injuries by a third within two years, "
        "according to a study published last autumn by the national transport institute.",
        "Critics point out that the budget does not include maintenance, and that winter "
        "clearing of the new lanes will need extra staff that the city has not yet hired.",
    ],
    "de": [
        "Der Stadtrat hat am Dienstag nach einer fast vierstündigen Debatte den neuen Radverkehrsplan "
        "beschlossen. Befürworter sagen, geschützte Radwege machten den Schulweg sicherer, "
        "Ladenbesitzer sorgen sich dagegen um die Anlieferung.",
        "Die Arbeiten am ersten Abschnitt entlang des Flusses sollen im Frühjahr beginnen. Im "
        "nächsten Monat veröffentlicht die Stadt eine Karte der Routen und bittet um Hinweise.",
        "In anderen Städten sind die Unfallzahlen nach ähnlichen Projekten innerhalb von zwei "
        "Jahren um ein Drittel gesunken, wie eine Studie des Verkehrsinstituts zeigt.",
    ],
    "fr": [
        "Le conseil municipal a adopté mardi le nouveau plan vélo après un débat de près de "
        "quatre heures. Ses partisans estiment que les pistes protégées rendront le centre plus "
        "sûr pour les écoliers, tandis que les commerçants s'inquiètent des livraisons.",
        "Les travaux du premier tronçon le long du fleuve devraient commencer au printemps. La "
        "ville publiera le mois prochain une carte des itinéraires et consultera les habitants.",
        "Des projets comparables ont réduit d'un tiers le nombre de blessés en deux ans dans "
        "d'autres villes, selon une étude publiée l'automne dernier.",
    ],
    "es": [
        "El ayuntamiento aprobó el martes el nuevo plan de movilidad ciclista tras un debate de "
        "casi cuatro horas. Sus defensores aseguran que los carriles protegidos harán el centro "
        "más seguro, mientras que los comerciantes temen por el reparto de mercancías.",
        "Las obras del primer tramo junto al río comenzarán en primavera. El consistorio "
        "publicará el mes que viene un mapa de las rutas y abrirá un periodo de alegaciones.",
        "Proyectos similares en otras ciudades redujeron los heridos en un tercio en dos años.",
    ],
    "pt": [
        "A câmara municipal aprovou na terça-feira o novo plano de ciclovias depois de um debate "
        "de quase quatro horas. Os defensores dizem que as faixas protegidas vão tornar o centro "
        "mais seguro, enquanto os comerciantes se preocupam com as entregas.",
        "As obras do primeiro trecho junto ao rio devem começar na primavera. A prefeitura vai "
        "publicar no próximo mês um mapa das rotas e ouvir os moradores.",
        "Projetos semelhantes em outras cidades reduziram os feridos em um terço em dois anos.",
    ],
    "it": [
        "Il consiglio comunale ha approvato martedì il nuovo piano per le biciclette dopo un "
        "dibattito di quasi quattro ore. I sostenitori dicono che le corsie protette renderanno "
        "il centro più sicuro, mentre i commercianti temono per le consegne.",
        "I lavori del primo tratto lungo il fiume dovrebbero iniziare in primavera.",
    ],
    "ru": [
        "Городской совет во вторник утвердил новый план развития велосипедной инфраструктуры "
        "после почти четырёхчасового обсуждения. Сторонники считают, что защищённые полосы "
        "сделают центр безопаснее для школьников, а владельцы магазинов опасаются за доставку.",
        "Работы на первом участке вдоль реки начнутся весной. В следующем месяце мэрия "
        "опубликует карту маршрутов и предложит жителям высказаться.",
        "По данным исследования транспортного института, в других городах подобные проекты "
        "за два года сократили число пострадавших на треть.",
    ],
    "ja": [
        "市議会は火曜日、約四時間の審議の末に新しい自転車計画を承認した。賛成派は保護された自転車道で"
        "通学路が安全になると述べ、商店主は配送への影響を心配している。",
        "川沿いの最初の区間の工事は春に始まる予定だ。市は来月、ルートの地図を公開し、住民から意見を募る。",
        "国の交通研究所が昨年秋に発表した調査によると、他の都市では同様の計画で二年以内に負傷者が三分の一減った。",
    ],
    "zh": [
        "市议会周二在经过近四个小时的辩论后批准了新的自行车道计划。支持者认为，受保护的车道将使孩子们"
        "上学的路更加安全，而商店老板则担心送货问题。",
        "沿河第一段的施工预计将于春季开始。市政府将在下个月公布路线图，并征求居民意见。",
        "据国家交通研究所去年秋天发表的一项研究，其他城市的类似计划在两年内使受伤人数减少了三分之一。",
    ],
    "ko": [
        "시의회는 화요일 약 네 시간의 토론 끝에 새로운 자전거 도로 계획을 승인했다. 찬성 측은 보호된 "
        "차로가 통학길을 더 안전하게 만들 것이라고 말했고, 상인들은 배송 문제를 걱정했다.",
        "강변을 따라 첫 구간 공사는 봄에 시작될 예정이다. 시는 다음 달 노선 지도를 공개하고 주민 의견을 "
        "받을 계획이다.",
    ],
    "ar": [
        "وافق المجلس البلدي يوم الثلاثاء على خطة الدراجات الجديدة بعد نقاش استمر قرابة أربع ساعات. "
        "ويقول المؤيدون إن المسارات المحمية ستجعل وسط المدينة أكثر أماناً للأطفال.",
        "ومن المتوقع أن تبدأ الأعمال في المقطع الأول على طول النهر في الربيع.",
    ],
    "pl": [
        "Rada miasta we wtorek zatwierdziła nowy plan dróg rowerowych po niemal czterogodzinnej "
        "debacie. Zwolennicy mówią, że chronione pasy poprawią bezpieczeństwo dzieci.",
        "Prace na pierwszym odcinku wzdłuż rzeki mają rozpocząć się wiosną.",
    ],
}
TITLES = {
    "en": "Council approves cycling plan",
    "de": "Stadtrat beschließt Radverkehrsplan",
    "fr": "Le conseil adopte le plan vélo",
    "es": "El ayuntamiento aprueba el plan ciclista",
    "pt": "Câmara aprova plano de ciclovias",
    "it": "Il consiglio approva il piano bici",
    "ru": "Совет утвердил план велодорожек",
    "ja": "市議会、自転車計画を承認",
    "zh": "市议会批准自行车道计划",
    "ko": "시의회, 자전거 도로 계획 승인",
    "ar": "المجلس يوافق على خطة الدراجات",
    "pl": "Rada zatwierdza plan rowerowy",
}


# -- content ----------------------------------------------------------------------------------


def content_pages() -> None:
    for lang, texts in PROSE.items():
        title = TITLES[lang]
        add(
            f"article-{lang}",
            "content",
            chrome(lang, title, f"<article><h1>{title}</h1>{paras(*texts)}</article>"),
            group="article",
            note=f"news article ({lang})",
        )
        # The same story cut to its first paragraph: short articles stay content.
        add(
            f"short-{lang}",
            "content",
            chrome(lang, title, f"<article><h1>{title}</h1>{paras(texts[0])}</article>"),
            group="short-article",
            note=f"one-paragraph article ({lang})",
        )
    # Short CJK / Cyrillic / Arabic notes without site chrome (a feed item, an embedded page).
    for lang in ("ja", "zh", "ko", "ru", "ar"):
        title = TITLES[lang]
        add(
            f"bare-short-{lang}",
            "content",
            f'<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><p>{PROSE[lang][1]}</p></body></html>",
            group="short-article",
            note=f"bare short article ({lang}), no navigation",
        )
    for lang, title, text in (
        (
            "el",
            "Νέος ποδηλατόδρομος",
            "Το δημοτικό συμβούλιο ενέκρινε την Τρίτη το νέο σχέδιο για "
            "τους ποδηλατοδρόμους μετά από τετράωρη συζήτηση.",
        ),
        (
            "th",
            "สภาเมืองอนุมัติแผนทางจักรยาน",
            "สภาเมืองอนุมัติแผนทางจักรยานใหม่เมื่อวันอังคาร หลังการอภิปรายเกือบสี่ชั่วโมง",
        ),
        (
            "vi",
            "Hội đồng thành phố duyệt kế hoạch làn xe đạp",
            "Hội đồng thành phố đã phê duyệt "
            "kế hoạch làn xe đạp mới vào thứ Ba sau gần bốn giờ thảo luận.",
        ),
    ):
        add(
            f"bare-short-{lang}",
            "content",
            f'<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>'
            f"<body><h1>{title}</h1><p>{text}</p></body></html>",
            group="short-article",
            note=f"bare one-sentence article ({lang}), added after tuning",
        )
    hard_negatives()
    misc_content()


CAPTCHA_ARTICLE = [
    "A CAPTCHA is a test that tries to tell people from programs. The first ones asked visitors to "
    "type distorted letters; later versions asked them to pick the squares with traffic lights.",
    "Today most sites use invisible checks. Google's reCAPTCHA v3 scores each request in the "
    "background, Cloudflare's Turnstile runs a short proof of work, and hCaptcha pays site owners "
    "for the labelling work their visitors do.",
    "When the check fails, visitors see a page that asks them to verify you are human, or an "
    "'Access denied' message with a reference number. Accessibility groups have long criticised "
    "such pages because screen readers cannot solve image puzzles.",
    "Researchers at several universities have shown that machine-learning models now solve the "
    "classic text puzzles more reliably than people do, which is why vendors moved to behavioural "
    "signals such as mouse movement, timing and browser fingerprints.",
]
WAF_ARTICLE = [
    "A web application firewall sits between visitors and a site and inspects every request. "
    "Cloudflare, Akamai, Imperva and AWS WAF all sell managed rule sets that block SQL injection "
    "and cross-site scripting attempts before they reach the application.",
    "When a rule matches, the firewall answers with HTTP 403 Forbidden and a block page. "
    "Cloudflare's says 'Sorry, you have been blocked' and shows a Ray ID; Akamai's says 'Access "
    "Denied' with a reference number such as #18.2f3c1d17.1699999999.4a5b6c7.",
    "False positives are the main cost of a WAF. Administrators should log blocked requests for a "
    "week in a monitoring mode before they switch the rules to blocking.",
    "Rate limiting is a separate feature: it answers 429 Too Many Requests when one client sends "
    "more requests than allowed in a window, and usually adds a Retry-After header.",
]
HTTP403_ARTICLE = [
    "HTTP 403 Forbidden means the server understood the request but refuses to authorise it. "
    "Unlike 401 Unauthorized, logging in will not help: the client does not have permission to "
    "access the resource at all.",
    "Common causes are wrong file permissions, a missing index file with directory listing "
    "disabled, an IP address on a deny list, or a firewall rule. On Apache the message reads "
    "'You don't have permission to access this resource.'",
    "To fix it, check the server's error log first; it names the rule or the path that was "
    "refused. Then check the ownership of the document root and any .htaccess files.",
]
NOT_FOUND_ARTICLE = [
    "A 404 error means the server could not find the requested page. A good 404 page tells "
    "visitors what happened, offers a search box and links to popular sections, and — this is "
    "the part many sites get wrong — is served with status 404 rather than 200.",
    "Pages that say 'page not found' but answer 200 are called soft 404s. Search engines treat "
    "them as errors anyway, and crawlers waste their budget on them.",
    "Bar-Yossef and colleagues measured in 2004 that a large share of dead links on the web lead "
    "to such pages, and proposed probing a random URL on the same site to recognise them.",
]


def hard_negatives() -> None:
    add(
        "about-captcha",
        "content",
        chrome(
            "en",
            "How CAPTCHAs work, and why they are getting harder",
            f"<article><h1>How CAPTCHAs work</h1>{paras(*CAPTCHA_ARTICLE)}</article>",
        ),
        group="about-blocks",
        note="long article about captchas",
    )
    add(
        "about-captcha-short",
        "content",
        chrome(
            "en",
            "Are you a robot? A short history of the CAPTCHA",
            f"<article><h1>Are you a robot?</h1>{paras(*CAPTCHA_ARTICLE[:2])}</article>",
        ),
        group="about-blocks",
        note="short article about captchas, block phrase in the title",
    )
    add(
        "about-waf",
        "content",
        chrome(
            "en",
            "What a web application firewall does",
            f"<article><h1>Web application firewalls explained</h1>{paras(*WAF_ARTICLE)}</article>",
        ),
        group="about-blocks",
        note="article about WAFs quoting Cloudflare and Akamai block pages",
    )
    add(
        "about-403",
        "content",
        chrome(
            "en",
            "403 Forbidden: what it means and how to fix it",
            f"<article><h1>403 Forbidden</h1>{paras(*HTTP403_ARTICLE)}</article>",
        ),
        group="about-blocks",
        note="article about HTTP 403, '403' and 'forbidden' in the title",
    )
    add(
        "about-404",
        "content",
        chrome(
            "en",
            "Designing a good 404 page",
            f"<article><h1>Designing a good 404 page</h1>{paras(*NOT_FOUND_ARTICLE)}</article>",
        ),
        group="about-blocks",
        note="article about 404 pages and soft 404s",
    )
    add(
        "about-access-denied-docs",
        "content",
        chrome(
            "en",
            "Troubleshooting: Access denied errors — Docs",
            "<h1>Troubleshooting “Access denied” errors</h1>"
            + paras(
                "If the CLI prints <code>Error: access denied (403)</code>, your token lacks "
                "the <code>storage:write</code> scope. Create a new token in the dashboard.",
                "If you see <code>AccessDenied: User is not authorized to perform "
                "s3:GetObject</code>, the bucket policy does not grant your role read access.",
                "Requests from CI may be blocked by the firewall if the runner's IP address is "
                "not on the allow list; ask an administrator to add it.",
            )
            + "<pre>$ tool push\nError: access denied (403)\n</pre>"
            + "<h2>Related</h2><ul><li><a href='/docs/tokens'>Tokens</a></li>"
            "<li><a href='/docs/roles'>Roles</a></li></ul>",
        ),
        group="about-blocks",
        note="docs page quoting access-denied errors",
    )
    add(
        "about-captcha-de",
        "content",
        chrome(
            "de",
            "Wie CAPTCHAs funktionieren",
            "<article><h1>Sind Sie ein Roboter? Wie CAPTCHAs funktionieren</h1>"
            + paras(
                "Ein CAPTCHA soll Menschen von Programmen unterscheiden. Früher mussten "
                "Besucher verzerrte Buchstaben abtippen, heute genügt oft ein Klick auf das "
                "Kästchen „Ich bin kein Roboter“.",
                "Scheitert die Prüfung, zeigt die Seite eine Meldung wie „Zugriff verweigert“. "
                "Verbände für Barrierefreiheit kritisieren solche Seiten seit Jahren, weil "
                "Screenreader Bildrätsel nicht lösen können.",
                "Forscher haben gezeigt, dass Programme die klassischen Texträtsel inzwischen "
                "zuverlässiger lösen als Menschen.",
            )
            + "</article>",
        ),
        group="about-blocks",
        note="German article about captchas with block phrases",
    )
    add(
        "about-block-ru",
        "content",
        chrome(
            "ru",
            "Почему сайты пишут «Доступ запрещён»",
            "<article><h1>Почему сайты пишут «Доступ запрещён»</h1>"
            + paras(
                "Сообщение «Доступ запрещён» с кодом 403 означает, что сервер понял запрос, "
                "но отказывается его выполнять. Чаще всего причина — правило файрвола или "
                "блокировка по IP-адресу.",
                "Иногда вместо этого сайт просит подтвердить, что вы не робот, и показывает "
                "капчу. Так защищаются от ботов, которые перебирают пароли.",
                "Если вы владелец сайта, проверьте журнал ошибок сервера: там указано правило, "
                "сработавшее на запрос.",
            )
            + "</article>",
        ),
        group="about-blocks",
        note="Russian article about 403 and captchas",
    )
    add(
        "about-captcha-ja",
        "content",
        chrome(
            "ja",
            "CAPTCHAの仕組み",
            "<article><h1>「ロボットではありません」の仕組み</h1>"
            + paras(
                "CAPTCHAは人間とプログラムを見分けるためのテストだ。かつてはゆがんだ文字を入力させたが、"
                "今はチェックボックスを押すだけのものが多い。",
                "確認に失敗すると「アクセスが拒否されました」という画面が表示される。視覚障害者の団体は、"
                "画像パズルを読み上げソフトで解けないと批判している。",
            )
            + "</article>",
        ),
        group="about-blocks",
        note="Japanese article about captchas with block phrases",
    )
    for i, lang in enumerate(("en", "de", "fr")):
        contact = {
            "en": ("Contact us", "Your name", "Your message", "Send"),
            "de": ("Kontakt", "Ihr Name", "Ihre Nachricht", "Senden"),
            "fr": ("Contactez-nous", "Votre nom", "Votre message", "Envoyer"),
        }[lang]
        widget = [
            '<div class="g-recaptcha" data-sitekey="6Lc_example"></div>'
            '<script src="https://www.google.com/recaptcha/api.js" async defer></script>',
            '<div class="h-captcha" data-sitekey="10000000-ffff"></div>'
            '<script src="https://js.hcaptcha.com/1/api.js" async defer></script>',
            '<div class="cf-turnstile" data-sitekey="0x4AAA"></div>'
            '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js" async></script>',
        ][i]
        add(
            f"contact-captcha-{lang}",
            "content",
            chrome(
                lang,
                contact[0],
                f"<h1>{contact[0]}</h1>{paras(PROSE[lang][0])}"
                f'<form action="/contact" method="post"><label>{contact[1]} '
                f'<input type="text" name="name"></label><label>Email '
                f'<input type="email" name="email"></label><label>{contact[2]}'
                f'<textarea name="msg"></textarea></label>{widget}'
                f"<button>{contact[3]}</button></form>",
            ),
            group="captcha-form",
            note=f"contact form with a captcha widget ({lang})",
        )
    add(
        "newsletter-captcha",
        "content",
        chrome(
            "en",
            "Subscribe to the weekly digest",
            "<h1>The weekly digest</h1>"
            + paras("Every Friday: the five stories you should not have missed.")
            + '<form action="/subscribe"><input type="email" name="email" placeholder="Email">'
            '<div class="g-recaptcha" data-sitekey="6Lc_x"></div><button>Subscribe</button>'
            '</form><script src="https://www.google.com/recaptcha/api.js"></script>',
        ),
        group="captcha-form",
        note="newsletter sign-up with reCAPTCHA, little text",
    )
    for lang in ("en", "de", "ru", "ja"):
        sidebar = {
            "en": ("Member login", "Username", "Password", "Forgot your password?", "Log in"),
            "de": ("Mitglieder", "Benutzername", "Passwort", "Passwort vergessen?", "Anmelden"),
            "ru": ("Вход", "Логин", "Пароль", "Забыли пароль?", "Войти"),
            "ja": ("会員ログイン", "ユーザー名", "パスワード", "パスワードを忘れた方", "ログイン"),
        }[lang]
        add(
            f"sidebar-login-{lang}",
            "content",
            chrome(
                lang,
                TITLES[lang],
                f"<article><h1>{TITLES[lang]}</h1>{paras(*PROSE[lang])}</article>"
                f'<aside><h3>{sidebar[0]}</h3><form action="/login" method="post">'
                f'<input type="text" name="user" placeholder="{sidebar[1]}">'
                f'<input type="password" name="pass" placeholder="{sidebar[2]}">'
                f'<a href="/reset">{sidebar[3]}</a><button>{sidebar[4]}</button></form>'
                "</aside>",
            ),
            group="login-box",
            note=f"article with a sign-in box in the sidebar ({lang})",
        )
    add(
        "cloudflare-served-article",
        "content",
        chrome(
            "en",
            TITLES["en"],
            f"<article><h1>{TITLES['en']}</h1>{paras(*PROSE['en'][:2])}</article>",
            head="<script>(function(){var js=document.createElement('script');js.src="
            "'/cdn-cgi/challenge-platform/scripts/jsd/main.js';document.head.appendChild(js);"
            "})();</script>",
        ),
        headers={
            "server": "cloudflare",
            "cf-ray": "8a1b2c3d4e5f6a7b-FRA",
            "set-cookie": "__cf_bm=abc; path=/; HttpOnly",
        },
        group="vendor-served",
        note="ordinary page behind Cloudflare with its JavaScript-detections script",
    )
    add(
        "akamai-served-article",
        "content",
        chrome(
            "de", TITLES["de"], f"<article><h1>{TITLES['de']}</h1>{paras(*PROSE['de'])}</article>"
        ),
        headers={"server": "AkamaiGHost", "set-cookie": "_abck=xyz; bm_sz=1"},
        group="vendor-served",
        note="ordinary page served by Akamai with Bot Manager cookies",
    )
    add(
        "datadome-served-shop",
        "content",
        chrome(
            "fr",
            "Chaussures de randonnée — Boutique",
            "<h1>Chaussures de randonnée</h1>"
            + "".join(
                f'<div class="product"><a href="/p/{i}">Modèle {i}</a> '
                f"<span>{89 + i} €</span></div>"
                for i in range(12)
            )
            + paras(PROSE["fr"][0]),
        ),
        headers={"x-datadome": "protected", "set-cookie": "datadome=abc; Path=/"},
        group="vendor-served",
        note="shop listing behind DataDome (cookie and header, no block)",
    )
    add(
        "noscript-notice-article",
        "content",
        chrome(
            "en",
            TITLES["en"],
            f"<article><h1>{TITLES['en']}</h1>{paras(*PROSE['en'])}"
            "<noscript>Please enable JavaScript to view the comments.</noscript></article>",
        ),
        group="article",
        note="article with a noscript notice",
    )


def misc_content() -> None:
    add(
        "product-page",
        "content",
        chrome(
            "en",
            "Trail Runner 3 — Example Shop",
            "<h1>Trail Runner 3</h1><p class='price'>$129.00</p>"
            + paras(
                "Lightweight trail shoe with a grippy outsole and a rock plate. "
                "Drop 6 mm, weight 280 g (size 9).",
                "Free returns within 30 days. Ships in 2–3 business days.",
            )
            + "<ul><li>Upper: recycled mesh</li><li>Sole: Vibram Megagrip</li></ul>"
            + '<form action="/cart"><select name="size"><option>8</option><option>9</option>'
            "</select><button>Add to cart</button></form>",
        ),
        group="misc",
        note="product page, little prose",
    )
    add(
        "forum-thread",
        "content",
        chrome(
            "en",
            "Help: crawler gets 403 from my own site — Forum",
            "<h1>Help: crawler gets 403 from my own site</h1>"
            + "".join(
                f'<div class="post"><b>user{i}</b><p>{t}</p></div>'
                for i, t in enumerate(
                    [
                        "My monitoring script gets 'Access denied' from our own shop since we "
                        "moved behind the CDN. Browsers are fine. Any idea?",
                        "The bot protection is probably challenging it. Add the script's IP to "
                        "the allow list or send it with a token header.",
                        "Thanks, that was it. The firewall log showed the requests as automated.",
                    ]
                )
            ),
        ),
        group="about-blocks",
        note="forum thread about being blocked",
    )
    add(
        "search-results",
        "content",
        chrome(
            "en",
            "Search: cycling plan — Example",
            "<h1>12 results for “cycling plan”</h1>"
            + "".join(
                f'<div class="hit"><a href="/news/{i}">Cycling plan update {i}</a>'
                f"<p>{PROSE['en'][i % 4][:140]}…</p></div>"
                for i in range(8)
            ),
        ),
        group="misc",
        note="search result page",
    )
    add(
        "zh-list",
        "content",
        chrome(
            "zh",
            "新闻列表",
            "<h1>最新新闻</h1><ul>"
            + "".join(
                f'<li><a href="/n/{i}">{t}</a></li>'
                for i, t in enumerate(
                    [
                        "市议会批准自行车道计划",
                        "春季施工即将开始",
                        "交通研究所发布报告",
                        "居民可在线提交意见",
                    ]
                )
            )
            + "</ul>",
        ),
        group="short-article",
        note="Chinese list page with little text",
    )
    add(
        "ja-short-notice",
        "content",
        chrome(
            "ja",
            "お知らせ",
            "<h1>年末年始の営業について</h1><p>12月29日から1月3日まで休業いたします。"
            "ご不便をおかけしますが、よろしくお願いいたします。</p>",
        ),
        group="short-article",
        note="Japanese short notice",
    )
    add(
        "ru-short-news",
        "content",
        chrome(
            "ru",
            "Короткая новость",
            "<h1>Мост закроют на ремонт</h1><p>С понедельника движение по мосту будет "
            "ограничено на две недели. Объезд организован по соседней улице.</p>",
        ),
        group="short-article",
        note="Russian two-sentence news item",
    )
    add(
        "ar-short-news",
        "content",
        chrome(
            "ar",
            "خبر قصير",
            "<h1>إغلاق الجسر للصيانة</h1><p>سيغلق الجسر أمام حركة المرور لمدة أسبوعين "
            "ابتداءً من يوم الاثنين.</p>",
        ),
        group="short-article",
        note="Arabic two-sentence news item",
    )
    add(
        "ko-short-news",
        "content",
        chrome(
            "ko",
            "짧은 소식",
            "<h1>다리 보수 공사로 통행 제한</h1><p>월요일부터 2주 동안 다리 통행이 제한된다.</p>",
        ),
        group="short-article",
        note="Korean one-sentence news item",
    )
    add(
        "login-help-article",
        "content",
        chrome(
            "en",
            "How to reset your password — Help centre",
            "<h1>How to reset your password</h1>"
            + paras(
                "If you forgot your password, click 'Forgot your password?' on the sign "
                "in page and enter the email address of your account.",
                "We send a link that is valid for one hour. If it does not arrive, check "
                "your spam folder or contact support.",
                "For security reasons we never send passwords by email.",
            ),
        ),
        group="login-box",
        note="help article about signing in (no form)",
    )
    add(
        "photo-gallery",
        "content",
        chrome(
            "en",
            "Photos: the new river path",
            "<h1>Photos: the new river path</h1>"
            + "".join(
                f'<figure><img src="/img/{i}.jpg" alt="River path {i}">'
                f"<figcaption>Section {i}</figcaption></figure>"
                for i in range(10)
            ),
        ),
        group="misc",
        note="gallery: images, almost no text",
    )


# -- block pages (look-alikes of each vendor's public page structure) ------------------------


def cloudflare_challenge(host: str, lang: str, title: str, running: str, body_text: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><title>{title}</title>'
        '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">'
        '<meta name="robots" content="noindex,nofollow">'
        '<link href="/cdn-cgi/styles/challenges.css" rel="stylesheet"></head>'
        '<body class="no-js"><div class="main-wrapper" role="main"><div class="main-content">'
        f'<h1 class="zone-name-title h1">{host}</h1>'
        f'<h2 class="h2" id="challenge-running">{running}</h2>'
        '<noscript><div id="challenge-error-title"><div class="h2"><span id="challenge-error-text">'
        "Enable JavaScript and cookies to continue</span></div></div></noscript>"
        f'<div id="challenge-body-text" class="core-msg spacer">{body_text}</div>'
        '<form id="challenge-form" action="/?__cf_chl_f_tk=Zx9k2mPq" method="POST">'
        '<input type="hidden" name="md" value="abc"></form></div></div>'
        "<script>(function(){window._cf_chl_opt={cvId:'3',cZone:'" + host + "',cType:'managed',"
        "cRay:'8a1b2c3d4e5f6a7b'};var cpo=document.createElement('script');"
        "cpo.src='/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=8a1b2c3d4e5f6a7b';"
        "document.getElementsByTagName('head')[0].appendChild(cpo);}());</script>"
        '<div class="footer" role="contentinfo"><div class="footer-inner">'
        '<div class="clearfix diagnostic-wrapper"><div class="ray-id">Ray ID: '
        "<code>8a1b2c3d4e5f6a7b</code></div></div>"
        '<div class="text-center">Performance &amp; security by '
        '<a rel="noopener noreferrer" href="https://www.cloudflare.com">Cloudflare</a></div>'
        "</div></div></body></html>"
    )


def cloudflare_block(host: str, code: str, h1: str, h2: str, why: str) -> str:
    return (
        '<!DOCTYPE html><html class="no-js" lang="en-US"><head>'
        f"<title>Attention Required! | Cloudflare</title>"
        '<meta charset="UTF-8"><link rel="stylesheet" id="cf_styles-css" '
        'href="/cdn-cgi/styles/cf.errors.css"></head><body>'
        '<div id="cf-wrapper"><div id="cf-error-details" class="cf-error-details-wrapper">'
        f'<div class="cf-wrapper cf-header cf-error-overview"><h1 data-translate="block_headline">'
        f'{h1}</h1><h2 class="cf-subheadline">{h2}</h2></div>'
        '<div class="cf-section cf-wrapper"><div class="cf-columns two"><div class="cf-column">'
        f'<h2 data-translate="blocked_why_headline">Why have I been blocked?</h2><p>{why}</p>'
        '</div><div class="cf-column"><h2>What can I do to resolve this?</h2>'
        "<p>You can email the site owner to let them know you were blocked. Please include what "
        "you were doing when this page came up and the Cloudflare Ray ID found at the bottom of "
        "this page.</p></div></div></div>"
        f'<div class="cf-error-footer cf-wrapper"><p>{code} Cloudflare Ray ID: '
        '<strong class="font-semibold">8a1b2c3d4e5f6a7c</strong> &bull; Your IP: 203.0.113.7 '
        '&bull; Performance &amp; security by <a href="https://www.cloudflare.com/5xx-error-'
        'landing" target="_blank">Cloudflare</a></p></div></div></div></body></html>'
    )


def akamai_denied(host: str, path: str, ref: str) -> str:
    return (
        "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n\n"
        f'You don\'t have permission to access "http&#58;&#47;&#47;{host}&#47;{path}" on this '
        f"server.<P>\nReference&#32;&#35;18&#46;{ref}\n<P>https&#58;&#47;&#47;errors&#46;"
        "edgesuite&#46;net&#47;18&#46;" + ref + "</P>\n</BODY>\n</HTML>\n"
    )


def datadome(cid: str, text: str = "") -> str:
    extra = f"<p>{text}</p>" if text else ""
    return (
        '<html lang="en"><head><title>example.com</title><style>#cmsg{animation: A 1.5s;}'
        "@keyframes A{0%{opacity:0;}99%{opacity:0;}100%{opacity:1;}}</style></head>"
        '<body style="margin:0"><p id="cmsg">Please enable JS and disable any ad blocker</p>'
        f"{extra}<script data-cfasync=\"false\">var dd={{'rt':'c','cid':'{cid}','hsh':"
        "'A1B2C3D4E5F6','t':'fe','s':45678,'e':'abcdef','host':'geo.captcha-delivery.com',"
        "'cookie':'xyz'}</script><script data-cfasync=\"false\" "
        'src="https://ct.captcha-delivery.com/c.js"></script></body></html>'
    )


def perimeterx(app: str, title: str, h1: str, text: str, hold: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{title}</title><meta name="robots" content="noindex, nofollow">'
        "<style>.px-captcha-error-container{display:none}</style></head><body>"
        f'<section class="px-block"><div class="px-captcha-container"><h1>{h1}</h1>'
        f'<p class="px-captcha-message">{text}</p><div id="px-captcha"></div>'
        f"<p>{hold}</p></div>"
        '<div class="px-footer">Reference ID <span>1a2b3c4d-5e6f-11ee-8a1b-000000000000'
        "</span></div></section>"
        f"<script>window._pxAppId='PX{app}';window._pxJsClientSrc='/{app}/init.js';"
        "window._pxHostUrl='/" + app + "/xhr';window._pxUuid='1a2b3c4d';</script>"
        f'<script src="/{app}/captcha/captcha.js?a=c&m=0&u=1a2b3c4d"></script></body></html>'
    )


def imperva_incident(incident: str) -> str:
    return (
        '<html style="height:100%"><head><META NAME="ROBOTS" CONTENT="NOINDEX, NOFOLLOW">'
        '<meta name="format-detection" content="telephone=no"></head>'
        '<body style="margin:0px;height:100%"><iframe id="main-iframe" '
        'src="/_Incapsula_Resource?CWUDNSAI=24&xinfo=8-12345-0&incident_id=' + incident + '" '
        'frameborder=0 width="100%" height="100%" marginheight="0px" marginwidth="0px">'
        "Request unsuccessful. Incapsula incident ID: " + incident + "</iframe></body></html>"
    )


def imperva_abp(lang: str, title: str, h1: str, text: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        '<script src="/_Incapsula_Resource?SWJIYLWA=5074a744e2e3d891814e9a2dace20bd4"></script>'
        f'</head><body><div class="container"><h1>{h1}</h1><p>{text}</p>'
        "<p>To regain access, please make sure that cookies and JavaScript are enabled before "
        "reloading the page.</p>"
        '<div id="distil_r_captcha"></div></div></body></html>'
    )


def sucuri_block(host: str, lang: str = "en") -> str:
    return (
        '<!DOCTYPE html><html lang="' + lang + '"><head><meta charset="utf-8">'
        "<title>Sucuri WebSite Firewall - Access Denied</title></head><body>"
        '<div id="main-container"><div id="headerWrapper"><h1>Access Denied - Sucuri Website '
        'Firewall</h1></div><div id="main-content"><table><tr><td>Your IP:</td>'
        "<td>203.0.113.7</td></tr><tr><td>URL:</td><td>" + host + "/wp-admin/</td></tr>"
        "<tr><td>Your Browser: </td><td>python-requests</td></tr><tr><td>Block ID:</td>"
        "<td>BNP005</td></tr><tr><td>Block reason:</td><td>Bad bot access attempt.</td></tr>"
        "<tr><td>Time:</td><td>2024-05-01 10:00:00</td></tr><tr><td>Server ID:</td>"
        "<td>14013</td></tr></table><p>If you are the site owner (or you manage this site), "
        "please whitelist your IP or if you think this block is an error please "
        '<a href="https://support.sucuri.net/">open a support ticket</a>.</p></div>'
        '<p><a href="https://sucuri.net/">Cloudproxy by Sucuri</a></p></div></body></html>'
    )


def block_pages() -> None:
    ch_texts = {
        "en": (
            "Just a moment...",
            "Checking if the site connection is secure",
            "{h} needs to review the security of your connection before proceeding.",
        ),
        "de": (
            "Nur einen Moment...",
            "Überprüfung, ob die Verbindung sicher ist",
            "{h} muss die Sicherheit Ihrer Verbindung überprüfen, bevor fortgefahren wird.",
        ),
        "fr": (
            "Un instant…",
            "Vérification de la sécurité de la connexion au site",
            "{h} doit vérifier la sécurité de votre connexion avant de continuer.",
        ),
        "es": (
            "Un momento…",
            "Comprobando si la conexión del sitio es segura",
            "{h} necesita revisar la seguridad de su conexión antes de continuar.",
        ),
        "pt": (
            "Um momento…",
            "Verificando se a conexão do site é segura",
            "{h} precisa analisar a segurança da sua conexão antes de prosseguir.",
        ),
        "ru": (
            "Один момент…",
            "Проверка безопасности подключения к сайту",
            "{h} необходимо проверить безопасность вашего подключения.",
        ),
        "ja": (
            "しばらくお待ちください…",
            "サイト接続が安全であることを確認しています",
            "{h} は続行する前に接続のセキュリティを確認する必要があります。",
        ),
        "zh": (
            "请稍候…",
            "正在检查站点连接是否安全",
            "{h} 需要先检查您的连接的安全性，然后才能继续。",
        ),
        "ko": (
            "잠시만 기다리십시오…",
            "사이트 연결이 안전한지 확인하는 중",
            "{h}에서 계속하기 전에 연결의 보안을 검토해야 합니다.",
        ),
    }
    for i, (lang, (title, running, text)) in enumerate(ch_texts.items()):
        host = f"shop{i}.example"
        add(
            f"cf-challenge-{lang}",
            "blocked",
            cloudflare_challenge(host, lang, title, running, text.format(h=host)),
            headers={"server": "cloudflare", "cf-mitigated": "challenge"} if i % 2 else {},
            status=200,
            group="vendor:cloudflare",
            note=f"Cloudflare managed challenge ({lang}); headers {'kept' if i % 2 else 'stripped'}",
        )
    add(
        "cf-block-1020",
        "blocked",
        cloudflare_block(
            "news.example",
            "Error 1020",
            "Sorry, you have been blocked",
            "You are unable to access news.example",
            "This website is using a security service to protect itself from online "
            "attacks. The action you just performed triggered the security solution.",
        ),
        group="vendor:cloudflare",
        note="Cloudflare WAF block page (1020)",
    )
    add(
        "cf-block-1015",
        "blocked",
        cloudflare_block(
            "api.example",
            "Error 1015",
            "You are being rate limited",
            "The owner of this website (api.example) has banned you temporarily "
            "from accessing this website.",
            "Too many requests from your address.",
        ),
        group="vendor:cloudflare",
        note="Cloudflare rate limiting page (1015)",
    )
    add(
        "cf-block-1006",
        "blocked",
        cloudflare_block(
            "forum.example",
            "Error 1006",
            "Access denied",
            "The owner of this website (forum.example) has banned your IP address.",
            "Your IP address has been banned by the site owner.",
        ),
        headers={"server": "cloudflare"},
        group="vendor:cloudflare",
        note="Cloudflare IP ban page (1006)",
    )
    for i, (host, path) in enumerate(
        [
            ("www.shop.example", "product/123"),
            ("www.airline.example", "booking"),
            ("www.bank.example", ""),
        ]
    ):
        add(
            f"akamai-denied-{i}",
            "blocked",
            akamai_denied(host, path, f"{17 + i:x}2f3c1d17&#46;169999999{i}&#46;4a5b6c{i}"),
            headers={"server": "AkamaiGHost"} if i != 1 else {},
            group="vendor:akamai",
            note="Akamai edge 'Access Denied' with reference number",
        )
    add(
        "akamai-bm-interstitial",
        "blocked",
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Challenge Validation</title>'
        '<script src="/_sec/cp_challenge/ak-challenge-3-9.js"></script></head><body>'
        '<div id="sec-if-cpt-container" class="sec-cpt-if"><div class="sec-cpt-content">'
        "<p>Powered and protected by Akamai</p><p>Please wait while we check your browser."
        "</p></div></div><noscript>Please enable JavaScript</noscript></body></html>",
        group="vendor:akamai",
        note="Akamai Bot Manager interstitial",
    )
    for i, (cid, text) in enumerate(
        [
            ("AHrlqAAAAAMA1b2c3d4e5f6AAA==", ""),
            ("AHrlqAAAAAMAx9y8z7w6AAA==", ""),
            ("AHrlqAAAAAMAq1w2e3r4AAA==", "Vous avez été bloqué. Veuillez activer JavaScript."),
        ]
    ):
        add(
            f"datadome-{i}",
            "blocked",
            datadome(cid, text),
            status=200,
            headers={
                "x-datadome": "protected",
                "x-dd-b": "1",
                "set-cookie": "datadome=abc; Max-Age=31536000; Path=/",
            }
            if i == 1
            else {},
            group="vendor:datadome",
            note="DataDome captcha bootstrap page",
        )
    px = [
        (
            "PXa1b2c3d4",
            "Access to this page has been denied",
            "Access to this page has been denied",
            "Before we continue... Press &amp; Hold to confirm you are a human (and not a bot).",
            "Please check your internet connection or disable your ad-blocker.",
        ),
        (
            "PXe5f6g7h8",
            "Access to this page has been denied.",
            "Please verify you are a human",
            "Press &amp; Hold to confirm you are a human (and not a bot).",
            "Having a problem? Contact support with the reference ID below.",
        ),
        (
            "PXi9j8k7l6",
            "Zugriff auf diese Seite wurde verweigert",
            "Bitte bestätigen Sie, dass Sie ein Mensch sind",
            "Halten Sie die Taste gedrückt, um zu bestätigen, dass Sie ein Mensch (und kein Roboter) "
            "sind.",
            "Referenz-ID siehe unten.",
        ),
    ]
    for i, (app, title, h1, text, hold) in enumerate(px):
        add(
            f"perimeterx-{i}",
            "blocked",
            perimeterx(app[2:], title, h1, text, hold),
            status=200 if i else 403,
            headers={"set-cookie": "_pxhd=abc:def; path=/"} if i == 0 else {},
            group="vendor:perimeterx",
            note="PerimeterX / HUMAN press-and-hold captcha",
        )
    add(
        "imperva-incident-0",
        "blocked",
        imperva_incident("123000450012345678-987654321012345"),
        headers={
            "x-iinfo": "8-12345-0 0NNN RT(1700000000 0) q(0 -1 -1 -1) r(0 -1)",
            "x-cdn": "Incapsula",
        },
        group="vendor:imperva",
        note="Incapsula incident iframe page",
    )
    add(
        "imperva-incident-1",
        "blocked",
        imperva_incident("871000120034567890-123456789012345"),
        group="vendor:imperva",
        note="Incapsula incident iframe page, no headers",
    )
    add(
        "imperva-abp-en",
        "blocked",
        imperva_abp(
            "en",
            "Pardon Our Interruption",
            "Pardon Our Interruption",
            "As you were browsing something about your browser made us think you were a "
            "bot. There are a few reasons this might happen: you're a power user moving "
            "through this website with super-human speed.",
        ),
        group="vendor:imperva",
        note="Imperva Advanced Bot Protection page",
    )
    add(
        "imperva-abp-es",
        "blocked",
        imperva_abp(
            "es",
            "Disculpe la interrupción",
            "Disculpe la interrupción",
            "Mientras navegaba, algo en su navegador nos hizo pensar que era un robot. "
            "Verifica que eres humano para continuar.",
        ),
        group="vendor:imperva",
        note="Imperva ABP page in Spanish",
    )
    add(
        "sucuri-block-0",
        "blocked",
        sucuri_block("blog.example"),
        headers={"server": "Sucuri/Cloudproxy", "x-sucuri-id": "14013", "x-sucuri-block": "BNP005"},
        group="vendor:sucuri",
        note="Sucuri firewall block page",
    )
    add(
        "sucuri-block-1",
        "blocked",
        sucuri_block("wp.example", "pt"),
        group="vendor:sucuri",
        note="Sucuri firewall block page, no headers",
    )
    add(
        "sucuri-js",
        "blocked",
        "<html><head><title>You are being redirected...</title>"
        "<noscript>Javascript is required. Please enable javascript before you are allowed to "
        "see this page.</noscript><script>var s={},u,c,U,r,i,l=0,a,e=eval,w=String.fromCharCode,"
        "sucuri_cloudproxy_js='',S='cz0iMTFzdWN1cmkiOw==';L=S.length;document.cookie="
        "'sucuri_cloudproxy_uuid_0123456789=abcdef;path=/;max-age=86400';location.reload();"
        "</script></head><body></body></html>",
        group="vendor:sucuri",
        note="Sucuri JavaScript challenge (no visible text)",
    )
    add(
        "aws-waf-captcha",
        "blocked",
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title></title>'
        '<script>window.awsWafCookieDomainList=[];window.gokuProps={"key":"AQIDAHj",'
        '"iv":"CgAFLz","context":"abc"};</script>'
        '<script src="https://1a2b3c4d5e6f.edge.sdk.awswaf.com/1a2b3c4d5e6f/0a1b2c/challenge.js">'
        '</script><script src="https://1a2b3c4d5e6f.eu-west-1.captcha-sdk.awswaf.com/'
        '1a2b3c4d5e6f/jsapi.js"></script></head><body><div id="captcha-container"></div>'
        "<noscript><h1>JavaScript is disabled</h1>In order to continue, we need to verify that "
        "you're not a robot. This requires JavaScript. Enable JavaScript and then reload the "
        "page.</noscript><script>AwsWafIntegration.checkForceRefresh().then(function(){});"
        "</script></body></html>",
        status=200,
        headers={"x-amzn-waf-action": "captcha"},
        group="vendor:aws-waf",
        note="AWS WAF CAPTCHA action page",
    )
    add(
        "aws-waf-challenge-noheader",
        "blocked",
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title></title>'
        '<script>window.gokuProps={"key":"AQID","iv":"Cg","context":"x"};</script>'
        '<script src="https://abc123.token.awswaf.com/abc123/def456/challenge.js"></script>'
        '</head><body><div id="challenge-container"></div><noscript><h1>JavaScript is disabled'
        "</h1>In order to continue, you need to verify that you're not a robot by solving a "
        "CAPTCHA puzzle.</noscript></body></html>",
        group="vendor:aws-waf",
        note="AWS WAF challenge page without its header",
    )
    add(
        "cloudfront-block",
        "blocked",
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><HTML><HEAD>'
        '<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">'
        "<TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>"
        '<H1>403 ERROR</H1><H2>The request could not be satisfied.</H2><HR noshade size="1px">'
        "Request blocked. We can't connect to the server for this app or website at this time. "
        'There might be too much traffic or a configuration error.<BR clear="all"><HR noshade '
        'size="1px"><PRE>Generated by cloudfront (CloudFront)\nRequest ID: '
        "Zx1y2W3v4U5t6S7r8Q9p==\n</PRE><ADDRESS></ADDRESS></BODY></HTML>",
        headers={"server": "CloudFront", "x-cache": "Error from cloudfront"},
        group="vendor:aws-waf",
        note="CloudFront / AWS WAF default block page",
    )
    for i in range(2):
        add(
            f"kasada-{i}",
            "blocked",
            "<html><head></head><body><script>window.KPSDK={};KPSDK.now=typeof performance!=="
            "'undefined'&&performance.now?performance.now.bind(performance):Date.now.bind(Date);"
            'KPSDK.start=KPSDK.now();</script><script src="/149e9513-01fa-4fb0-aad4-566afd725d1b/'
            '2d206a39-8ed7-437e-a3be-862e0f06eea3/ips.js?tkrm_alpekz_s1.3=0EOFNE"></script>'
            "</body></html>",
            status=200 if i else 429,
            headers={"x-kpsdk-ct": "0abc", "x-kpsdk-r": "1-B"} if i == 0 else {},
            group="vendor:kasada",
            note="Kasada challenge bootstrap (no visible text)",
        )
    for i, lang in enumerate(("en", "de")):
        add(
            f"f5-asm-{lang}",
            "blocked",
            "<html><head><title>Request Rejected</title></head><body>"
            "The requested URL was rejected. Please consult with your administrator.<br><br>"
            f"Your support ID is: 1234567890{i}<br><br>"
            '<a href="javascript:history.back();">[Go Back]</a></body></html>',
            headers={"set-cookie": "TS01a2b3c4=01abcdef; Path=/"} if i else {},
            group="vendor:f5",
            note="F5 BIG-IP ASM rejection page",
        )
    add(
        "f5-tspd",
        "blocked",
        '<!DOCTYPE html><html><head><meta http-equiv="Pragma" content="no-cache"/>'
        '<script>window["bobcmn"]="1111101010101020000000220000000520000000021aabbcc";'
        'window.yfma=!!window.yfma;</script><script src="/TSPD/08a1b2c3d4ab2000?type=9">'
        "</script><noscript>Please enable JavaScript to view the page content.<br/>Your support "
        "ID is: 9876543210123.</noscript></head><body></body></html>",
        group="vendor:f5",
        note="F5 Advanced WAF bot defense (TSPD)",
    )
    for lang, (h, why) in {
        "en": (
            "Our systems have detected unusual traffic from your computer network. This page "
            "checks to see if it's really you sending the requests, and not a robot.",
            "Why did this happen?",
        ),
        "de": (
            "Unsere Systeme haben ungewöhnlichen Datenverkehr aus Ihrem Computernetzwerk "
            "festgestellt. Auf dieser Seite wird überprüft, ob die Anfragen wirklich von Ihnen "
            "und nicht von einem Robot gesendet werden.",
            "Warum ist das passiert?",
        ),
        "ja": (
            "このネットワークから通常と異なるトラフィックが検出されました。しばらく時間をおいてから、"
            "もう一度リクエストを送信してください。ロボットではありませんか？",
            "この問題について",
        ),
    }.items():
        add(
            f"google-sorry-{lang}",
            "blocked",
            '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8">'
            "<title>https://www.google.com/search?q=example</title></head>"
            '<body style="font-family: arial, sans-serif"><div style="max-width:400px;">'
            '<hr noshade size="1"><br><form id="captcha-form" action="index" method="post">'
            '<script src="https://www.google.com/recaptcha/api.js" async defer></script>'
            '<div id="recaptcha" class="g-recaptcha" data-sitekey="6LfwuyUTAAAAAOAmoS0fdqijC2PbbdH4'
            'kjq62Y1b" data-s="abc"></div><input type="hidden" name="q" value="EhAg">'
            f'</form><hr noshade size="1"><div style="font-size:13px;"><b>{why}</b><br><br>'
            f"{h}<br><br>IP address: 203.0.113.7<br>Time: 2024-05-01T10:00:00Z<br>URL: "
            "https://www.google.com/search?q=example<br></div></div></body></html>",
            status=429,
            group="vendor:google-sorry",
            note=f"Google 'sorry' unusual-traffic page ({lang})",
        )
    captcha_only = [
        (
            "recaptcha",
            "Security check",
            "Please complete the security check to continue.",
            '<div class="g-recaptcha" data-sitekey="6Lc_x"></div>'
            '<script src="https://www.google.com/recaptcha/api.js"></script>',
        ),
        (
            "hcaptcha",
            "One more step",
            "Please complete the captcha below to continue.",
            '<div class="h-captcha" data-sitekey="10000000-ffff"></div>'
            '<script src="https://js.hcaptcha.com/1/api.js"></script>',
        ),
        (
            "turnstile",
            "Verification",
            "Verify you are human by completing the action below.",
            '<div class="cf-turnstile" data-sitekey="0x4AAA"></div>'
            '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js"></script>',
        ),
        (
            "recaptcha-fr",
            "Vérification",
            "Merci de confirmer que vous n'êtes pas un robot.",
            '<div class="g-recaptcha" data-sitekey="6Lc_y"></div>'
            '<script src="https://www.google.com/recaptcha/api.js?hl=fr"></script>',
        ),
        (
            "hcaptcha-zh",
            "人机验证",
            "请完成下面的人机验证以继续访问。",
            '<div class="h-captcha" data-sitekey="20000000-ffff"></div>'
            '<script src="https://js.hcaptcha.com/1/api.js?hl=zh"></script>',
        ),
    ]
    for name, title, text, widget in captcha_only:
        add(
            f"captcha-only-{name}",
            "blocked",
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body><div class="box"><h1>{title}</h1><p>{text}</p><form method="post">'
            f"{widget}<button>Continue</button></form></div></body></html>",
            group="captcha-only",
            note=f"captcha-only challenge page ({name})",
        )
    add(
        "anubis",
        "blocked",
        '<!doctype html><html lang="en"><head><title>Making sure you&#39;re not a bot!</title>'
        '<link rel="stylesheet" href="/.within.website/x/xess/xess.min.css"></head><body>'
        '<main><h1 id="title">Making sure you&#39;re not a bot!</h1><p id="status">'
        'Loading...</p><script async type="module" src="/.within.website/x/cmd/anubis/static/'
        'js/main.mjs"></script><p>You are seeing this because the administrator of this website '
        "has set up Anubis to protect the server against the scourge of AI companies "
        "aggressively scraping websites.</p></main></body></html>",
        group="vendor:anubis",
        note="Anubis proof-of-work wall",
    )
    generic_blocks()


GENERIC_BLOCKS = {
    # lang: (title, heading, text)
    "en": (
        "Unusual traffic detected",
        "We've detected unusual activity from your network",
        "To continue, please confirm you are not a robot. If you believe this is an error, "
        "contact support and mention reference 7F3A-22B1.",
    ),
    "de": (
        "Ungewöhnlicher Datenverkehr",
        "Wir haben ungewöhnlichen Datenverkehr festgestellt",
        "Bitte bestätigen Sie, dass Sie kein Roboter sind, um fortzufahren.",
    ),
    "fr": (
        "Trafic inhabituel",
        "Nous avons détecté un trafic inhabituel depuis votre réseau",
        "Pour continuer, veuillez confirmer que vous n'êtes pas un robot.",
    ),
    "es": (
        "Tráfico inusual",
        "Hemos detectado tráfico inusual desde su red",
        "Para continuar, confirme que no es un robot.",
    ),
    "pt": (
        "Tráfego incomum",
        "Detectamos tráfego incomum na sua rede",
        "Para continuar, confirme que você não é um robô.",
    ),
    "it": (
        "Traffico insolito",
        "Abbiamo rilevato traffico insolito dalla tua rete",
        "Per continuare, conferma di non essere un robot.",
    ),
    "nl": (
        "Ongebruikelijk verkeer",
        "We hebben ongebruikelijk verkeer van uw netwerk gedetecteerd",
        "Bevestig dat u geen robot bent om verder te gaan.",
    ),
    "pl": (
        "Nietypowy ruch",
        "Wykryliśmy nietypowy ruch z Twojej sieci",
        "Aby kontynuować, potwierdź, że nie jesteś robotem.",
    ),
    "ru": (
        "Необычный трафик",
        "Мы зафиксировали необычный трафик из вашей сети",
        "Чтобы продолжить, подтвердите, что вы не робот.",
    ),
    "tr": (
        "Olağandışı trafik",
        "Ağınızdan olağandışı trafik algıladık",
        "Devam etmek için lütfen robot olmadığınızı doğrulayın.",
    ),
    "ja": (
        "異常なトラフィック",
        "お使いのネットワークから異常なトラフィックを検出しました",
        "続行するには、ロボットではないことを確認してください。",
    ),
    "zh": (
        "异常流量",
        "我们检测到您的网络存在异常流量",
        "请完成验证，确认您不是机器人后继续访问。",
    ),
    "ko": (
        "비정상적인 트래픽",
        "네트워크에서 비정상적인 트래픽이 감지되었습니다",
        "계속하려면 로봇이 아님을 확인해 주세요.",
    ),
    "ar": (
        "حركة مرور غير عادية",
        "اكتشفنا حركة مرور غير عادية من شبكتك",
        "للمتابعة، يرجى التأكيد أنك لست روبوت.",
    ),
}
DENIED = {
    "en": (
        "Access denied",
        "Access denied",
        "You do not have permission to view this page. "
        "Your request has been blocked by our security system. Incident: 5521-ab.",
    ),
    "de": (
        "Zugriff verweigert",
        "Zugriff verweigert",
        "Ihre Anfrage wurde von unserem Sicherheitssystem blockiert.",
    ),
    "fr": (
        "Accès refusé",
        "Accès refusé",
        "Votre requête a été bloquée par notre système de sécurité.",
    ),
    "es": (
        "Acceso denegado",
        "Acceso denegado",
        "Su solicitud ha sido bloqueada por nuestro sistema de seguridad.",
    ),
    "ru": ("Доступ запрещён", "Доступ запрещён", "Ваш запрос заблокирован системой безопасности."),
    "ja": (
        "アクセスが拒否されました",
        "アクセスが拒否されました",
        "セキュリティシステムによりリクエストがブロックされました。",
    ),
    "zh": ("访问被拒绝", "访问被拒绝", "您的请求已被安全系统拦截。"),
    "ko": (
        "접근이 거부되었습니다",
        "접근이 거부되었습니다",
        "보안 시스템에 의해 요청이 차단되었습니다.",
    ),
}


def generic_blocks() -> None:
    for lang, (title, h1, text) in GENERIC_BLOCKS.items():
        add(
            f"unusual-{lang}",
            "blocked",
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}'
            f'</title></head><body><div class="wrap"><h1>{h1}</h1><p>{text}</p>'
            '<form method="post" action="/verify"><input type="hidden" name="t" value="9a8b">'
            '<button type="submit">OK</button></form></div></body></html>',
            group="generic-block",
            note=f"generic unusual-traffic page ({lang})",
        )
    for lang, (title, h1, text) in DENIED.items():
        add(
            f"denied-{lang}",
            "blocked",
            chrome(lang, title, f"<h1>{h1}</h1><p>{text}</p>", nav=False),
            group="generic-block",
            note=f"generic access-denied page in site style ({lang})",
        )
    add(
        "demo-style-captcha",
        "blocked",
        "<!doctype html><html><head><title>Attention Required</title></head><body>"
        "<h1>Attention Required</h1><p>Please complete the CAPTCHA to prove you are not a robot."
        "</p><ul></ul></body></html>",
        group="generic-block",
        note="the demo's captcha page",
    )
    add(
        "rate-limited-429",
        "blocked",
        chrome(
            "en",
            "Too Many Requests",
            "<h1>Slow down</h1><p>You are being rate limited: too many requests from your IP "
            "address in a short time. Try again in a few minutes.</p>",
            nav=False,
        ),
        status=200,
        group="generic-block",
        note="rate-limit notice served with 200",
    )
    add(
        "bot-wall-en",
        "blocked",
        chrome(
            "en",
            "Are you a robot?",
            "<h1>Are you a robot?</h1><p>We could not verify that you are a human. Please "
            "enable JavaScript and cookies, then reload this page.</p>"
            "<noscript>JavaScript is required.</noscript>",
            nav=True,
        ),
        group="generic-block",
        note="bot wall inside the site's chrome (with navigation)",
    )
    add(
        "ip-blocked-ru",
        "blocked",
        chrome(
            "ru",
            "Ваш IP заблокирован",
            "<h1>Ваш IP заблокирован</h1><p>С вашего IP-адреса поступает слишком много "
            "запросов. Доступ ограничен на 24 часа.</p>",
        ),
        group="generic-block",
        note="Russian IP-ban notice in site chrome",
    )
    add(
        "security-check-zh",
        "blocked",
        chrome(
            "zh",
            "安全验证",
            "<h1>安全验证</h1><p>您的访问频率过高，请完成人机验证后继续。我不是机器人</p>"
            '<div class="g-recaptcha" data-sitekey="6Lc_z"></div>',
        ),
        group="generic-block",
        note="Chinese security check with a captcha in site chrome",
    )


# -- login walls ------------------------------------------------------------------------------

LOGIN_FORMS = {
    # lang: (title, heading, user label, password label, button, forgot, note)
    "en": (
        "Sign in – Example",
        "Sign in to continue",
        "Email address",
        "Password",
        "Sign in",
        "Forgot your password?",
        "You must be logged in to view this page.",
    ),
    "de": (
        "Anmelden – Beispiel",
        "Bitte melden Sie sich an",
        "E-Mail-Adresse",
        "Passwort",
        "Anmelden",
        "Passwort vergessen?",
        "Dieser Bereich ist nur für Mitglieder.",
    ),
    "fr": (
        "Connexion – Exemple",
        "Connectez-vous pour continuer",
        "Adresse e-mail",
        "Mot de passe",
        "Se connecter",
        "Mot de passe oublié ?",
        "Connexion requise.",
    ),
    "es": (
        "Iniciar sesión – Ejemplo",
        "Inicia sesión para continuar",
        "Correo electrónico",
        "Contraseña",
        "Entrar",
        "¿Olvidaste tu contraseña?",
        "Debes iniciar sesión.",
    ),
    "pt": (
        "Entrar – Exemplo",
        "Faça login para continuar",
        "E-mail",
        "Senha",
        "Entrar",
        "Esqueceu a senha?",
        "Você precisa fazer login para ver esta página.",
    ),
    "it": (
        "Accedi – Esempio",
        "Accedi per continuare",
        "Email",
        "Password",
        "Accedi",
        "Password dimenticata?",
        "Effettua il login per vedere questa pagina.",
    ),
    "ru": (
        "Вход – Пример",
        "Войдите, чтобы продолжить",
        "Электронная почта",
        "Пароль",
        "Войти",
        "Забыли пароль?",
        "Требуется авторизация.",
    ),
    "pl": (
        "Logowanie – Przykład",
        "Zaloguj się, aby kontynuować",
        "E-mail",
        "Hasło",
        "Zaloguj się",
        "Nie pamiętasz hasła?",
        "Ta strona wymaga zalogowania.",
    ),
    "ja": (
        "ログイン | サンプル",
        "ログインしてください",
        "メールアドレス",
        "パスワード",
        "ログイン",
        "パスワードを忘れた方",
        "このページを見るにはログインが必要です。",
    ),
    "zh": (
        "登录 - 示例",
        "请先登录",
        "邮箱",
        "密码",
        "登录",
        "忘记密码？",
        "登录后才能查看此页面。",
    ),
    "ko": (
        "로그인 - 예시",
        "로그인이 필요합니다",
        "이메일",
        "비밀번호",
        "로그인",
        "비밀번호를 잊으셨나요?",
        "로그인 후 이용하실 수 있습니다.",
    ),
    "ar": (
        "تسجيل الدخول - مثال",
        "يجب تسجيل الدخول",
        "البريد الإلكتروني",
        "كلمة المرور",
        "دخول",
        "نسيت كلمة المرور؟",
        "يرجى تسجيل الدخول للمتابعة.",
    ),
    "tr": (
        "Giriş yap – Örnek",
        "Devam etmek için giriş yapın",
        "E-posta",
        "Şifre",
        "Giriş yap",
        "Şifremi unuttum",
        "Bu sayfayı görmek için giriş yapmalısınız.",
    ),
}


def login_form(lang: str, *, password: bool = True) -> str:
    _title, h1, user, pw, button, forgot, note = LOGIN_FORMS[lang]
    pw_field = f'<label>{pw}<input type="password" name="password"></label>' if password else ""
    return (
        f"<h1>{h1}</h1><p>{note}</p>"
        f'<form action="/session" method="post"><label>{user}<input type="email" name="email">'
        f"</label>{pw_field}<button>{button}</button></form>"
        f'<a href="/password/reset">{forgot}</a>'
    )


def login_walls() -> None:
    for i, lang in enumerate(LOGIN_FORMS):
        add(
            f"login-{lang}",
            "login",
            chrome(lang, LOGIN_FORMS[lang][0], login_form(lang), nav=bool(i % 2)),
            group="login-wall",
            note=f"sign-in wall ({lang})",
        )
    add(
        "login-wordpress",
        "login",
        '<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">'
        "<title>Log In &lsaquo; Example Blog &#8212; WordPress</title></head>"
        '<body class="login no-js login-action-login wp-core-ui"><div id="login">'
        '<h1><a href="https://wordpress.org/">Powered by WordPress</a></h1>'
        '<form name="loginform" id="loginform" action="https://blog.example/wp-login.php" '
        'method="post"><p><label for="user_login">Username or Email Address</label>'
        '<input type="text" name="log" id="user_login" class="input" size="20"></p>'
        '<div class="user-pass-wrap"><label for="user_pass">Password</label>'
        '<input type="password" name="pwd" id="user_pass" class="input password-input"></div>'
        '<p class="forgetmenot"><input name="rememberme" type="checkbox" id="rememberme" '
        'value="forever"> <label for="rememberme">Remember Me</label></p>'
        '<p class="submit"><input type="submit" name="wp-submit" id="wp-submit" value="Log In">'
        '</p></form><p id="nav"><a href="/wp-login.php?action=lostpassword">Lost your password?'
        '</a></p><p id="backtoblog"><a href="/">&larr; Go to Example Blog</a></p></div>'
        "</body></html>",
        group="login-wall",
        note="WordPress wp-login.php",
    )
    add(
        "login-saas-sso",
        "login",
        "<!DOCTYPE html><html><head><title>Log in to your account · Acme Cloud</title></head>"
        '<body><div class="card"><h1>Welcome back</h1><p>Log in to your account</p>'
        '<a class="btn" href="/oauth/google">Continue with Google</a>'
        '<a class="btn" href="/oauth/github">Continue with GitHub</a><hr>'
        '<form action="/login" method="post"><input type="email" name="email" '
        'placeholder="you@company.com"><input type="password" name="password" '
        'placeholder="Password"><button>Log in</button></form>'
        '<p><a href="/forgot">Forgot password?</a> · <a href="/signup">Create an account</a>'
        "</p></div></body></html>",
        group="login-wall",
        note="SaaS login with SSO buttons",
    )
    add(
        "login-email-first",
        "login",
        "<!DOCTYPE html><html><head><title>Sign in - Example Accounts</title></head>"
        "<body><main><h1>Sign in</h1><p>Use your Example account</p>"
        '<form action="/signin/identifier" method="post"><input type="email" name="identifier" '
        'autocomplete="username" placeholder="Email or phone"><button>Next</button></form>'
        '<a href="/signup">Create account</a></main></body></html>',
        group="login-wall",
        note="email-first sign-in (no password field yet)",
    )
    add(
        "login-members-only",
        "login",
        chrome(
            "en",
            "Members only — Example Club",
            "<h1>Members only</h1><p>This article is available to members. Please log in to "
            "view it.</p>" + login_form("en"),
        ),
        group="login-wall",
        note="members-only article behind a login form, site chrome",
    )
    add(
        "login-401",
        "login",
        chrome(
            "en",
            "Authentication required",
            "<h1>Authentication required</h1>" + login_form("en"),
            nav=False,
        ),
        status=401,
        group="login-wall",
        note="login form served with 401",
    )
    add(
        "login-session-expired",
        "login",
        chrome(
            "de",
            "Sitzung abgelaufen",
            "<h1>Ihre Sitzung ist abgelaufen</h1><p>Bitte melden Sie sich erneut an.</p>"
            + login_form("de"),
        ),
        group="login-wall",
        note="session-expired page with login form (de)",
    )
    add(
        "login-intranet",
        "login",
        "<html><head><title>Intranet</title></head><body><h2>Intranet</h2>"
        '<form method="post" action="/auth"><table><tr><td>User</td><td>'
        '<input name="u"></td></tr><tr><td>Password</td><td><input type="password" name="p">'
        '</td></tr></table><input type="submit" value="OK"></form></body></html>',
        group="login-wall",
        note="bare intranet login, title says nothing",
    )


# -- soft 404s and their sites ----------------------------------------------------------------

NOT_FOUND = {
    # lang: (title, heading, text)
    "en": (
        "Page not found – Example Blog",
        "Page not found",
        "Sorry, the page you were looking for does not exist. Try the search below.",
    ),
    "de": (
        "Seite nicht gefunden – Beispiel-Shop",
        "Seite nicht gefunden",
        "Die angeforderte Seite existiert nicht oder wurde verschoben.",
    ),
    "fr": (
        "Page introuvable – Exemple Info",
        "Page introuvable",
        "La page que vous cherchez n'existe pas ou plus.",
    ),
    "es": (
        "Página no encontrada – Ejemplo",
        "Página no encontrada",
        "Lo sentimos, la página que buscas no existe.",
    ),
    "pt": (
        "Página não encontrada – Exemplo",
        "Página não encontrada",
        "A página que você procura não foi encontrada.",
    ),
    "ru": (
        "Страница не найдена — Пример",
        "Страница не найдена",
        "Возможно, она была удалена или вы ошиблись адресом.",
    ),
    "ja": (
        "ページが見つかりません | サンプル",
        "お探しのページは見つかりませんでした",
        "URLが間違っているか、ページが削除された可能性があります。",
    ),
    "zh": ("页面不存在 - 示例", "抱歉，您访问的页面不存在", "请检查网址是否正确，或返回首页。"),
    "ko": (
        "페이지를 찾을 수 없습니다 - 예시",
        "페이지를 찾을 수 없습니다",
        "주소가 잘못되었거나 페이지가 삭제되었습니다.",
    ),
    "it": (
        "Pagina non trovata – Esempio",
        "Pagina non trovata",
        "La pagina che cerchi non esiste più.",
    ),
    "pl": (
        "Nie znaleziono strony – Przykład",
        "Nie znaleziono strony",
        "Strona, której szukasz, nie istnieje.",
    ),
}


def nf_page(lang: str, path: str, *, echo: bool) -> str:
    title, h1, text = NOT_FOUND[lang]
    said = f"<p><code>/{path}</code></p>" if echo else ""
    return chrome(
        lang,
        title,
        f'<div class="error-page"><h1>{h1}</h1>{said}<p>{text}</p>'
        '<form action="/search"><input type="text" name="q"><button>🔍</button></form>'
        '<h2>Popular</h2><ul><li><a href="/a">A</a></li><li><a href="/b">B</a></li></ul></div>',
    )


def soft404_sites() -> None:
    for i, lang in enumerate(NOT_FOUND):
        site = f"site{i}-{lang}.example"
        prefix = f"http://{site}/posts/"
        echo = i % 2 == 0
        probe(
            f"site{i}-{lang}",
            prefix,
            200,
            nf_page(lang, "posts/zz-nonexistent-4f1c9a2b7d3e5f60.html", echo=echo),
        )
        for j, path in enumerate(("posts/2019/old-entry.html", "posts/deleted-draft.html")):
            add(
                f"soft404-{lang}-{j}",
                "soft_404",
                nf_page(lang, path, echo=echo),
                url=f"http://{site}/{path}",
                group="soft-404",
                note=f"'not found' page served with 200 ({lang}), probe known",
            )
        add(
            f"soft404-site-article-{lang}",
            "content",
            chrome(
                lang,
                TITLES.get(lang, TITLES["en"]),
                f"<article><h1>{TITLES.get(lang, TITLES['en'])}</h1>"
                f"{paras(*PROSE.get(lang, PROSE['en']))}</article>",
            ),
            url=f"{prefix}cycling-plan.html",
            group="soft-404-site-content",
            note=f"real article on a site that answers 200 for missing pages ({lang})",
        )
    # A site that redirects every missing page to its home page (a common soft 404).
    home = chrome(
        "en",
        "Example Travel — Home",
        "<h1>Welcome to Example Travel</h1>"
        + paras(*PROSE["en"])
        + "<ul>"
        + "".join(f'<li><a href="/trip/{k}">Trip {k}</a></li>' for k in range(15))
        + "</ul>",
    )
    probe("travel", "http://travel.example/trips/", 200, home, final_url="http://travel.example/")
    add(
        "soft404-redirect-home",
        "soft_404",
        home,
        url="http://travel.example/trips/lisbon-2018",
        group="soft-404",
        note="missing page redirected to the home page (final_url = /)",
    )
    FINAL_URLS["soft404-redirect-home.html"] = "http://travel.example/"
    add(
        "soft404-redirect-site-trip",
        "content",
        chrome(
            "en",
            "Trip: Porto in four days",
            "<article><h1>Porto in four days</h1>" + paras(*PROSE["en"][1:]) + "</article>",
        ),
        url="http://travel.example/trips/porto",
        group="soft-404-site-content",
        note="real page on the redirecting site",
    )
    # A soft 404 that says nothing a phrase list knows: only the probe can tell.
    odd = chrome(
        "en",
        "Example Recipes",
        "<h1>Hmm, this link goes nowhere.</h1><p>Maybe the recipe moved. Try the menu "
        "above or browse the latest dishes.</p>",
    )
    probe("recipes", "http://recipes.example/r/", 200, odd)
    for j, path in enumerate(("r/lemon-tart-2017", "r/old-bread")):
        add(
            f"soft404-odd-{j}",
            "soft_404",
            odd,
            url=f"http://recipes.example/{path}",
            group="soft-404",
            note="soft 404 in words no phrase list has; probe known",
        )
    add(
        "soft404-odd-site-recipe",
        "content",
        chrome(
            "en",
            "Example Recipes — Lemon tart",
            "<h1>Lemon tart</h1>"
            + paras(
                "A crisp shortcrust, a sharp lemon curd and a thin layer of meringue.",
                "Bake the case blind for 15 minutes at 180 °C, then fill and bake for 20 more "
                "minutes until the curd barely wobbles in the centre. Let it cool completely "
                "before slicing.",
            ),
        ),
        url="http://recipes.example/r/lemon-tart",
        group="soft-404-site-content",
        note="short real recipe on the same site",
    )
    # "Nothing found" search-style soft 404.
    add(
        "soft404-search-style",
        "soft_404",
        chrome(
            "en",
            "Search – Example Docs",
            "<h1>Nothing was found</h1><p>We couldn't find anything at "
            "<code>/docs/v1/legacy-api</code>. Try searching the documentation.</p>"
            '<form action="/search"><input type="text" name="q"></form>',
        ),
        url="http://docs.example/docs/v1/legacy-api",
        group="soft-404-no-probe",
        note="search-style 'nothing was found' page, no probe",
    )
    for lang in ("en", "de", "ja", "ru", "fr"):
        add(
            f"soft404-noprobe-{lang}",
            "soft_404",
            nf_page(lang, "archive/item-77", echo=False),
            url=f"http://noprobe-{lang}.example/archive/item-77",
            group="soft-404-no-probe",
            note=f"'not found' page, probe unavailable (robots or failure) ({lang})",
        )
    # Honest site: its probe got 404, so its 200 pages are never compared.
    probe(
        "honest",
        "http://honest.example/music/",
        404,
        "<html><body><h1>404 Not Found</h1></body></html>",
    )
    add(
        "honest-album-not-found",
        "content",
        chrome(
            "en",
            "Album review: “Not Found” by The Nulls",
            "<article><h1>Album review: “Not Found”</h1>"
            + paras(
                "The Nulls' third record is a restless, funny album about getting lost in "
                "cities, in software and in long relationships.",
                "The title track opens with a dial-up modem and never looks back; the closing "
                "ballad is the best thing the band has written.",
                "It is not a perfect record — the middle drags — but it is the first one that "
                "sounds like the band plays live.",
            )
            + "</article>",
        ),
        url="http://honest.example/music/not-found-review",
        group="about-blocks",
        note="review of an album called 'Not Found' on an honest site",
    )
    add(
        "honest-404-howto",
        "content",
        chrome(
            "en",
            "How we built our 404 page",
            "<article><h1>How we built our 404 page</h1>"
            + paras(*NOT_FOUND_ARTICLE[:2])
            + "</article>",
        ),
        url="http://honest.example/music/404-page",
        group="about-blocks",
        note="short article about 404 pages on an honest site",
    )


FINAL_URLS: dict[str, str] = {}


def main() -> None:
    content_pages()
    block_pages()
    login_walls()
    soft404_sites()
    for old in OUT.glob("*.html"):
        old.unlink()
    for file, html in FILES.items():
        (OUT / file).write_text(html, encoding="utf-8")
    with (OUT / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for page in PAGES:
            page["final_url"] = FINAL_URLS.get(page["file"], "")
            fh.write(json.dumps(page, ensure_ascii=False) + "\n")
    with (OUT / "probes.jsonl").open("w", encoding="utf-8") as fh:
        for entry in PROBES:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for page in PAGES:
        counts[page["label"]] = counts.get(page["label"], 0) + 1
    print(f"{len(PAGES)} pages, {len(PROBES)} probes: {counts}")


if __name__ == "__main__":
    main()
