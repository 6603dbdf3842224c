"""The auditor's page: the ledger browsed with filters and paging, accesses per week, exports.

Only holders of `audit.view_ledgerentry`. Exporting from here calls the same service as the API
(`create_export`, which writes `ledger.exported` first); the downloads are the API's files.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit import export_format
from audit.forms import LedgerFilterForm
from audit.models import LedgerEntry, LedgerExport
from audit.selectors import ACCESS_ACTIONS, accesses_per_week, last_seq, latest_head
from audit.services import create_export
from config.charts import Column, Series, column_chart

PAGE_SIZE = 50
# What a person reads for the actions they meet most; others are spelled out from their name.
ACTION_TEXT = {
    "recording.played": "watched a recording",
    "access.denied": "was refused access",
    "recording.ingested": "stored a recording (sealed)",
    "recording.rejected": "refused a recording",
    "recording.shredded": "shredded a recording's key",
    "recording.purged": "purged a recording",
    "recording.tampered": "found a recording's chunk altered",
    "recording.playback_stopped": "had a playback stopped: access ended",
    "case.opened": "opened a complaint case",
    "case.session_linked": "linked a session to a case",
    "case.access_requested": "requested access",
    "case.access_approved": "approved access",
    "case.access_rejected": "rejected access",
    "case.access_request_cancelled": "saw a pending request cancelled (case closed)",
    "case.access_expired": "saw access expire",
    "case.closed": "closed a case",
    "legal_hold.placed": "placed a legal hold",
    "legal_hold.released": "released a legal hold",
    "ledger.exported": "exported the ledger",
    "staff.role_changed": "changed a staff member's role",
    "auth.stepped_up": "confirmed their password",
}
ACTOR_KIND = {"user": "", "job": "job", "recorder_client": "recorder client", "system": "system"}


def describe(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "entry": entry,
        "who": entry.actor_label,
        "who_kind": ACTOR_KIND.get(entry.actor_kind, entry.actor_kind),
        "what": ACTION_TEXT.get(entry.action, entry.action.replace(".", " ").replace("_", " ")),
        "details": [(key, _short(value)) for key, value in sorted(entry.details.items())],
        "details_full": json.dumps(entry.details, sort_keys=True, ensure_ascii=False),
    }


def _short(value: Any, limit: int = 48) -> str:
    """A detail as a person reads it: text as is, the rest as JSON, long values cut (the row's
    tooltip and the export hold them whole)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def weekly_chart(now: Any) -> tuple[Any, list[tuple[Any, dict[str, int]]]]:
    weeks = accesses_per_week(now=now)
    series = [Series(key, f"{label.capitalize()}") for key, label in (("ok", "played"), ("bad", "denied"))]
    columns = [
        Column(
            label=f"{start:%d %b}",
            values={"ok": counts["played"], "bad": counts["denied"]},
            title=f"week of {start:%d %b %Y}",
        )
        for start, counts in weeks
    ]
    chart = column_chart(
        title="Accesses to recordings per week",
        description=f"Recordings played and accesses denied in each of the last {len(weeks)} weeks (UTC).",
        columns=columns,
        series=series,
    )
    return chart, weeks


@login_required
@permission_required("audit.view_ledgerentry", raise_exception=True)
def ledger(request: HttpRequest) -> HttpResponse:
    form = LedgerFilterForm(request.GET)  # no filter at all: the whole ledger
    entries = form.filters().entries(tree_size=last_seq()) if form.is_valid() else LedgerEntry.objects.none()
    page = Paginator(entries.order_by("-seq"), PAGE_SIZE).get_page(request.GET.get("page"))
    chart, weeks = weekly_chart(timezone.now())
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/ledger.html",
        {
            "form": form,
            "page": page,
            "rows": [describe(entry) for entry in page.object_list],
            "query": query.urlencode(),
            "chart": chart,
            "weeks": weeks,
            "access_actions": ACCESS_ACTIONS,
            "head": latest_head(),
            "exports": LedgerExport.objects.select_related("created_by", "head")[:5],
        },
    )


@login_required
@permission_required("audit.view_ledgerentry", raise_exception=True)
@require_POST
def export_create(request: HttpRequest) -> HttpResponse:
    form = LedgerFilterForm(request.POST)
    if not form.is_valid():
        return ledger_with_errors(request, form)
    export = create_export(user=request.user, filters=form.filters())
    return redirect("audit:export", export_id=export.id)


def ledger_with_errors(request: HttpRequest, form: LedgerFilterForm) -> HttpResponse:
    chart, weeks = weekly_chart(timezone.now())
    context = {"form": form, "page": None, "rows": [], "chart": chart, "weeks": weeks, "head": latest_head()}
    return render(request, "audit/ledger.html", context, status=400)


@login_required
@permission_required("audit.view_ledgerentry", raise_exception=True)
def export_detail(request: HttpRequest, export_id: str) -> HttpResponse:
    export = get_object_or_404(LedgerExport.objects.select_related("head", "created_by"), id=export_id)
    base = f"/api/v1/audit/exports/{export.id}"
    files = [
        (
            export_format.JSONL_NAME,
            "JSON Lines, each entry with its proof",
            f"{base}/{export_format.JSONL_NAME}",
        ),
        (
            export_format.CSV_NAME,
            "CSV for spreadsheets (proofs included)",
            f"{base}/{export_format.CSV_NAME}",
        ),
        ("manifest.json", "Signed manifest: filters, count, heads, digests", f"{base}/manifest.json"),
    ]
    filters = {key: value for key, value in export.filters.items() if value}
    return render(request, "audit/export.html", {"export": export, "files": files, "filters": filters})
