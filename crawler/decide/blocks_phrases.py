"""Multilingual phrase sets of block pages, login walls and "page not found" pages.

Data, not logic: per kind and language, one phrase a line, lower-case; a leading ``!`` marks a
*strong* phrase (one that content pages hardly ever say: "verify you are human"), the others are
*weak* ("captcha", "access denied": an article may say them). ``TITLE_WORDS`` are words that
count only in a page's ``<title>``, where they are whole words ("404", "sign in").

Languages: English, German, French, Spanish, Portuguese, Italian, Dutch, Polish, Russian,
Ukrainian, Turkish, Japanese, Chinese (simplified and traditional), Korean, Arabic. The block
phrases are here; the login-wall and "not found" tables, and ``TITLE_WORDS``, are in
:mod:`crawler.decide.walls_phrases`. The phrases
were written from the public block, sign-in and error pages of the vendors and platforms named in
docs/blocks.md, not tuned on the labelled set.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.decide.walls_phrases import LOGIN, SOFT_404, TITLE_WORDS

__all__ = ["PHRASES", "STEMS", "TITLE_WORDS", "Phrase"]


@dataclass(frozen=True, slots=True)
class Phrase:
    kind: str  # "blocked" | "login" | "soft_404"
    text: str  # lower-case
    strong: bool
    lang: str


_BLOCKED = {
    "en": """
        !verify you are human
        !verify you are a human
        !confirm you are human
        !are you a robot
        !not a robot
        !unusual traffic
        !unusual activity from your
        !checking your browser
        !checking if the site connection is secure
        !needs to review the security of your connection
        !you have been blocked
        !access to this page has been denied
        !press & hold
        !press and hold
        !request unsuccessful
        !request blocked
        !request rejected
        !requested url was rejected
        !pardon our interruption
        !made us think you were a bot
        !please complete the security check
        !enable javascript and cookies to continue
        !please enable js and disable any ad blocker
        !human verification
        !automated requests
        !automated queries
        !you are being rate limited
        !your ip address has been blocked
        !your ip has been blocked
        !temporarily blocked
        !one more step
        !just a moment...
        !ddos protection by
        !website firewall
        bot protection
        !making sure you're not a bot
        !security checkpoint
        captcha
        access denied
        permission to access
        security check
        too many requests
        """,
    "de": """
        !ungewöhnlichen datenverkehr
        !ungewöhnlicher datenverkehr
        !sind sie ein roboter
        !kein roboter
        !dass sie ein mensch sind
        !überprüfung ihres browsers
        !sie wurden blockiert
        !anfrage blockiert
        !zugriff verweigert
        sicherheitsüberprüfung
        zu viele anfragen
        """,
    "fr": """
        !trafic inhabituel
        !êtes-vous un robot
        !pas un robot
        !que vous êtes humain
        !vous avez été bloqué
        !requête bloquée
        !vérification de votre navigateur
        !accès refusé
        accès interdit
        vérification de sécurité
        trop de requêtes
        """,
    "es": """
        !tráfico inusual
        !eres un robot
        !no soy un robot
        !que eres humano
        !has sido bloqueado
        !solicitud bloqueada
        !comprobando tu navegador
        !acceso denegado
        verificación de seguridad
        demasiadas solicitudes
        """,
    "pt": """
        !tráfego incomum
        !tráfego invulgar
        !você é um robô
        !não sou um robô
        !que você é humano
        !você foi bloqueado
        !solicitação bloqueada
        !pedido bloqueado
        !verificando seu navegador
        !acesso negado
        verificação de segurança
        muitas solicitações
        """,
    "it": """
        !traffico insolito
        !non sono un robot
        !sei stato bloccato
        !richiesta bloccata
        !accesso negato
        verifica di sicurezza
        troppe richieste
        """,
    "nl": """
        !ongebruikelijk verkeer
        !geen robot
        !u bent geblokkeerd
        !toegang geweigerd
        beveiligingscontrole
        """,
    "pl": """
        !nietypowy ruch
        !nie jestem robotem
        !zostałeś zablokowany
        !odmowa dostępu
        weryfikacja bezpieczeństwa
        """,
    "ru": """
        !необычный трафик
        !подозрительный трафик
        !я не робот
        !что вы не робот
        !вы были заблокированы
        !ваш ip заблокирован
        !запрос заблокирован
        !проверка браузера
        !проверяем ваш браузер
        !доступ запрещён
        !доступ запрещен
        доступ ограничен
        проверка безопасности
        слишком много запросов
        """,
    "uk": """
        !я не робот
        !доступ заборонено
        перевірка безпеки
        """,
    "tr": """
        !olağandışı trafik
        !robot değilim
        !erişim engellendi
        güvenlik doğrulaması
        """,
    "ja": """
        !アクセスが拒否されました
        !不審なトラフィック
        !異常なトラフィック
        !ロボットではありません
        !ロボットではないことを
        !ブラウザを確認しています
        !人間であることを確認
        !ブロックされました
        アクセス拒否
        セキュリティチェック
        リクエストが多すぎます
        """,
    "zh": """
        !访问被拒绝
        !拒绝访问
        !异常流量
        !異常流量
        !我不是机器人
        !我不是機器人
        !人机验证
        !人機驗證
        !您的请求已被拦截
        !正在检查您的浏览器
        !拒絕存取
        !存取被拒
        访问受限
        安全验证
        安全驗證
        请求过于频繁
        請求過於頻繁
        """,
    "ko": """
        !접근이 거부되었습니다
        !액세스가 거부되었습니다
        !비정상적인 트래픽
        !로봇이 아닙니다
        !차단되었습니다
        !브라우저를 확인
        !자동화된 요청
        보안 확인
        요청이 너무 많습니다
        """,
    "ar": """
        !تم رفض الوصول
        !حركة مرور غير عادية
        !لست روبوت
        تحقق أمني
        """,
}


def _parse(kind: str, table: dict[str, str]) -> list[Phrase]:
    out: list[Phrase] = []
    for lang, block in table.items():
        for line in block.splitlines():
            text = line.strip()
            if not text:
                continue
            strong = text.startswith("!")
            out.append(Phrase(kind, text.lstrip("!").strip().lower(), strong, lang))
    return out


PHRASES: tuple[Phrase, ...] = tuple(
    _parse("blocked", _BLOCKED) + _parse("login", LOGIN) + _parse("soft_404", SOFT_404)
)


# Word stems a block or "not found" notice is dense with, whatever its exact wording: a short page
# whose title, headings and first lines hold several of them reads as such a notice. Stems are
# lower-case; matched as substrings of the folded text (see blocks.fold).
_STEMS = {
    "blocked": """
        block denied captcha robot human verif suspicious unusual automated security firewall
        forbidden restricted limited protection challenge
        blockiert gesperrt verweigert roboter mensch bestätig verdächtig ungewöhnlich sicherheit
        bloqué refusé interdit humain vérifi suspect anormal inhabituel sécurité
        bloquead denegado humano sospechos inusual seguridad
        negado robô incomum segurança
        bloccat negato umano sospett insolito sicurezza
        заблокир запрещ робот человек подтверд подозрит необычн безопасн автоматич
        ロボット ブロック 不審 異常 セキュリティ 制限
        机器人 機器人 验证 驗證 拦截 攔截 异常 異常 滑块
        로봇 차단 보안 비정상 자동입력
        روبوت حظر
        """,
    "soft_404": """
        found exist missing deleted removed wandered
        gefunden existiert verschoben gelöscht
        introuvable existe trouvé supprimé
        encontr eliminad
        trovat esiste
        найден существ удален
        見つかりません 存在しません 削除
        找不到 不存在 删除 刪除
        찾을 존재하지 삭제
        موجودة
        """,
}

STEMS: tuple[Phrase, ...] = tuple(
    Phrase(kind, stem, False, "any")
    for kind, block in _STEMS.items()
    for stem in dict.fromkeys(block.split())
)
