"""Asynchronous CalDAV client that writes confsvc's events into people's calendars.

The writer sends plain WebDAV/CalDAV requests over ``httpx.AsyncClient`` instead of using
the ``caldav`` package, because caldav 3.x raises SEQUENCE on every save unless
``increase_seqno=False`` is passed. Here the bytes that confsvc built are stored as they
are (only METHOD is removed), so SEQUENCE stays under confsvc's control. Every create is sent with ``If-None-Match: *`` and every change or delete of an
existing resource with ``If-Match``. Hrefs that a server returns are used as opaque
strings. All failures are raised as the errors in ``confsvc.notify.caldav.errors``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Self
from urllib.parse import urljoin, urlsplit

import httpx

from confsvc.errors import ICalendarError
from confsvc.notify.unavailable import parse_retry_after

from . import davxml
from .errors import (
    CalDAVRejected,
    CalDAVUnavailable,
    CalendarNotFound,
    InvalidDeliveryInput,
    ResourceConflict,
    SyncConflict,
)
from .merge import merge_with_server_copy, object_uids, parse_calendar, prepare_for_storage
from .names import calendar_url_from_template, resource_name

logger = logging.getLogger(__name__)

ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"

_RETRYABLE_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class PutResult:
    href: str
    """Absolute URL of the stored resource, as the writer addressed it."""
    etag: str | None
    """ETag of the stored version, or None when the server did not report one.

    NOTE: a weak ETag (``W/"..."``) is passed on unchanged, but If-Match compares
    strongly (RFC 9110), so a server that only sends weak ETags ends in SyncConflict.
    """
    created: bool
    """True when this write created the resource."""
    overwritten: tuple[str, ...] = ()
    """Server-side values replaced while merging after a 412 (see ``MergedObject``)."""


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    href: str
    """Absolute URL built from the server's href without decoding it."""
    etag: str | None
    data: bytes
    """The calendar object as the server returned it."""


class CalDAVWriter:
    """Client for one CalDAV server and one service account.

    ``timeout`` is in seconds and applies to connecting, each read and each write.
    ``calendar_url_template`` (placeholders ``{base}``, ``{email}``, ``{user}``) maps a
    person to a calendar URL without discovery. Otherwise ``principal_url_template`` (same
    placeholders) gives the person's principal, and the writer looks up its
    calendar-home-set and picks the first calendar collection that stores VEVENTs and that
    the service account may write. ``max_attempts`` bounds the PUT requests of one
    ``put_event`` call (and the DELETE requests of one ``delete_event`` call). Use as an
    async context manager or call ``aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        timeout: float = 10.0,
        calendar_url_template: str | None = None,
        principal_url_template: str | None = None,
        max_attempts: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"CalDAV base URL must be an absolute http(s) URL, got {base_url!r}")

        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._origin = (parts.scheme, parts.netloc.lower())
        self._calendar_url_template = calendar_url_template
        self._principal_url_template = principal_url_template
        self._calendar_cache: dict[str, str] = {}
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": "confsvc-caldav"},
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    # Discovery

    async def calendar_url_for(self, email: str) -> str:
        """Return the URL of the calendar collection where ``email``'s events go.

        Uses the calendar URL template when set, otherwise discovery from the principal
        URL template, otherwise the service account's own principal. Results are cached
        for the writer's lifetime. Raises InvalidDeliveryInput for an invalid address or
        template, CalendarNotFound, CalDAVRejected or CalDAVUnavailable.
        """
        cached = self._calendar_cache.get(email)
        if cached is not None:
            return cached

        if self._calendar_url_template is not None:
            url = self._fill_template(self._calendar_url_template, email)
        elif self._principal_url_template is not None:
            principal = self._fill_template(self._principal_url_template, email)
            url = await self.discover_calendar(principal)
        else:
            url = await self.discover_calendar()

        self._calendar_cache[email] = url
        return url

    def _fill_template(self, template: str, email: str) -> str:
        try:
            return calendar_url_from_template(template, base_url=self.base_url, email=email)
        except ValueError as exc:
            raise InvalidDeliveryInput(str(exc)) from exc

    async def discover_calendar(self, principal_url: str | None = None) -> str:
        """Find a writable VEVENT calendar under a principal (RFC 4791, section 6.2.1).

        Without ``principal_url`` the service account's current-user-principal is used.
        Sends PROPFIND requests with Depth 0 and then Depth 1. Raises CalendarNotFound,
        CalDAVRejected or CalDAVUnavailable.
        """
        if principal_url is None:
            found = await self._propfind_one(self.base_url, davxml.PROPFIND_PRINCIPAL)
            principal_href = found.child_href(f"{davxml.DAV}current-user-principal")
            if principal_href is None:
                raise CalendarNotFound(self.base_url, "no current-user-principal")
            principal_url = self._absolute(self.base_url, principal_href)

        found = await self._propfind_one(principal_url, davxml.PROPFIND_HOME_SET)
        home_href = found.child_href(f"{davxml.CALDAV}calendar-home-set")
        if home_href is None:
            raise CalendarNotFound(principal_url, "no calendar-home-set")
        home_url = self._absolute(principal_url, home_href)

        response = await self._send(
            "PROPFIND",
            home_url,
            headers={"Depth": "1", "Content-Type": XML_CONTENT_TYPE},
            content=davxml.PROPFIND_CALENDARS,
        )
        if response.status_code != 207:
            raise self._status_error(response, home_url, "PROPFIND")
        for candidate in self._parse_multistatus(response, home_url):
            if candidate.is_writable_event_calendar():
                url = self._absolute(home_url, candidate.href)
                logger.info("caldav calendar discovered principal=%s calendar=%s", principal_url, url)
                return url
        raise CalendarNotFound(home_url, "no calendar collection accepts VEVENTs from this account")

    # Reading

    def event_url(self, calendar_url: str, uid: str) -> str:
        """Return the URL at which a new event with ``uid`` is created (see resource_name)."""
        collection = calendar_url if calendar_url.endswith("/") else calendar_url + "/"
        return self._absolute(self.base_url, collection) + resource_name(uid)

    async def get_event(self, href: str) -> RemoteEvent | None:
        """GET one calendar object, or return None when the server replies 404 or 410.

        When the reply has no ETag header, a PROPFIND fetches getetag. Raises
        CalDAVRejected or CalDAVUnavailable.
        """
        url = self._absolute(self.base_url, href)
        response = await self._send("GET", url, headers={"Accept": "text/calendar"})
        if response.status_code in (404, 410):
            return None
        if response.status_code != 200:
            raise self._status_error(response, url, "GET")

        etag = response.headers.get("ETag") or await self.fetch_etag(url)
        return RemoteEvent(href=url, etag=etag, data=response.content)

    async def fetch_etag(self, href: str) -> str | None:
        """Fetch ``getetag`` with a Depth 0 PROPFIND.

        Returns None when the resource does not exist or the server reports no ETag.
        Raises CalDAVRejected or CalDAVUnavailable.
        """
        url = self._absolute(self.base_url, href)
        response = await self._send(
            "PROPFIND",
            url,
            headers={"Depth": "0", "Content-Type": XML_CONTENT_TYPE},
            content=davxml.PROPFIND_ETAG,
        )
        if response.status_code in (404, 410):
            return None
        if response.status_code != 207:
            raise self._status_error(response, url, "PROPFIND")
        for found in self._parse_multistatus(response, url):
            etag = found.text(f"{davxml.DAV}getetag")
            if etag:
                return etag
        return None

    async def find_by_uid(self, calendar_url: str, uid: str) -> list[RemoteEvent]:
        """Find the events whose UID equals ``uid`` with a calendar-query REPORT.

        The server filters by substring; this method keeps exact matches only. Returns
        an empty list when none exists. Raises CalDAVRejected or CalDAVUnavailable.
        """
        url = self._absolute(self.base_url, calendar_url)
        response = await self._send(
            "REPORT",
            url,
            headers={"Depth": "1", "Content-Type": XML_CONTENT_TYPE},
            content=davxml.calendar_query_by_uid(uid),
        )
        if response.status_code != 207:
            raise self._status_error(response, url, "REPORT")

        matches: list[RemoteEvent] = []
        for found in self._parse_multistatus(response, url):
            href = self._absolute(url, found.href)
            data_text = found.text(f"{davxml.CALDAV}calendar-data")
            if data_text is not None:
                event: RemoteEvent | None = RemoteEvent(
                    href=href,
                    etag=found.text(f"{davxml.DAV}getetag"),
                    data=data_text.encode("utf-8"),
                )
            else:
                event = await self.get_event(href)
            if event is not None and _stored_uid(event) == uid:
                matches.append(event)
        return matches

    # Writing

    async def put_event(
        self,
        calendar_url: str,
        uid: str,
        ics: bytes,
        *,
        etag: str | None,
        href: str | None = None,
    ) -> PutResult:
        """Create or update the event ``uid`` in a calendar collection.

        ``etag`` None means "create, or the ETag is unknown": the PUT carries
        ``If-None-Match: *``. Otherwise it carries ``If-Match: etag``. ``href`` addresses
        a resource that already exists under another name; by default the name comes
        from ``resource_name(uid)``.

        Side effects on the server, in order:
        - 412 on a create: GET the resource. The same UID continues as an update of the
          merged object with the fetched ETag; another UID raises ResourceConflict.
        - 403/409 ``no-uid-conflict`` on a create: the UID is stored under another name,
          which is found (from the error body or by REPORT) and updated instead.
        - 412 on an update: GET the current object and ETag, merge (see
          ``merge_with_server_copy``) and PUT again.
        - 404 on an update, or a 412 whose GET finds nothing: create it again.
        - A 2xx without an ETag header: PROPFIND getetag.
        After ``max_attempts`` PUT requests that failed on a precondition, raises
        SyncConflict. Raises InvalidDeliveryInput when ``ics`` is invalid or has another
        UID, and CalDAVRejected or CalDAVUnavailable for other failures.
        """
        ours = _prepare(ics, uid)
        target = self._absolute(self.base_url, href) if href else self.event_url(calendar_url, uid)
        current_etag = etag or None
        payload = ours
        overwritten: tuple[str, ...] = ()

        for attempt in range(1, self.max_attempts + 1):
            creating = current_etag is None
            headers = {"Content-Type": ICS_CONTENT_TYPE}
            if current_etag is None:
                headers["If-None-Match"] = "*"
            else:
                headers["If-Match"] = current_etag
            response = await self._send("PUT", target, headers=headers, content=payload)

            if response.is_success:
                return await self._put_result(
                    target, response, created=creating, overwritten=overwritten
                )

            status = response.status_code
            if creating and status in (403, 409):
                conflict, conflict_href = davxml.precondition_href(response.content, "no-uid-conflict")
                if not conflict:
                    raise self._status_error(response, target, "PUT")
                existing = await self._locate_uid_conflict(calendar_url, uid, conflict_href, target)
                logger.info(
                    "caldav uid stored under another name uid=%s href=%s", uid, existing.href
                )
            elif status == 412 or (status == 404 and not creating):
                logger.info(
                    "caldav put precondition failed href=%s status=%d attempt=%d",
                    target,
                    status,
                    attempt,
                )
                if attempt == self.max_attempts:
                    break
                found = None if status == 404 else await self.get_event(target)
                if found is None:
                    # The resource is gone: write it again as a new resource.
                    current_etag, payload, overwritten = None, ours, ()
                    continue
                _check_same_uid(found, uid)
                existing = found
            else:
                raise self._status_error(response, target, "PUT")

            target = existing.href
            current_etag = existing.etag
            if current_etag is None:
                raise CalDAVUnavailable(
                    f"CalDAV server sent no ETag for {target}, so it cannot be written "
                    "with If-Match; the outbox retries later",
                    href=target,
                )
            merged = merge_with_server_copy(ours, existing.data)
            payload, overwritten = merged.body, merged.overwritten
            if overwritten:
                logger.warning(
                    "caldav merge replaced server values href=%s properties=%s",
                    target,
                    ",".join(overwritten),
                )

        logger.warning("caldav sync conflict href=%s attempts=%d", target, self.max_attempts)
        raise SyncConflict(target, attempts=self.max_attempts)

    async def delete_event(
        self,
        calendar_url: str,
        uid: str,
        *,
        etag: str | None,
        href: str | None = None,
    ) -> None:
        """Delete the event ``uid`` with ``If-Match``. A missing resource counts as deleted.

        With ``etag`` None the resource is fetched first (GET), which also checks that it
        contains ``uid``. A 412 fetches it again and retries, up to ``max_attempts`` DELETE
        requests, then raises SyncConflict. Raises ResourceConflict when the resource contains
        another UID, CalDAVRejected or CalDAVUnavailable.
        """
        if not uid:
            raise InvalidDeliveryInput("the event UID must not be empty")
        target = self._absolute(self.base_url, href) if href else self.event_url(calendar_url, uid)
        current_etag = etag or None

        for attempt in range(1, self.max_attempts + 1):
            if current_etag is None:
                found = await self.get_event(target)
                if found is None:
                    logger.info("caldav delete found nothing href=%s", target)
                    return
                _check_same_uid(found, uid)
                if found.etag is None:
                    raise CalDAVUnavailable(
                        f"CalDAV server sent no ETag for {target}, so it cannot be deleted "
                        "with If-Match; the outbox retries later",
                        href=target,
                    )
                current_etag = found.etag

            response = await self._send("DELETE", target, headers={"If-Match": current_etag})
            if response.is_success or response.status_code in (404, 410):
                logger.info("caldav event deleted href=%s status=%d", target, response.status_code)
                return
            if response.status_code != 412:
                raise self._status_error(response, target, "DELETE")
            logger.info("caldav delete precondition failed href=%s attempt=%d", target, attempt)
            current_etag = None

        logger.warning("caldav sync conflict href=%s attempts=%d", target, self.max_attempts)
        raise SyncConflict(target, attempts=self.max_attempts)

    # Helpers

    async def _put_result(
        self,
        target: str,
        response: httpx.Response,
        *,
        created: bool,
        overwritten: tuple[str, ...],
    ) -> PutResult:
        etag = response.headers.get("ETag")
        if not etag:
            # Servers that rewrite the object (e.g. add SCHEDULE-STATUS) send no ETag.
            # The PUT did succeed, so a failed look-up leaves the ETag unknown instead
            # of failing the delivery. The next write then starts with If-None-Match.
            try:
                etag = await self.fetch_etag(target)
            except (CalDAVRejected, CalDAVUnavailable) as exc:
                logger.warning("caldav etag lookup failed href=%s error=%s", target, exc)
                etag = None

        logger.info(
            "caldav event written href=%s status=%d created=%s", target, response.status_code, created
        )
        return PutResult(href=target, etag=etag or None, created=created, overwritten=overwritten)

    async def _locate_uid_conflict(
        self, calendar_url: str, uid: str, conflict_href: str | None, target: str
    ) -> RemoteEvent:
        if conflict_href is not None:
            found = await self.get_event(self._absolute(target, conflict_href))
            if found is not None:
                _check_same_uid(found, uid)
                return found

        matches = await self.find_by_uid(calendar_url, uid)
        if not matches:
            raise CalDAVRejected(
                f"CalDAV PUT {target} rejected with no-uid-conflict, "
                f"but no resource with UID {uid!r} was found",
                href=target,
            )
        return matches[0]

    async def _propfind_one(self, url: str, body: bytes) -> davxml.DavResponse:
        response = await self._send(
            "PROPFIND",
            url,
            headers={"Depth": "0", "Content-Type": XML_CONTENT_TYPE},
            content=body,
        )
        if response.status_code != 207:
            raise self._status_error(response, url, "PROPFIND")
        found = self._parse_multistatus(response, url)
        if not found:
            raise CalDAVRejected(f"CalDAV PROPFIND {url} returned an empty multistatus", href=url)
        return found[0]

    def _parse_multistatus(self, response: httpx.Response, url: str) -> list[davxml.DavResponse]:
        try:
            return davxml.parse_multistatus(response.content)
        except ValueError as exc:
            raise CalDAVRejected(f"CalDAV server sent an invalid reply for {url}: {exc}", href=url) from exc

    def _absolute(self, base: str, href: str) -> str:
        """Resolve a server href against ``base`` without decoding it.

        Raises CalDAVRejected when the href points to another origin, because the
        service account's credentials must not be sent there.
        """
        url = urljoin(base, href)
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc.lower()) != self._origin:
            raise CalDAVRejected(
                f"CalDAV href {href!r} points outside {self.base_url}; refusing to follow it",
                href=href,
            )
        return url

    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request. Transport failures become CalDAVUnavailable or CalDAVRejected."""
        try:
            return await self._client.request(method, url, headers=headers, content=content)
        except httpx.TimeoutException as exc:
            logger.warning("caldav request timed out method=%s href=%s", method, url)
            raise CalDAVUnavailable(
                f"CalDAV {method} {url} timed out after {self.timeout} s", href=url
            ) from exc
        except httpx.HTTPError as exc:
            logger.warning(
                "caldav request failed method=%s href=%s error=%s", method, url, type(exc).__name__
            )
            raise CalDAVUnavailable(f"CalDAV {method} {url} failed: {exc!r}", href=url) from exc
        except httpx.InvalidURL as exc:
            raise CalDAVRejected(f"invalid CalDAV URL {url!r}: {exc}", href=url) from exc

    def _status_error(
        self, response: httpx.Response, url: str, method: str
    ) -> CalDAVUnavailable | CalDAVRejected:
        status = response.status_code
        message = f"CalDAV {method} {url} failed with HTTP {status} {response.reason_phrase}"
        logger.warning("caldav request rejected method=%s href=%s status=%d", method, url, status)
        if status >= 500 or status in _RETRYABLE_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return CalDAVUnavailable(message, href=url, status=status, retry_after=retry_after)
        return CalDAVRejected(message, href=url, status=status)


def _prepare(ics: bytes, uid: str) -> bytes:
    if not uid:
        raise InvalidDeliveryInput("the event UID must not be empty")
    try:
        return prepare_for_storage(ics, uid=uid)
    except ICalendarError as exc:
        raise InvalidDeliveryInput(str(exc)) from exc


def _stored_uid(event: RemoteEvent) -> str | None:
    try:
        uids = object_uids(parse_calendar(event.data, label=f"the object at {event.href}"))
    except ICalendarError:
        return None
    return next(iter(uids)) if len(uids) == 1 else None


def _check_same_uid(event: RemoteEvent, uid: str) -> None:
    found_uid = _stored_uid(event)
    if found_uid != uid:
        raise ResourceConflict(event.href, expected_uid=uid, found_uid=found_uid)
