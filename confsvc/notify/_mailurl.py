"""URL parsing and TLS setup shared by the SMTP and IMAP settings."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

from confsvc.errors import ConfigurationError

_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class MailServerUrl:
    """A mail server URL split into its parts, with percent-decoded user, password and path."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None = field(repr=False)
    path: str
    options: Mapping[str, str]
    """Query options other than ``starttls``, each given at most once."""


def parse_mail_url(
    url: str,
    *,
    variable: str,
    plain_scheme: str,
    plain_port: int,
    tls_port: int,
    options: frozenset[str],
) -> MailServerUrl:
    """Split ``<plain_scheme>[s]://user:password@host:port/path?options``.

    The scheme with a trailing ``s`` means implicit TLS. ``starttls=true|false`` is always
    accepted; any other option must be in ``options``.

    Raises:
        ConfigurationError: naming ``variable``, for a wrong scheme, a missing host, a bad
            port, an unknown or repeated option, or ``starttls`` together with implicit TLS.
            The message never contains the password.
    """
    tls_scheme = plain_scheme + "s"
    parts = urlsplit(url.strip())
    if parts.scheme not in {plain_scheme, tls_scheme}:
        raise config_error(
            variable, f"scheme must be {plain_scheme}:// or {tls_scheme}://, not {parts.scheme!r}"
        )
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise config_error(variable, "the port is not a number between 0 and 65535") from exc
    if not host:
        raise config_error(variable, "the host is missing")

    query = _single_valued_query(parts.query, allowed=options | {"starttls"}, variable=variable)
    implicit_tls = parts.scheme == tls_scheme
    starttls = _parse_bool(query.pop("starttls", "false"), option="starttls", variable=variable)
    if implicit_tls and starttls:
        raise config_error(variable, f"{tls_scheme}:// already uses TLS; drop ?starttls=true")

    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise config_error(variable, "a password is given without a user name")

    return MailServerUrl(
        host=host,
        port=port or (tls_port if implicit_tls else plain_port),
        implicit_tls=implicit_tls,
        starttls=starttls,
        username=username,
        password=password,
        path=unquote(parts.path),
        options=query,
    )


def client_tls_context(cafile: str | None, *, variable: str) -> ssl.SSLContext:
    """Build a client TLS context that verifies the server certificate and host name.

    ``cafile`` (PEM) replaces the system CA store when given.

    Raises:
        ConfigurationError: the CA file cannot be read; the message names ``variable``.
    """
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise config_error(variable, f"cannot load cafile {cafile!r}: {exc}") from exc


def config_error(variable: str, reason: str) -> ConfigurationError:
    return ConfigurationError(f"{variable} is invalid: {reason}")


def _single_valued_query(query: str, *, allowed: frozenset[str], variable: str) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise config_error(variable, f"malformed query string: {exc}") from exc
    unknown = sorted(set(parsed) - allowed)
    if unknown:
        raise config_error(variable, f"unknown option(s) {unknown}; known: {sorted(allowed)}")
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise config_error(variable, f"option(s) {repeated} given more than once")
    return {name: values[0] for name, values in parsed.items()}


def _parse_bool(value: str, *, option: str, variable: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE_WORDS:
        return True
    if lowered in _FALSE_WORDS:
        return False
    raise config_error(variable, f"?{option}= must be true or false, not {value!r}")
