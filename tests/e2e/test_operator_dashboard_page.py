"""The operator dashboard in a real browser: a real recording shows up, the charts are drawn."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import browser_sign_in, new_page
from tests.staff import PASSWORD, make_staff

pytestmark = pytest.mark.slow


def test_operator_sees_the_uploaded_recording_on_the_dashboard(
    browser, live_service, webm_recording, screenshots
) -> None:
    make_staff("otto", "operator")
    page = new_page(browser, live_service.url)
    browser_sign_in(page, "otto", PASSWORD)
    screenshots.take(page, "operator-home")

    page.get_by_role("link", name="Operations dashboard").first.click()
    page.wait_for_url("**/operations/")

    assert page.get_by_role("heading", name="Operations dashboard").is_visible()
    assert page.locator("svg.chart").count() >= 2
    assert page.get_by_text(webm_recording.recording_id[:8]).is_visible()
    screenshots.take(page, "operator-dashboard")
