"""Message translation for API errors, e-mails and pages.

Messages are written in English in the code and translated through gettext catalogs
(``confsvc/locale/<locale>/LC_MESSAGES/messages.po``), which Babel reads directly, so no
compile step is needed. The request's language lives in a context variable that the
HTTP layer sets from the person's preference or Accept-Language.
"""

from __future__ import annotations

import contextvars
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

SUPPORTED_LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"

_current_locale: contextvars.ContextVar[str] = contextvars.ContextVar("confsvc_locale", default=DEFAULT_LOCALE)
_LOCALE_DIR = Path(__file__).parent / "locale"


@cache
def _catalog(locale: str) -> dict[str, str]:
    path = _LOCALE_DIR / locale.replace("-", "_") / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale.replace("-", "_"))
    return {str(message.id): str(message.string) for message in catalog if message.id and message.string}


def normalise_locale(value: str | None) -> str | None:
    """Map a language tag such as ``zh``, ``zh-Hans-CN`` or ``en-US`` to a supported locale."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def negotiate(accept_language: str | None, *, default: str = DEFAULT_LOCALE) -> str:
    """Pick the best supported locale from an Accept-Language header value."""
    if not accept_language:
        return default
    choices: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        locale = normalise_locale(tag)
        if locale and quality > 0:
            choices.append((-quality, index, locale))
    return sorted(choices)[0][2] if choices else default


def set_locale(locale: str) -> contextvars.Token[str]:
    return _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    return _current_locale.get()


def gettext(message: str, *, locale: str | None = None, **params: object) -> str:
    """Translate ``message`` into ``locale`` (default: the current one) and fill ``params``."""
    chosen = locale or _current_locale.get()
    text = message if chosen == "en" else _catalog(chosen).get(message, message)
    return text.format(**params) if params else text


_ = gettext
