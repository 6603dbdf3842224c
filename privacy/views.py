"""Data-subject request pages, for data protection officers: the access report on a page and as
a JSON download, and early erasure. Thin: parse the form, call one `privacy.services` action
(role check and ledger), render. Every form is a POST, so no customer reference enters a URL.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import Conflict, InvalidInput
from privacy import services
from privacy.api import AccessReportOut
from privacy.forms import ErasureForm, SubjectForm
from staff.authorisation import staff_page
from staff.roles import APPROVER


@staff_page(APPROVER)
@require_http_methods(["GET", "POST"])
def subject_requests(request: HttpRequest) -> HttpResponse:
    form = SubjectForm(request.POST or None)
    report: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        report = services.report_access(dpo=request.user, customer_ref=form.cleaned_data["customer_ref"])
    return render(
        request,
        "privacy/subject_requests.html",
        {
            "form": form,
            "report": report,
            "customer_ref": form.cleaned_data.get("customer_ref", "")
            if form.is_bound and form.is_valid()
            else "",
            "erasure_form": ErasureForm(),
        },
    )


@staff_page(APPROVER)
@require_POST
def access_report_download(request: HttpRequest) -> HttpResponse:
    form = SubjectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the customer's reference.")
        return redirect("privacy:subject-requests")
    report = services.report_access(dpo=request.user, customer_ref=form.cleaned_data["customer_ref"])
    body = json.dumps(AccessReportOut(report).data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="access-report-{report["customer_ref_hash"][:12]}.json"'
    )
    return response


@staff_page(APPROVER)
@require_POST
def erasure(request: HttpRequest) -> HttpResponse:
    form = ErasureForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the customer's reference and the ground of the erasure.")
        return redirect("privacy:subject-requests")
    try:
        done = services.erase_subject(dpo=request.user, **form.cleaned_data)
    except (Conflict, InvalidInput) as refused:
        messages.error(request, f"Nothing was erased. {refused.detail}")
        return redirect("privacy:subject-requests")
    text = (
        f"Erased: {done.shredded} recording key(s) destroyed, {done.purged} payload(s) deleted, "
        f"{done.pseudonymised} more session(s) pseudonymised, of {done.sessions} session(s)."
    )
    if done.failed:
        text += f" The store has yet to delete {done.failed} payload(s); the next purge run does."
    messages.success(request, text)
    return redirect("privacy:subject-requests")
