"""Accounts, sessions, CSRF, login throttling, API tokens, audit log, OIDC and LDAP login.

Session API for the web pages
-----------------------------
``POST /auth/login``
    JSON ``{"email": ..., "password": ...}`` or an urlencoded form with ``email``,
    ``password`` and an optional ``next`` (a local path such as ``/meetings``). Success
    sets two cookies and returns 200 with ``{"person", "csrf_token", "expires_at",
    "method"}``; a form with a valid ``next`` gets ``303 See Other`` to it instead.
    Wrong credentials return 401 (one message whether or not the account exists); a
    locked account or client address returns 429 with ``Retry-After`` in seconds. A
    request whose ``Origin`` header names another site is rejected with 403.
``POST /auth/logout``
    Ends the session of the cookie and clears both cookies (204). Needs the CSRF token.
``GET /api/v1/me``
    The logged-in person (id, email, name, roles, locale, time_zone) and
    ``authenticated_by`` (``session`` or ``token``); 401 without a login.
``GET /auth/oidc/login?next=/path`` and ``GET /auth/oidc/callback``
    Single sign-on through OpenID Connect when ``CONFSVC_OIDC_ISSUER`` and
    ``CONFSVC_OIDC_CLIENT_ID`` are set (404 otherwise). Link the login page's SSO
    button to the first; the provider returns to the second, which sets the same
    cookies and redirects (303) to ``next``. With ``CONFSVC_LDAP_URL`` set,
    ``/auth/login`` also accepts directory (LDAP) passwords.

Cookies: ``confsvc_session`` (``CONFSVC_SESSION_COOKIE``) is HttpOnly, SameSite=Lax, path
``/`` and Secure when ``CONFSVC_BASE_URL`` is https; it authenticates every /api/v1
request from the browser just as a Bearer token does, for ``CONFSVC_SESSION_HOURS``.
``confsvc_session_csrf`` contains the CSRF token and is readable by scripts. Every POST,
PUT, PATCH and DELETE made with the session cookie must send that token in the
``X-CSRF-Token`` header (htmx: ``hx-headers='{"X-CSRF-Token": "..."}'``) or, for plain
HTML forms, in a hidden ``csrf_token`` field; without it the answer is 403. Requests with
an ``Authorization: Bearer`` header ignore the cookie and need no CSRF token.

Other building blocks
---------------------
- ``record_audit(session, *, actor, action, object_type, object_id, details)`` in
  ``confsvc.security.audit``: call it in the transaction of every change.
- ``safe_cell(value)`` in ``confsvc.security.export``: use it for every CSV/xlsx cell.
- ``confsvc.security.access``: per-object rules for materials, minutes and action items.
"""

from confsvc.security.audit import record_audit
from confsvc.security.export import safe_cell

__all__ = ["record_audit", "safe_cell"]
