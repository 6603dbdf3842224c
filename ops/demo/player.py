"""Plays the demo plan against the service's recorder API, as the remote-support tool would."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import requests

from ops.demo.plan import PlannedSession

TIMEOUT = 60


class DemoError(Exception):
    """The service refused or failed in a way the demo did not expect."""


@dataclass
class Tally:
    registered: int = 0
    existing: int = 0
    events: int = 0
    uploaded: int = 0
    refused_as_expected: int = 0


class RecorderToolClient:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.http.request(method, self.url + path, timeout=TIMEOUT, **kwargs)
        except requests.ConnectionError as error:
            raise DemoError(f"The service at {self.url} does not answer; is it running?") from error

    def play(self, planned: PlannedSession, *, session_id: str | None, media: bytes, tally: Tally) -> None:
        """Send whatever of `planned` the service does not have yet."""
        session_id_was_known = session_id is not None
        if session_id is None:
            answer = self._call("POST", "/api/v1/sessions", json=planned.registration())
            _expect(answer, 201, planned)
            session_id = str(answer.json()["id"])
            tally.registered += 1
            known: dict[str, Any] = answer.json()
        else:
            answer = self._call("GET", f"/api/v1/sessions/{session_id}")
            _expect(answer, 200, planned)
            known = answer.json()
        for event in planned.events[len(known["events"]) :]:
            _expect(self._call("POST", f"/api/v1/sessions/{session_id}/events", json=event), 201, planned)
            tally.events += 1
        if known.get("recording") is not None:
            return
        if not planned.records and session_id_was_known:
            return  # refused on the run that registered it; refusing again would only add noise
        digest = base64.b64encode(hashlib.sha256(media).digest()).decode()
        answer = self._call(
            "PUT",
            f"/api/v1/sessions/{session_id}/recording",
            data=media,
            headers={"Content-Type": "video/webm", "Content-Digest": f"sha-256=:{digest}:"},
        )
        if planned.records:
            _expect(answer, 201, planned)
            tally.uploaded += 1
        else:
            _expect(answer, 409, planned)  # no control rights: rightly not recorded
            if answer.json().get("error") != "no_control_grant":
                raise DemoError(f"{planned.external_id}: unexpected refusal {answer.json()}")
            tally.refused_as_expected += 1


def _expect(answer: requests.Response, status: int, planned: PlannedSession) -> None:
    if answer.status_code != status:
        try:
            body = answer.json()
            detail = f"{body.get('error')}: {body.get('detail')}"
        except ValueError:
            detail = answer.text[:200]
        raise DemoError(
            f"{planned.external_id} ({planned.scenario}): expected HTTP {status}, got "
            f"{answer.status_code} ({detail})"
        )
