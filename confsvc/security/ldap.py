"""LDAP password check (simple bind) for ``POST /auth/login``.

The login name fills ``CONFSVC_LDAP_BIND_DN_TEMPLATE`` (``{username}`` is the part before
``@`` when an e-mail address is typed, ``{email}`` the whole address, both escaped as
an RDN value). A successful bind proves the password; the entry found with
``CONFSVC_LDAP_SEARCH_FILTER`` (or the bind DN itself) supplies the e-mail address that
names the confsvc person. An empty password is rejected before any bind, because LDAP
servers treat a simple bind without a password as an anonymous bind that succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from confsvc.errors import ConfsvcError
from confsvc.settings import SecuritySettings

logger = logging.getLogger(__name__)


class LdapUnavailable(ConfsvcError):
    """The LDAP server could not be reached or returned an error other than invalid credentials."""


@dataclass(frozen=True)
class LdapIdentity:
    dn: str
    email: str
    name: str | None


def _username(login: str) -> str:
    return login.partition("@")[0] if "@" in login else login


def _authenticate(rules: SecuritySettings, login: str, password: str) -> LdapIdentity | None:
    username = _username(login)
    bind_dn = rules.ldap_bind_dn_template.format(username=escape_rdn(username), email=escape_rdn(login))
    server = ldap3.Server(rules.ldap_url or "", connect_timeout=rules.ldap_timeout_seconds, get_info=ldap3.NONE)
    connection = ldap3.Connection(
        server, user=bind_dn, password=password, receive_timeout=rules.ldap_timeout_seconds, raise_exceptions=False, read_only=True
    )
    try:
        if not connection.bind():
            result = connection.result or {}
            if result.get("result") == 49:  # invalidCredentials
                return None
            logger.warning("ldap bind failed result=%s", result.get("result"))
            raise LdapUnavailable("the LDAP server rejected the bind")
        base = rules.ldap_search_base or bind_dn
        scope = ldap3.SUBTREE if rules.ldap_search_base else ldap3.BASE
        search_filter = rules.ldap_search_filter.format(
            username=escape_filter_chars(username), email=escape_filter_chars(login)
        ) if rules.ldap_search_base else "(objectClass=*)"
        connection.search(base, search_filter, search_scope=scope, attributes=[rules.ldap_email_attribute, "cn"], size_limit=2)
        entries = connection.entries
        if len(entries) != 1:
            logger.warning("ldap user entry not unique entries=%d", len(entries))
            return None
        entry = entries[0]
        emails = entry[rules.ldap_email_attribute].values if rules.ldap_email_attribute in entry else []
        if not emails:
            logger.warning("ldap user entry has no e-mail attribute attribute=%s", rules.ldap_email_attribute)
            return None
        names = entry["cn"].values if "cn" in entry else []
        return LdapIdentity(dn=entry.entry_dn, email=str(emails[0]).strip().lower(), name=str(names[0]) if names else None)
    except LDAPException as exc:
        logger.warning("ldap request failed error=%s", type(exc).__name__)
        raise LdapUnavailable("the LDAP server is unreachable") from exc
    finally:
        connection.unbind()


async def ldap_authenticate(rules: SecuritySettings, login: str, password: str) -> LdapIdentity | None:
    """Bind as the user; return their identity, or None for wrong credentials.

    Runs the blocking ldap3 client in a worker thread. Raises ``LdapUnavailable`` when the
    server cannot be reached or fails.
    """
    if not rules.ldap_url or not password or not login.strip():
        return None
    return await asyncio.to_thread(_authenticate, rules, login.strip(), password)
