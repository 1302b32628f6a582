"""Masking of credentials in log records.

``SecretMaskingFilter`` rewrites a record's message so that bearer tokens, API tokens,
RSVP link tokens and ``token=``/``pin=``/``password=`` style values never reach a log
handler. ``install_secret_filter`` adds it once per process, both as a record factory
(which covers every logger and handler, including ones created later) and on the root
logger's current handlers.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from confsvc.directory.services import TOKEN_PREFIX

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    (re.compile(rf"\b{re.escape(TOKEN_PREFIX)}[A-Za-z0-9_-]{{8,}}"), TOKEN_PREFIX + MASK),
    (re.compile(r"([?&](?:code|state)=)[^&\s#\"']+"), r"\1" + MASK),
    (re.compile(r"(/rsvp/)[^/\s?#\"']+"), r"\1" + MASK),
    (
        re.compile(
            r"(?i)\b((?:access_|id_|refresh_|api_|csrf_)?token|(?:host_|participant_)?pin|password|passwd|secret|"
            r"client_secret|code_verifier)([\"']?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;]+)"
        ),
        r"\1\2" + MASK,
    ),
)


def mask_secrets(text: str) -> str:
    """Return ``text`` with every credential-shaped value replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretMaskingFilter(logging.Filter):
    """Rewrite ``record.msg``/``args`` (and cached exception text) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        masked = mask_secrets(message)
        if masked != message:
            record.msg, record.args = self._masked_parts(record, masked)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        record._secrets_masked = True
        return True

    @staticmethod
    def _masked_parts(record: logging.LogRecord, masked: str) -> tuple[object, tuple[object, ...]]:
        """Mask inside the arguments where that suffices, else replace the whole message.

        Formatters such as uvicorn's access log unpack ``record.args``, so its shape is kept
        whenever masking the string arguments alone removes every secret.
        """
        if isinstance(record.args, tuple) and record.args:
            args = tuple(mask_secrets(arg) if isinstance(arg, str) else arg for arg in record.args)
            try:
                candidate = str(record.msg) % args
            except (TypeError, ValueError):
                candidate = None
            if candidate is not None and mask_secrets(candidate) == candidate:
                return record.msg, args
        return masked, ()


_installed = False


def install_secret_filter() -> None:
    """Mask secrets in every log record of this process; calling it again does nothing."""
    global _installed
    if _installed:
        return
    mask = SecretMaskingFilter()
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        mask.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    for handler in logging.getLogger().handlers:
        handler.addFilter(mask)
    _installed = True
