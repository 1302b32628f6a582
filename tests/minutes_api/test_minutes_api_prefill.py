"""Attendance prefilled from the participant list of a BigBlueButton bridge.

The bridge is a fake on 127.0.0.1 that speaks the BigBlueButton API (``getMeetingInfo``
with a SHA-1 checksum over call name, query and shared secret).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from litestar.testing import AsyncTestClient

from confsvc.settings import Settings
from tests.conftest import Account
from tests.minutes_api.conftest import book_meeting, create_bridge, make_people

pytestmark = pytest.mark.usefixtures("db_url")

SECRET = "bbb-shared-secret-0123456789"
ATTENDEES_XML = (
    "<attendee><userID>w_1</userID><fullName>李娜</fullName><role>MODERATOR</role><clientType>HTML5</clientType></attendee>"
    "<attendee><userID>w_2</userID><fullName>Emily Carter</fullName><role>VIEWER</role><clientType>HTML5</clientType></attendee>"
    "<attendee><userID>w_3</userID><fullName>王 芳</fullName><role>VIEWER</role><clientType>HTML5</clientType></attendee>"
)


class _BigBlueButton(BaseHTTPRequestHandler):
    requested: list[str] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        call = parts.path.rsplit("/", 1)[-1]
        query, _sep, checksum = parts.query.rpartition("&checksum=")
        expected = hashlib.sha1((call + query + SECRET).encode()).hexdigest()
        if checksum != expected:
            body = "<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey><message>bad</message></response>"
        elif call == "getMeetingInfo":
            type(self).requested.append(dict(parse_qsl(query))["meetingID"])
            body = f"<response><returncode>SUCCESS</returncode><running>true</running><attendees>{ATTENDEES_XML}</attendees></response>"
        else:
            body = "<response><returncode>SUCCESS</returncode></response>"
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def bbb_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BigBlueButton)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/bigbluebutton/api"
    finally:
        server.shutdown()
        server.server_close()


async def test_prefill_from_bigbluebutton(
    client: AsyncTestClient, settings: Settings, admin: Account, organiser: Account, bbb_server: str
) -> None:
    people = await make_people(settings, admin, organiser)
    bridge = await create_bridge(client, admin, name="BBB", kind="bigbluebutton", settings={"api_url": bbb_server, "secret": SECRET})
    static = await create_bridge(client, admin, name="固定电话桥")
    starts_at = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    meeting = await book_meeting(client, organiser, starts_at=starts_at, bridge_id=bridge["id"])
    url = f"/api/v1/meetings/{meeting['id']}/minutes"

    response = await client.post(f"{url}/attendance/prefill", headers=people["secretary"].headers)

    assert response.status_code == 200, response.text
    statuses = {(a["email"], a["name"]): a["status"] for a in response.json()["attendance"]}
    assert statuses == {
        ("li.na@example.com", "李娜"): "present",
        ("zhao.qiang@example.com", "赵强"): "absent",
        ("liu.yang@example.com", "刘洋"): "absent",
        ("wang.fang@example.com", "王芳"): "present",
        (None, "Emily Carter"): "guest",
    }
    assert _BigBlueButton.requested[-1].startswith("confsvc-")
    by_member = await client.post(f"{url}/attendance/prefill", headers=people["li_na"].headers)
    assert by_member.status_code == 403

    other = await book_meeting(client, organiser, starts_at=starts_at + timedelta(hours=2), bridge_id=static["id"])
    unsupported = await client.post(f"/api/v1/meetings/{other['id']}/minutes/attendance/prefill", headers=people["secretary"].headers)
    assert unsupported.status_code == 409
    assert "static" in unsupported.json()["detail"]
