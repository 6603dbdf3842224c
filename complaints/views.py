"""The complaint workflow's pages: the officer's cases and player, the DPO's approval queue.

Thin: each view parses its form, calls one `complaints.services` action (which checks the
role, changes state and writes the ledger) or reads through the selectors, and renders.
Domain errors become a message on the page, a 403 or a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from complaints import access, pages, playback, selectors, services
from complaints.forms import CloseCaseForm, DecisionForm, JustificationForm, OpenCaseForm, SessionSearchForm
from complaints.models import ComplaintCase
from core.errors import Conflict, Forbidden, InvalidInput
from core.templatetags.display_time import moment_text
from staff.authorisation import serves, staff_page
from staff.roles import APPROVER, OFFICER
from staff.step_up import step_up_url, stepped_up


def _case_url(case_id: Any) -> str:
    return reverse("complaints:case-detail", kwargs={"case_id": case_id})


# --- officer: cases -----------------------------------------------------------------------------

STATUS_FILTERS = {
    "active": (gettext_lazy("Not closed"), lambda cases: cases.exclude(status=ComplaintCase.Status.CLOSED)),
    "closed": (gettext_lazy("Closed"), lambda cases: cases.filter(status=ComplaintCase.Status.CLOSED)),
    "all": (gettext_lazy("All"), lambda cases: cases),
}


@staff_page(OFFICER, APPROVER)
def case_list(request: HttpRequest) -> HttpResponse:
    shown = request.GET.get("status", "active")
    if shown not in STATUS_FILTERS:
        shown = "active"
    cases = STATUS_FILTERS[shown][1](selectors.cases_for_user(user=request.user))
    page = Paginator(cases.annotate(session_count=Count("links")), 25).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [{"case": case, "deadline": pages.deadline(case, now=now)} for case in page]
    return render(
        request,
        "complaints/case_list.html",
        {
            "rows": rows,
            "page": page,
            "shown": shown,
            "filters": [(key, label) for key, (label, _) in STATUS_FILTERS.items()],
            "may_open": serves(request.user, case_new.serves_roles),  # type: ignore[attr-defined]
        },
    )


@staff_page(OFFICER)
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    """One form: find the customer's sessions (POST, so the reference stays out of URLs and
    access logs), pick the complained ones, then open the case."""
    context: dict[str, Any] = {"channels": ComplaintCase.Channel.choices, "picked": []}
    if request.method != "POST":
        # the current time zone, which the form also reads a typed time in
        context["values"] = {"received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
        context["form"] = OpenCaseForm()
        return render(request, "complaints/case_new.html", context)
    searching = request.POST.get("action") == "search"
    # A search checks only the search fields; what was typed elsewhere is shown back as it was.
    form = (SessionSearchForm if searching else OpenCaseForm)(request.POST)
    context.update(form=form, values=request.POST, picked=request.POST.getlist("sessions"), searched=True)
    complete = form.is_valid()
    attempt = services.start_case(
        officer=request.user,
        searching=searching,
        data=form.cleaned_data,
        complete=complete,
        session_ids=context["picked"],
    )
    if attempt.case is not None:
        messages.success(request, gettext("Case opened. Each linked session is under a legal hold."))
        return redirect(_case_url(attempt.case.id))
    if attempt.error:
        form.add_error(None, attempt.error)
    if attempt.sessions is not None:
        now = timezone.now()
        context["sessions"] = [(s, pages.session_timeline(s, now=now)) for s in attempt.sessions[:50]]
    status = 400 if attempt.error or not complete else 200
    return render(request, "complaints/case_new.html", context, status=status)


@staff_page(OFFICER, APPROVER)
def case_detail(request: HttpRequest, case_id: str) -> HttpResponse:
    case = access.case_for(user=request.user, case_id=case_id)
    page = pages.case_page(case=case, viewer=request.user, now=timezone.now())
    return render(
        request,
        "complaints/case_detail.html",
        {
            "page": page,
            "case": case,
            "is_officer": case.opened_by_id == request.user.pk,
            "may_request": case.may_request_access(by=request.user),
            "may_close": case.may_close(by=request.user),
        },
    )


def _case_form(
    request: HttpRequest,
    case_id: str,
    *,
    form_class: type[JustificationForm | CloseCaseForm],
    template: str,
    act: Callable[[ComplaintCase, dict[str, Any]], str],
) -> HttpResponse:
    """GET shows the form for the officer's own case; POST acts and goes back to the case."""
    case = access.case_for(user=request.user, case_id=case_id, acting=True)
    if case.status == ComplaintCase.Status.CLOSED:  # no form to fill in for nothing
        messages.error(request, gettext("The case is closed: nothing more can be requested or changed."))
        return redirect(_case_url(case.id))
    form = form_class(request.POST) if request.method == "POST" else form_class()
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                messages.success(request, act(case, form.cleaned_data))
                return redirect(_case_url(case.id))
            except InvalidInput as error:
                form.add_error(None, error.detail)
            except Conflict as error:
                messages.error(request, error.detail)
                return redirect(_case_url(case.id))
    context = {"case": case, "form": form, "outcomes": ComplaintCase.Outcome.choices}
    return render(request, template, context, status=status)


@staff_page(OFFICER)
@require_http_methods(["GET", "POST"])
def request_access(request: HttpRequest, case_id: str) -> HttpResponse:
    def act(case: ComplaintCase, data: dict[str, Any]) -> str:
        services.request_access(officer=request.user, case_id=case.id, justification=data["justification"])
        return gettext("Access requested. A data protection officer decides; the case page shows the answer.")

    return _case_form(
        request, case_id, form_class=JustificationForm, template="complaints/request_access.html", act=act
    )


@staff_page(OFFICER)
@require_http_methods(["GET", "POST"])
def case_close(request: HttpRequest, case_id: str) -> HttpResponse:
    def act(case: ComplaintCase, data: dict[str, Any]) -> str:
        services.close_case(
            officer=request.user, case_id=case.id, outcome=data["outcome"], summary=data["summary"]
        )
        return gettext("Case closed. Access has ended and the legal holds are released.")

    return _case_form(
        request, case_id, form_class=CloseCaseForm, template="complaints/case_close.html", act=act
    )


@staff_page(OFFICER)
def player(request: HttpRequest, case_id: str, recording_id: str) -> HttpResponse:
    """The video element for a recording the officer's active grant names. The page itself shows
    no content: the element's requests to the stream are checked and written to the ledger."""
    case = access.case_for(user=request.user, case_id=case_id, acting=True)
    try:
        grant, recording = playback.player_recording(
            user=request.user, case=case, recording_id=recording_id, now=timezone.now()
        )
    except playback.NoActiveGrant as refused:
        messages.error(request, refused.detail)
        return redirect(_case_url(case.id))
    if not stepped_up(request):
        return HttpResponseRedirect(step_up_url(request.get_full_path()))
    stream = reverse("recording-stream", kwargs={"case_id": case.id, "recording_id": recording.id})
    return render(
        request,
        "complaints/player.html",
        {"case": case, "grant": grant, "recording": recording, "stream_url": stream},
    )


# --- DPO: decisions -----------------------------------------------------------------------------


@staff_page(APPROVER)
def approval_queue(request: HttpRequest) -> HttpResponse:
    pending = list(
        selectors.pending_access_requests(user=request.user).annotate(session_count=Count("case__links"))
    )
    return render(
        request,
        "complaints/approval_queue.html",
        {"pending": pending, "decided": selectors.decided_by(user=request.user)},
    )


@staff_page(APPROVER)
@require_POST
def decide(request: HttpRequest, request_id: str) -> HttpResponse:
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Give a reason for your decision, then approve or reject."))
        return redirect("complaints:approval-queue")
    reason = form.cleaned_data["reason"]
    if form.cleaned_data["decision"] == "approve" and not stepped_up(request):
        messages.info(request, gettext("Confirm your password and a code, then approve again."))
        return HttpResponseRedirect(step_up_url(reverse("complaints:approval-queue")))
    try:
        if form.cleaned_data["decision"] == "approve":
            grant = services.approve_access_request(
                approver=request.user, request_id=request_id, reason=reason
            )
            messages.success(
                request,
                gettext("Approved: access for %(officer)s until %(until)s.")
                % {
                    "officer": grant.grantee.get_username(),
                    "until": moment_text(grant.ends_at, "SHORT_DATETIME_FORMAT"),
                },
            )
        else:
            services.reject_access_request(approver=request.user, request_id=request_id, reason=reason)
            messages.success(request, gettext("Rejected. The officer sees your reason on the case."))
    except (Conflict, InvalidInput, Forbidden) as error:  # Forbidden: four-eyes, on record already
        messages.error(request, error.detail)
    return redirect("complaints:approval-queue")
