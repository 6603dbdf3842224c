"""No log line, at DEBUG, carries a customer reference, recording content, a token or a password:
unique markers go through the whole flow (register, upload, sign-in with a wrong and the right
password, search by customer reference, open a case, request, approve, play), once in-process with
every logger captured at DEBUG (caplog) and once against the real server, its standard error read.

tests/ops/test_structured_logs.py checks an upload's log lines for the content and token; this
follows the markers through the staff side as well.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from recorder.services import create_recorder_client
from tests.factories import SessionPayload
from tests.ops.test_structured_logs import LoggingLiveServer
from tests.staff import add_staff, enrol_totp, fresh_totp_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.local_store]

SUFFIX = os.urandom(6).hex()
CUSTOMER = f"CUSTOMER-MARKER-{SUFFIX}"
CONTENT = f"CONTENT-MARKER-{SUFFIX}".encode()
PASSWORD = f"PASSWORD-MARKER-{SUFFIX}-long enough"
DPO_PASSWORD = f"DPO-PASSWORD-MARKER-{SUFFIX}"


class Caller:
    """One user's HTTP calls, the same through Django's test client or over real HTTP."""

    def __init__(self, base: str | None) -> None:
        self.base = base
        self.http = requests.Session() if base else None
        self.client = None if base else Client()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if self.http is not None:
            token = self.http.cookies.get("csrftoken")
            if token:
                headers.setdefault("X-CSRFToken", token)
            return self.http.request(method, self.base + path, headers=headers, timeout=60, **kwargs)
        assert self.client is not None
        morsel = self.client.cookies.get("csrftoken")
        if morsel:
            headers.setdefault("X-CSRFToken", morsel.value)
        extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        data, content_type = kwargs.get("data", b""), headers.get("Content-Type", "application/octet-stream")
        if "json" in kwargs:
            import json

            data, content_type = json.dumps(kwargs["json"]), "application/json"
        if method == "GET":
            return self.client.get(path, kwargs.get("params"), **extra)
        if "form" in kwargs:
            return self.client.post(path, kwargs["form"], **extra)
        return self.client.generic(method, path, data, content_type=content_type, **extra)

    def step_up(self, username: str, password: str) -> int:
        """The step-up form: password and a current code of the person's authenticator."""
        self.call("GET", "/accounts/step-up/")
        code = fresh_totp_code(get_user_model().objects.get(username=username))
        form = {"password": password, "code": code, "next": "/"}
        if self.http is not None:
            form["csrfmiddlewaretoken"] = str(self.http.cookies["csrftoken"])
            return int(self.call("POST", "/accounts/step-up/", data=form, allow_redirects=False).status_code)
        return int(self.call("POST", "/accounts/step-up/", form=form).status_code)

    def sign_in(self, username: str, password: str) -> int:
        self.call("GET", "/accounts/login/")
        if self.http is not None:
            form = {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            }
            return int(self.call("POST", "/accounts/login/", data=form, allow_redirects=False).status_code)
        return int(
            self.call(
                "POST", "/accounts/login/", form={"username": username, "password": password}
            ).status_code
        )


def whole_flow(base: str | None, token: str) -> None:
    recorder = Caller(base)
    auth = {"Authorization": f"Bearer {token}"}
    session = recorder.call(
        "POST", "/api/v1/sessions", json=SessionPayload(customer_ref=CUSTOMER), headers=auth
    )
    assert session.status_code == 201
    session_id = session.json()["id"]
    body = CONTENT * 20000
    upload = recorder.call(
        "PUT", f"/api/v1/sessions/{session_id}/recording", data=body,
        headers={**auth, "Content-Type": "video/webm"},
    )  # fmt: skip
    assert upload.status_code == 201
    recording_id = upload.json()["id"]
    refused = recorder.call("PUT", f"/api/v1/sessions/{session_id}/recording", data=CONTENT, headers=auth)
    assert refused.status_code == 409

    officer, dpo = Caller(base), Caller(base)
    assert officer.sign_in("olivia", PASSWORD + "-wrong") == 200  # the form again: refused
    assert officer.sign_in("olivia", PASSWORD) == 302
    assert dpo.sign_in("dora", DPO_PASSWORD) == 302
    # Approving and playing want a step-up with password and a current TOTP code.
    assert officer.step_up("olivia", PASSWORD) == 302
    assert dpo.step_up("dora", DPO_PASSWORD) == 302
    found = officer.call("GET", "/api/v1/session-search", params={"customer_ref": CUSTOMER})
    assert found.status_code == 200
    opened = {
        "customer_ref": CUSTOMER,
        "channel": "phone",
        "complaint": "Logged?",
        "session_ids": [session_id],
    }
    case = officer.call("POST", "/api/v1/cases", json=opened)
    assert case.status_code == 201, case.content
    case_id = case.json()["case"]["id"]
    request = officer.call(
        "POST", f"/api/v1/cases/{case_id}/access-requests", json={"justification": "Check."}
    )
    assert request.status_code == 201, request.content
    approved = dpo.call(
        "POST", f"/api/v1/access-requests/{request.json()['id']}/approve", json={"reason": "Ok."}
    )
    assert approved.status_code == 201, approved.content
    stream = officer.call(
        "GET", f"/api/v1/cases/{case_id}/recordings/{recording_id}/stream", headers={"Range": "bytes=0-99999"}
    )
    assert stream.status_code == 206
    content = stream.content if base else b"".join(stream.streaming_content)
    assert content == body[:100000]


MARKERS: list[bytes] = [CUSTOMER.encode(), CONTENT, PASSWORD.encode(), DPO_PASSWORD.encode()]


def assert_no_marker(text: bytes, token: str, where: str) -> None:
    for marker in [*MARKERS, token.encode(), token[len("rvt_") :].encode()]:
        assert marker not in text, f"{marker[:24]!r}... in {where}"


@pytest.fixture
def staff_and_token() -> str:
    # The default password hasher: the live server must verify these passwords too.
    add_staff("olivia", "compliance_officer", PASSWORD)
    add_staff("dora", "data_protection_officer", DPO_PASSWORD)
    for username in ("olivia", "dora"):  # their TOTP secrets must not be logged either
        device = enrol_totp(get_user_model().objects.get(username=username))
        MARKERS.extend([device.key.encode(), base64.b32encode(device.bin_key).rstrip(b"=")])
    return create_recorder_client(name="log-scan-tool")[1]


def test_no_log_record_at_debug_carries_a_marker(
    staff_and_token: str, store, age_keys, caplog: pytest.LogCaptureFixture, settings: Any, tmp_path: Path
) -> None:
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "keys" / "ledger-signing-key.pem")
    settings.LEDGER_SIGNING_KEY = ""
    caplog.set_level(logging.DEBUG)  # the root logger: every logger of every library
    whole_flow(None, staff_and_token)
    assert caplog.records, "nothing was logged: the capture is not working"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_text)s")
    rendered = "\n".join(formatter.format(record) + repr(record.__dict__) for record in caplog.records)
    assert_no_marker(rendered.encode(), staff_and_token, "a log record")


def test_no_line_the_server_writes_at_debug_carries_a_marker(
    staff_and_token: str, store, age_keys, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    keys: Callable[[str], str] = lambda name: str(tmp_path / "keys" / name)  # noqa: E731
    with LoggingLiveServer(
        log, LOG_FORMAT="json", LOG_LEVEL="DEBUG", LEDGER_SIGNING_KEY_FILE=keys("ledger-signing-key.pem")
    ) as server:
        whole_flow(server.url, staff_and_token)
    raw = log.read_bytes()
    assert raw, "the server logged nothing"
    assert_no_marker(raw, staff_and_token, "the server's standard error")
