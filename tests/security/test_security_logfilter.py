from __future__ import annotations

import logging

from uvicorn.logging import AccessFormatter

from confsvc.security.logfilter import SecretMaskingFilter


def access_record(path: str) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
    )


def test_access_log_keeps_arguments_for_uvicorn() -> None:
    record = access_record("/api/v1/meetings")
    assert SecretMaskingFilter().filter(record)
    line = AccessFormatter(fmt="%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert line == "127.0.0.1:5000 GET /api/v1/meetings HTTP/1.1 200 OK"


def test_access_log_masks_token_in_path() -> None:
    record = access_record("/feed/x?token=abcdef1234567890")
    SecretMaskingFilter().filter(record)
    line = AccessFormatter(fmt="%(request_line)s").format(record)
    assert "abcdef1234567890" not in line
    assert "token=***" in line
