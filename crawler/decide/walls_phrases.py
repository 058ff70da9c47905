"""Phrase tables of login walls and "page not found" pages, and the title-only words.

Data, in the format of :mod:`crawler.decide.blocks_phrases` (which parses them with the block
phrases into one ``PHRASES`` table): per language, one phrase a line, lower-case, a leading ``!``
marks a strong phrase.
"""

from __future__ import annotations

__all__ = ["LOGIN", "SOFT_404", "TITLE_WORDS"]

LOGIN = {
    "en": """
        !sign in to continue
        !log in to continue
        !login to continue
        !please log in
        !please sign in
        !please login
        !you must be logged in
        !you need to log in
        !you need to sign in
        !login required
        !sign-in required
        !log in to view
        !sign in to view
        !members only
        !authentication required
        !your session has expired
        forgot your password
        forgot password
        sign in to your account
        log in to your account
        remember me
        """,
    "de": """
        !bitte melden sie sich an
        !anmeldung erforderlich
        passwort vergessen
        kennwort vergessen
        """,
    "fr": """
        !connectez-vous pour continuer
        !veuillez vous connecter
        !connexion requise
        mot de passe oublié
        """,
    "es": """
        !inicia sesión para continuar
        !debes iniciar sesión
        olvidaste tu contraseña
        """,
    "pt": """
        !faça login para continuar
        !você precisa fazer login
        esqueceu a senha
        esqueceu sua senha
        """,
    "it": """
        !effettua il login
        !accedi per continuare
        password dimenticata
        """,
    "nl": """
        !log in om verder te gaan
        wachtwoord vergeten
        """,
    "pl": """
        !zaloguj się, aby kontynuować
        nie pamiętasz hasła
        """,
    "ru": """
        !войдите, чтобы продолжить
        !необходимо войти
        !требуется авторизация
        забыли пароль
        """,
    "tr": """
        !devam etmek için giriş yapın
        şifremi unuttum
        """,
    "ja": """
        !ログインしてください
        !ログインが必要です
        !会員限定
        パスワードを忘れ
        """,
    "zh": """
        !请先登录
        !請先登入
        !需要登录
        忘记密码
        忘記密碼
        """,
    "ko": """
        !로그인이 필요합니다
        !로그인 후 이용
        비밀번호를 잊으셨나요
        """,
    "ar": """
        !يجب تسجيل الدخول
        نسيت كلمة المرور
        """,
}

SOFT_404 = {
    "en": """
        !page not found
        !404 not found
        !could not be found
        !couldn't be found
        !can't be found
        !cannot be found
        !page you were looking for
        !page you are looking for
        !page you requested
        !page does not exist
        !page doesn't exist
        !page isn't available
        !page is no longer available
        !nothing was found
        !we couldn't find
        !we can't find
        !error 404
        !404 error
        no longer available
        """,
    "de": """
        !seite nicht gefunden
        !seite existiert nicht
        !fehler 404
        !konnte nicht gefunden werden
        nicht mehr verfügbar
        """,
    "fr": """
        !page introuvable
        !page non trouvée
        !erreur 404
        !n'a pas été trouvée
        !n'existe pas ou plus
        la page demandée
        """,
    "es": """
        !página no encontrada
        !no se ha encontrado
        !no se encontró la página
        !error 404
        !la página que buscas
        """,
    "pt": """
        !página não encontrada
        !não foi encontrada
        !erro 404
        !a página que você procura
        """,
    "it": """
        !pagina non trovata
        !errore 404
        """,
    "nl": """
        !pagina niet gevonden
        """,
    "pl": """
        !nie znaleziono strony
        !strona nie istnieje
        """,
    "ru": """
        !страница не найдена
        !ошибка 404
        !такой страницы нет
        !страница не существует
        """,
    "tr": """
        !sayfa bulunamadı
        """,
    "ja": """
        !ページが見つかりません
        !お探しのページは見つかりません
        !お探しのページ
        !ページは存在しません
        """,
    "zh": """
        !页面不存在
        !页面未找到
        !找不到页面
        !您访问的页面不存在
        !頁面不存在
        !找不到網頁
        !找不到該頁面
        """,
    "ko": """
        !페이지를 찾을 수 없습니다
        !존재하지 않는 페이지
        !요청하신 페이지를 찾을 수 없습니다
        """,
    "ar": """
        !الصفحة غير موجودة
        !لم يتم العثور على الصفحة
        """,
}

# Words that count only in the <title>, as whole words: too common in running text.
TITLE_WORDS: dict[str, tuple[str, ...]] = {
    "blocked": (
        "403",
        "forbidden",
        "blocked",
        "access denied",
        "attention required",
        "just a moment",
        "security check",
        "verification",
        "robot check",
        "captcha",
        "sorry",
        "request rejected",
        "не робот",
        "доступ запрещен",
        "доступ запрещён",
    ),
    "login": (
        "sign in",
        "sign-in",
        "log in",
        "login",
        "log-in",
        "anmelden",
        "anmeldung",
        "connexion",
        "se connecter",
        "iniciar sesión",
        "entrar",
        "accedi",
        "inloggen",
        "zaloguj",
        "вход",
        "войти",
        "авторизация",
        "giriş",
        "ログイン",
        "サインイン",
        "登录",
        "登入",
        "로그인",
        "تسجيل الدخول",
    ),
    "soft_404": (
        "404",
        "not found",
        "nicht gefunden",
        "introuvable",
        "no encontrada",
        "não encontrada",
        "non trovata",
        "не найдена",
        "見つかりません",
        "不存在",
        "찾을 수 없",
        "oops",
    ),
}
