"""Resource names and calendar URLs derived from UIDs and e-mail addresses."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

MAX_PLAIN_NAME_LENGTH = 100
"""Maximum length (in characters) of a UID used verbatim as a resource name. Longer UIDs are hashed."""

_PLAIN_NAME = re.compile(r"[A-Za-z0-9._@-]+")


def resource_name(uid: str) -> str:
    """Return the last path segment (``<name>.ics``) under which an event is stored.

    The UID itself is used when it contains only ``A-Z a-z 0-9 . _ @ -``, does not start
    with a dot and has at most ``MAX_PLAIN_NAME_LENGTH`` characters. Any other UID (URLs,
    base64 with ``/`` and ``+``, spaces, non-ASCII, Outlook global object ids) becomes the
    SHA-1 hex digest of its UTF-8 bytes, so the name never contains ``/``, ``:``, spaces or
    non-ASCII characters that servers decode or reject.

    Raises ValueError for an empty UID.
    """
    if not uid:
        raise ValueError("UID must not be empty")

    plain = (
        len(uid) <= MAX_PLAIN_NAME_LENGTH
        and not uid.startswith(".")
        and _PLAIN_NAME.fullmatch(uid) is not None
    )
    if plain:
        return f"{uid}.ics"
    return hashlib.sha1(uid.encode("utf-8")).hexdigest() + ".ics"


def calendar_url_from_template(template: str, *, base_url: str, email: str) -> str:
    """Fill a calendar URL template such as ``{base}/{email}/calendar/``.

    Placeholders: ``{base}`` is ``base_url`` without a trailing slash, ``{email}`` the
    address and ``{user}`` its local part, both percent-encoded except ``@`` and ``+``.
    The result always ends with ``/``. Raises ValueError for an address without ``@`` or
    a template with an unknown placeholder.
    """
    local_part, at, domain = email.partition("@")
    if not at or not local_part or not domain:
        raise ValueError(f"invalid e-mail address for a calendar URL: {email!r}")

    try:
        url = template.format(
            base=base_url.rstrip("/"),
            email=quote(email, safe="@+"),
            user=quote(local_part, safe="+"),
        )
    except (KeyError, IndexError) as exc:
        raise ValueError(
            f"calendar URL template {template!r} has an unknown placeholder; "
            "use {base}, {email} or {user}"
        ) from exc

    if not url.endswith("/"):
        url += "/"
    return url
