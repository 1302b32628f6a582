"""parse_itip on arbitrary input raises only ICalendarError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confsvc.booking.ical import ICalendarError, parse_itip

SKELETON = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:{method}\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
    "DTSTAMP:{stamp}\r\nSEQUENCE:{seq}\r\nDTSTART;TZID={tzid}:{start}\r\n"
    "ATTENDEE;PARTSTAT={partstat};CN={cn}:{address}\r\n{extra}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)

calendar_like = st.builds(
    SKELETON.format,
    method=st.sampled_from(["REPLY", "COUNTER", "CANCEL", "REQUEST", "PUBLISH", ""]),
    uid=st.text(max_size=20),
    stamp=st.sampled_from(["20261206T030000Z", "2026", "", "20261206T250000Z"]),
    seq=st.sampled_from(["0", "-1", "x", "99999999999999999999"]),
    tzid=st.sampled_from(["Asia/Shanghai", "China Standard Time", "FOO", '"a;b"', "../etc"]),
    start=st.sampled_from(["20261210T140000", "20261210", "bad", "20261310T140000"]),
    partstat=st.sampled_from(["ACCEPTED", "DELEGATED", ""]),
    cn=st.text(max_size=15),
    address=st.text(max_size=25),
    extra=st.text(max_size=40),
)


def check(data: bytes | str) -> None:
    try:
        parse_itip(data, default_tz="Asia/Shanghai")
    except ICalendarError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_bytes(data):
    check(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_text(data):
    check(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_like)
def test_fuzz_calendar_shaped(data):
    check(data)
