"""The auditor finds account changes with their own filter, on the page and in the export."""

from __future__ import annotations

import pytest

from audit.exports import ExportFilters
from audit.selectors import last_seq
from tests.staff import add_staff, make_staff, signed_in

pytestmark = pytest.mark.django_db


def test_the_account_filter_selects_account_changes_of_one_account_or_all() -> None:
    add_staff("nina", "auditor")
    add_staff("omar", "operator")
    mine = ExportFilters(account="nina").entries(tree_size=last_seq())
    assert {e.action for e in mine} == {"staff.account_changed", "staff.role_changed"}
    assert {e.details["username"] for e in mine} == {"nina"}
    every = ExportFilters(account="*").entries(tree_size=last_seq())
    assert {e.details["username"] for e in every} == {"nina", "omar"}
    assert ExportFilters(account="nina").as_json()["account"] == "nina"
    assert "account" not in ExportFilters().as_json()  # older manifests stay as they were signed


def test_the_auditor_page_filters_account_changes() -> None:
    auditor = make_staff("audrey", "auditor")
    add_staff("nina", "operator")
    page = signed_in(auditor).get("/audit/", {"account": "nina"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "changed a staff account" in text and "nina" in text
    assert "audrey" not in text.split("<tbody>", 1)[-1].split("</tbody>", 1)[0]


def test_an_export_filtered_by_account_holds_only_those_entries() -> None:
    auditor = make_staff("audrey", "auditor")
    add_staff("nina", "operator")
    client = signed_in(auditor)
    answer = client.post("/api/v1/audit/exports", {"account": "nina"}, content_type="application/json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["filters"]["account"] == "nina"
    lines = client.get(body["links"]["jsonl"]).getvalue().decode().splitlines()
    assert lines and all('"username":"nina"' in line for line in lines)
