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
from django.utils.formats import localize
from django.utils.translation import gettext, ngettext
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
        messages.error(request, gettext("Enter the customer's reference."))
        return redirect("privacy:subject-requests")
    report = services.report_access(dpo=request.user, customer_ref=form.cleaned_data["customer_ref"])
    body = json.dumps(AccessReportOut(report).data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="access-report-{report["customer_ref_hash"][:12]}.json"'
    )
    return response


def erasure_summary(done: services.Erasure) -> str:
    """What the erasure did, in the reader's language, each count with its plural."""
    parts = [
        ngettext(
            "Erased: %(count)s recording key destroyed,",
            "Erased: %(count)s recording keys destroyed,",
            done.shredded,
        )
        % {"count": localize(done.shredded)},
        ngettext("%(count)s payload deleted,", "%(count)s payloads deleted,", done.purged)
        % {"count": localize(done.purged)},
        ngettext(
            "%(count)s more session pseudonymised,",
            "%(count)s more sessions pseudonymised,",
            done.pseudonymised,
        )
        % {"count": localize(done.pseudonymised)},
        ngettext("of %(count)s session.", "of %(count)s sessions.", done.sessions)
        % {"count": localize(done.sessions)},
    ]
    if done.failed:
        parts.append(
            ngettext(
                "The store has yet to delete %(count)s payload; the next purge run does.",
                "The store has yet to delete %(count)s payloads; the next purge run does.",
                done.failed,
            )
            % {"count": localize(done.failed)}
        )
    return " ".join(parts)


@staff_page(APPROVER)
@require_POST
def erasure(request: HttpRequest) -> HttpResponse:
    form = ErasureForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Enter the customer's reference and the ground of the erasure."))
        return redirect("privacy:subject-requests")
    try:
        done = services.erase_subject(dpo=request.user, **form.cleaned_data)
    except (Conflict, InvalidInput) as refused:
        messages.error(request, gettext("Nothing was erased. %(reason)s") % {"reason": refused.detail})
        return redirect("privacy:subject-requests")
    messages.success(request, erasure_summary(done))
    return redirect("privacy:subject-requests")
