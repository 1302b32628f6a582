"""WebDAV and CalDAV request bodies and multistatus parsing (RFC 4918, RFC 4791).

Server XML is parsed with the standard library's ElementTree, which does not fetch
external entities, and whose bundled expat (2.4.1 or later) limits entity expansion.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"

PROPFIND_ETAG = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>
"""

PROPFIND_PRINCIPAL = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>
"""

PROPFIND_HOME_SET = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><C:calendar-home-set/></D:prop></D:propfind>
"""

PROPFIND_CALENDARS = b"""<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
<D:prop><D:resourcetype/><D:displayname/><C:supported-calendar-component-set/>
<D:current-user-privilege-set/></D:prop></D:propfind>
"""

_WRITE_PRIVILEGES = frozenset({f"{DAV}all", f"{DAV}write", f"{DAV}write-content", f"{DAV}bind"})


def calendar_query_by_uid(uid: str) -> bytes:
    """Build a calendar-query REPORT body that selects VEVENTs whose UID contains ``uid``.

    RFC 4791 text-match is a substring match, so callers must compare the returned UIDs
    for equality themselves.
    """
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        '<C:prop-filter name="UID">'
        f'<C:text-match collation="i;octet">{escape(uid)}</C:text-match>'
        "</C:prop-filter></C:comp-filter></C:comp-filter></C:filter>"
        "</C:calendar-query>\n"
    ).encode("utf-8")


@dataclass(slots=True)
class DavResponse:
    """One ``DAV:response`` of a multistatus. ``href`` is the server's string, unchanged."""

    href: str
    props: dict[str, ET.Element] = field(default_factory=dict)
    """Properties reported with status 200, by Clark name (``{DAV:}getetag``)."""

    def text(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None or element.text is None:
            return None
        return element.text.strip() or None

    def child_href(self, name: str) -> str | None:
        """Return the first ``DAV:href`` inside property ``name`` (e.g. calendar-home-set)."""
        element = self.props.get(name)
        if element is None:
            return None
        href = element.find(f"{DAV}href")
        if href is None or href.text is None:
            return None
        return href.text.strip() or None

    def is_writable_event_calendar(self) -> bool:
        """Tell whether this is a calendar collection that accepts VEVENTs from us.

        A server that omits supported-calendar-component-set or
        current-user-privilege-set is assumed to allow VEVENTs or writing.
        """
        resource_type = self.props.get(f"{DAV}resourcetype")
        if resource_type is None or resource_type.find(f"{CALDAV}calendar") is None:
            return False

        components = self.props.get(f"{CALDAV}supported-calendar-component-set")
        if components is not None and len(components):
            names = {comp.get("name", "").upper() for comp in components.iter(f"{CALDAV}comp")}
            if "VEVENT" not in names:
                return False

        privileges = self.props.get(f"{DAV}current-user-privilege-set")
        if privileges is not None and len(privileges):
            granted = {child.tag for priv in privileges.iter(f"{DAV}privilege") for child in priv}
            if not granted & _WRITE_PRIVILEGES:
                return False
        return True


def parse_multistatus(content: bytes) -> list[DavResponse]:
    """Parse a 207 Multi-Status body.

    Raises ValueError when the body is not a DAV:multistatus document.
    """
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ValueError(f"invalid multistatus XML: {exc}") from exc
    if root.tag != f"{DAV}multistatus":
        raise ValueError(f"expected DAV:multistatus, got {root.tag}")

    responses: list[DavResponse] = []
    for node in root.findall(f"{DAV}response"):
        href_node = node.find(f"{DAV}href")
        if href_node is None or not (href_node.text or "").strip():
            continue
        response = DavResponse(href=(href_node.text or "").strip())
        for propstat in node.findall(f"{DAV}propstat"):
            status = propstat.findtext(f"{DAV}status", default="")
            prop = propstat.find(f"{DAV}prop")
            if prop is None or " 200 " not in f"{status} ":
                continue
            for element in prop:
                response.props[element.tag] = element
        responses.append(response)
    return responses


def precondition_href(content: bytes, precondition: str) -> tuple[bool, str | None]:
    """Find a CalDAV precondition element (e.g. ``no-uid-conflict``) in a DAV:error body.

    Returns whether the element is present and the DAV:href inside it, if any.
    """
    try:
        root = ET.fromstring(content)
    except ET.ParseError:
        return False, None

    element = root.find(f".//{CALDAV}{precondition}")
    if element is None:
        return False, None
    href = element.findtext(f"{DAV}href")
    return True, (href.strip() or None) if href else None
