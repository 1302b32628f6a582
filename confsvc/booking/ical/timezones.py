"""Time-zone names: IANA lookup, Windows names, and cached VTIMEZONE components.

A TZID found in a calendar file is resolved in this order: an IANA name known to
zoneinfo, a Windows name from :data:`WINDOWS_TO_IANA` (also with Outlook's numeric
suffix, as in ``Eastern Standard Time 1``), an IANA name in the VTIMEZONE's
``X-LIC-LOCATION``, and finally the VTIMEZONE definition embedded in the file. A
TZID that none of these resolves is reported to the caller, who decides the fallback.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import tzinfo

import icalendar

__all__ = [
    "WINDOWS_TO_IANA",
    "embedded_zone",
    "iana_zone",
    "resolve_known_name",
    "vtimezone",
    "windows_zone",
]

# Windows time-zone names mapped to the IANA zone of territory "001" (the default region),
# as in CLDR's windowsZones.xml, limited to the zones that business mail usually carries.
# NOTE: typed from the CLDR table's well-known rows, not generated from a pinned CLDR file.
WINDOWS_TO_IANA: dict[str, str] = {
    "Dateline Standard Time": "Etc/GMT+12",
    "UTC-11": "Etc/GMT+11",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time (Mexico)": "America/Tijuana",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time (Mexico)": "America/Mazatlan",
    "Mountain Standard Time": "America/Denver",
    "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota",
    "Eastern Standard Time (Mexico)": "America/Cancun",
    "Eastern Standard Time": "America/New_York",
    "US Eastern Standard Time": "America/Indianapolis",
    "Venezuela Standard Time": "America/Caracas",
    "Atlantic Standard Time": "America/Halifax",
    "SA Western Standard Time": "America/La_Paz",
    "Pacific SA Standard Time": "America/Santiago",
    "Newfoundland Standard Time": "America/St_Johns",
    "E. South America Standard Time": "America/Sao_Paulo",
    "Argentina Standard Time": "America/Buenos_Aires",
    "SA Eastern Standard Time": "America/Cayenne",
    "UTC-02": "Etc/GMT+2",
    "Azores Standard Time": "Atlantic/Azores",
    "Cape Verde Standard Time": "Atlantic/Cape_Verde",
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "GTB Standard Time": "Europe/Bucharest",
    "Middle East Standard Time": "Asia/Beirut",
    "Egypt Standard Time": "Africa/Cairo",
    "South Africa Standard Time": "Africa/Johannesburg",
    "FLE Standard Time": "Europe/Kiev",
    "Israel Standard Time": "Asia/Jerusalem",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Arabic Standard Time": "Asia/Baghdad",
    "Turkey Standard Time": "Europe/Istanbul",
    "Arab Standard Time": "Asia/Riyadh",
    "Russian Standard Time": "Europe/Moscow",
    "E. Africa Standard Time": "Africa/Nairobi",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Afghanistan Standard Time": "Asia/Kabul",
    "Pakistan Standard Time": "Asia/Karachi",
    "West Asia Standard Time": "Asia/Tashkent",
    "India Standard Time": "Asia/Calcutta",
    "Sri Lanka Standard Time": "Asia/Colombo",
    "Nepal Standard Time": "Asia/Katmandu",
    "Central Asia Standard Time": "Asia/Almaty",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "Myanmar Standard Time": "Asia/Rangoon",
    "SE Asia Standard Time": "Asia/Bangkok",
    "N. Central Asia Standard Time": "Asia/Novosibirsk",
    "China Standard Time": "Asia/Shanghai",
    "North Asia Standard Time": "Asia/Krasnoyarsk",
    "Singapore Standard Time": "Asia/Singapore",
    "W. Australia Standard Time": "Australia/Perth",
    "Taipei Standard Time": "Asia/Taipei",
    "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
    "North Asia East Standard Time": "Asia/Irkutsk",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "West Pacific Standard Time": "Pacific/Port_Moresby",
    "Tasmania Standard Time": "Australia/Hobart",
    "Vladivostok Standard Time": "Asia/Vladivostok",
    "Central Pacific Standard Time": "Pacific/Guadalcanal",
    "New Zealand Standard Time": "Pacific/Auckland",
    "UTC+12": "Etc/GMT-12",
    "Fiji Standard Time": "Pacific/Fiji",
    "Tonga Standard Time": "Pacific/Tongatapu",
}

_IANA_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*")
_OUTLOOK_SUFFIX = re.compile(r"\s+\d+$")


@functools.lru_cache(maxsize=512)
def iana_zone(name: str) -> zoneinfo.ZoneInfo | None:
    """Return the zoneinfo zone called ``name``, or None when it is not an IANA key."""
    if not _IANA_KEY.fullmatch(name):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def windows_zone(name: str) -> str | None:
    """Return the IANA name for a Windows zone name, or None when the table lacks it.

    Outlook sometimes appends a number to the name (``Eastern Standard Time 1``); it is
    ignored. Matching ignores case and surrounding whitespace.
    """
    cleaned = _OUTLOOK_SUFFIX.sub("", name.strip())
    return _WINDOWS_FOLDED.get(cleaned.casefold())


_WINDOWS_FOLDED = {key.casefold(): value for key, value in WINDOWS_TO_IANA.items()}


def resolve_known_name(tzid: str) -> str | None:
    """Return the IANA name for ``tzid`` when it is an IANA or Windows name, else None."""
    stripped = tzid.strip()
    if iana_zone(stripped) is not None:
        return stripped
    mapped = windows_zone(stripped)
    if mapped is not None and iana_zone(mapped) is not None:
        return mapped
    return None


@functools.lru_cache(maxsize=64)
def vtimezone(name: str) -> icalendar.Timezone:
    """Return the VTIMEZONE component for the IANA zone ``name``, built once per process.

    icalendar 7 takes about 10 ms to build one, so the component is cached and shared:
    callers add it to calendars but never change it. Raises ``KeyError`` when ``name`` is
    not a zoneinfo key.
    """
    if iana_zone(name) is None:
        raise KeyError(name)
    return icalendar.Timezone.from_tzid(name)


def embedded_zone(component: icalendar.Timezone) -> tuple[str | None, tzinfo | None]:
    """Return (IANA name, tzinfo) for a VTIMEZONE found inside a file.

    The IANA name comes from ``X-LIC-LOCATION`` when it holds one. Otherwise the tzinfo is
    built from the component's own STANDARD/DAYLIGHT rules and the name is None. Both are
    None when the component cannot be turned into a tzinfo.
    """
    location = component.get("X-LIC-LOCATION")
    if location is not None:
        name = resolve_known_name(str(location))
        if name is not None:
            return name, iana_zone(name)
    try:
        return None, component.to_tz()
    except Exception:  # noqa: BLE001 - icalendar raises many kinds for broken rules
        return None, None
