"""End-to-end fixtures: the real service (gunicorn), real headless Chromium driven by Playwright,
and a real WebM made by ffmpeg and uploaded through the recorder API.

Chromium and ffmpeg are Debian's packages (`apt-get install chromium ffmpeg`); Playwright's own
browser downloads are never used. Without them the tests are skipped locally, saying why; in CI
(CI=true) a missing tool fails the run instead, so the end-to-end tests cannot silently vanish.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import require
from tests.factories import iso
from tests.liveserver import ROOT, LiveServer

SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _require(found: bool, what: str) -> None:
    require(found, what, "apt-get install chromium ffmpeg; pip: requirements-dev.txt")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    _require(Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK), f"Chromium ({CHROMIUM})")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _require(False, "The playwright Python package")
    return CHROMIUM


@pytest.fixture(scope="session")
def ffmpeg_path() -> str:
    path = shutil.which("ffmpeg")
    _require(path is not None, "ffmpeg")
    assert path is not None
    return path


@pytest.fixture
def browser(chromium_path: str, live_service: LiveServer) -> Iterator[Any]:
    """Headless Chromium for one test, started after the database and the service are up (see
    `e2e_ready`), stopped before they are torn down."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            # The CI machine runs as root without a user namespace sandbox.
            args=["--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"],
        )
        yield browser
        browser.close()


@pytest.fixture
def e2e_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API keeps an asyncio loop on this thread, which makes Django refuse ORM
    calls from the test itself ("async context"). The test code is plain synchronous code that
    only waits on Playwright, so the guard does not apply here: switch it off for this test."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def live_service(transactional_db: None, age_keys: Any, e2e_ready: None) -> Iterator[LiveServer]:
    """gunicorn serving the real application on a free port, sharing the test database and keys."""
    with LiveServer(workers=1, threads=8) as server:
        yield server


class Screenshots:
    """Saves full-page screenshots as tests/artifacts/screenshots/<test>/<nn>-<name>.png."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[Path] = []
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    def take(self, page: Any, name: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(SCREENSHOTS / request.node.name)


def new_page(browser: Any, base_url: str) -> Any:
    """A fresh browser context (own cookies: one signed-in person) at a laptop-sized viewport."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    return context.new_page()


def browser_sign_in(page: Any, username: str, password: str) -> None:
    """The sign-in form in the browser, as a person fills it in."""
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


# --- a real WebM through the recorder API ----------------------------------------------------------


def make_webm(ffmpeg: str, path: Path, *, seconds: int = 8) -> Path:
    """A VP8 test pattern with a keyframe every second, so a player can seek anywhere quickly."""
    # Noise over the pattern keeps the file large (some MiB) for its few seconds: the browser
    # cannot take it in one read, so seeking makes it ask for further byte ranges.
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc=duration={seconds}:size=640x360:rate=25",
        "-vf", "noise=alls=40:allf=t",
        "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
        "-b:v", "6M", "-minrate", "6M", "-maxrate", "6M", "-bufsize", "6M",
        "-g", "25", "-keyint_min", "25", "-auto-alt-ref", "0",
        "-an", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True, timeout=120)
    return path


@dataclass(frozen=True)
class UploadedRecording:
    customer_ref: str
    session_id: str
    recording_id: str
    size: int
    started_at: datetime
    ended_at: datetime


def upload_session_with_recording(
    base_url: str, token: str, webm: bytes, *, customer_ref: str, external_id: str
) -> UploadedRecording:
    """Register a session whose customer narrows, interrupts and restores the agent's rights,
    then upload the recording: every step through the public recorder API, as the tool does."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    session = {
        "external_id": external_id, "customer_ref": customer_ref, "agent_ref": "agent-042",
        "initiated_by": "customer", "started_at": iso(started),
        "consent": {"granted_at": iso(started - timedelta(minutes=1)), "view": True, "control": True},
    }  # fmt: skip
    answer = api.post(f"{base_url}/api/v1/sessions", json=session, timeout=30)
    assert answer.status_code == 201, answer.text
    session_id = answer.json()["id"]
    timeline = [
        ("scope_changed", 6, True, False),
        ("interrupted", 11, False, False),
        ("resumed", 14, True, True),
        ("ended", 22, False, False),
    ]
    for kind, minute, view, control in timeline:
        at = iso(started + timedelta(minutes=minute))
        event = {"type": kind, "at": at, "view": view, "control": control}
        answer = api.post(f"{base_url}/api/v1/sessions/{session_id}/events", json=event, timeout=30)
        assert answer.status_code == 201, answer.text
    digest = base64.b64encode(hashlib.sha256(webm).digest()).decode()
    answer = api.put(
        f"{base_url}/api/v1/sessions/{session_id}/recording",
        data=webm,
        headers={"Content-Type": "video/webm", "Content-Digest": f"sha-256=:{digest}:"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["state"] == "locked"
    return UploadedRecording(
        customer_ref=customer_ref, session_id=session_id, recording_id=answer.json()["id"], size=len(webm),
        started_at=started, ended_at=started + timedelta(minutes=22),
    )  # fmt: skip


@pytest.fixture(scope="session")
def webm_file(ffmpeg_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An 8-second WebM made by ffmpeg, once per test run."""
    return make_webm(ffmpeg_path, tmp_path_factory.mktemp("webm") / "session.webm")


@pytest.fixture
def webm_recording(live_service: LiveServer, webm_file: Path) -> UploadedRecording:
    """The WebM, sealed on upload through the live recorder API with a recorder client's token."""
    from recorder.services import create_recorder_client

    _, token = create_recorder_client(name="helpdesk-e2e")
    webm = webm_file.read_bytes()
    return upload_session_with_recording(
        live_service.url, token, webm, customer_ref="CUST-7731", external_id="ticket-e2e-1"
    )
