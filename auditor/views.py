"""The auditor's page: the ledger browsed with filters and paging, accesses per week, exports.

Auditors only (and Django's superuser: the ledger is metadata). Exporting from here calls the
same service as the API (`create_export`, which writes `ledger.exported` first); the downloads are
the API's files.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit.committed_texts import committed_texts
from audit.models import LedgerEntry, LedgerExport
from audit.selectors import ACCESS_ACTIONS, last_seq, latest_head, recent_exports
from audit.services import create_export
from auditor import pages
from auditor.forms import LedgerFilterForm
from staff.authorisation import staff_page
from staff.roles import AUDITOR


@staff_page(AUDITOR)
def ledger(request: HttpRequest) -> HttpResponse:
    form = LedgerFilterForm(request.GET)  # no filter at all: the whole ledger
    entries = form.filters().entries(tree_size=last_seq()) if form.is_valid() else LedgerEntry.objects.none()
    page = Paginator(entries.order_by("-seq"), pages.PAGE_SIZE).get_page(request.GET.get("page"))
    chart, weeks = pages.weekly_chart(timezone.now())
    query = request.GET.copy()
    query.pop("page", None)
    texts = committed_texts(list(page.object_list))
    return render(
        request,
        "auditor/ledger.html",
        {
            "form": form,
            "page": page,
            "rows": [pages.describe(entry, text=texts.get(entry.seq)) for entry in page.object_list],
            "query": query.urlencode(),
            "chart": chart,
            "weeks": weeks,
            "access_actions": ACCESS_ACTIONS,
            "head": latest_head(),
            "exports": recent_exports(limit=5),
        },
    )


@staff_page(AUDITOR)
@require_POST
def export_create(request: HttpRequest) -> HttpResponse:
    form = LedgerFilterForm(request.POST)
    if not form.is_valid():
        return ledger_with_errors(request, form)
    export = create_export(user=request.user, filters=form.filters())
    return redirect("audit:export", export_id=export.id)


def ledger_with_errors(request: HttpRequest, form: LedgerFilterForm) -> HttpResponse:
    chart, weeks = pages.weekly_chart(timezone.now())
    context = {"form": form, "page": None, "rows": [], "chart": chart, "weeks": weeks, "head": latest_head()}
    return render(request, "auditor/ledger.html", context, status=400)


@staff_page(AUDITOR)
def export_detail(request: HttpRequest, export_id: str) -> HttpResponse:
    export = get_object_or_404(LedgerExport.objects.select_related("head", "created_by"), id=export_id)
    filters = {key: value for key, value in export.filters.items() if value}
    context = {"export": export, "files": pages.export_files(export), "filters": filters}
    return render(request, "auditor/export.html", context)
