"""What the officer's and the DPO's pages show, assembled from `complaints.selectors`: the
rights timeline of a session as a chart, deadlines, and the case's ledger history in words.

Reads only, and only through the selectors: this module turns what they return into what a page
shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import formats
from django.utils.translation import gettext, gettext_lazy, pgettext

from audit.models import LedgerEntry
from complaints import commitments, selectors
from complaints.models import AccessGrant, AccessRequest, ComplaintCase
from core.charts import Chart, Label, Line, Rect, Series
from core.templatetags.display_time import in_display_zone
from recorder import timeline
from recorder.models import Recording, Session

# --- the rights timeline ------------------------------------------------------------------------

# The timeline's bands by CSS key, with their legend in the reader's language
TIMELINE_LABELS = {
    "view": gettext_lazy("Agent may view"),
    "control": gettext_lazy("Agent may control"),
    "interrupted": gettext_lazy("Interrupted by the customer"),
}
_TICK_MINUTES = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


@dataclass(frozen=True)
class Span:
    """A stretch of the session with one set of rights."""

    start: datetime
    end: datetime
    view: bool
    control: bool
    interrupted: bool


@dataclass(frozen=True)
class TimelineRow:
    """One line of the timeline as text: the chart's equivalent for screen readers and print."""

    at: datetime
    what: str
    view: bool
    control: bool


@dataclass(frozen=True)
class SessionTimeline:
    spans: list[Span]
    rows: list[TimelineRow]
    start: datetime
    end: datetime
    ended: bool
    chart: Chart


def session_timeline(session: Session, *, now: datetime) -> SessionTimeline:
    """Replay the session's consent and events (recorder.timeline's state machine) into spans."""
    state = timeline.start(
        consent_granted_at=session.consent_granted_at,
        started_at=session.started_at,
        consent=timeline.Rights(view=session.consent_view, control=session.consent_control),
    )
    rows = [
        TimelineRow(
            session.consent_granted_at,
            gettext("Consent given"),
            session.consent_view,
            session.consent_control,
        ),
        TimelineRow(session.started_at, gettext("Session started"), state.rights.view, state.rights.control),
    ]
    spans: list[Span] = []
    since = session.started_at
    for event in session.events.all():
        spans.append(_span(since, event.at, state))
        rights = timeline.Rights(view=event.view, control=event.control)
        state = timeline.apply(state, type=event.type, at=event.at, rights=rights)
        rows.append(
            TimelineRow(event.at, str(_EVENT_WORDS.get(event.type, event.type)), event.view, event.control)
        )
        since = event.at
    ended = state.phase is timeline.Phase.ENDED
    end = since if ended else max(since, session.ended_at or now)
    if not ended and end > since:
        spans.append(_span(since, end, state))
    end = max(end, session.started_at + timedelta(minutes=1))  # a zero-length session still draws
    spans = [span for span in spans if span.end > span.start]
    return SessionTimeline(spans, rows, session.started_at, end, ended, _timeline_chart(spans, session, end))


_EVENT_WORDS = {
    "scope_changed": gettext_lazy("Rights changed"),
    "interrupted": gettext_lazy("Interrupted by the customer"),
    "resumed": gettext_lazy("Resumed"),
    "ended": gettext_lazy("Session ended"),
}


def _span(start: datetime, end: datetime, state: timeline.TimelineState) -> Span:
    interrupted = state.phase is timeline.Phase.INTERRUPTED
    return Span(start, end, state.rights.view, state.rights.control, interrupted)


def _timeline_chart(spans: list[Span], session: Session, end: datetime) -> Chart:
    width, left, right, top, row_height = 720, 112, 16, 8, 26
    plot_width = width - left - right
    height = top + 2 * row_height + 34
    start = session.started_at
    total = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return left + plot_width * (moment - start).total_seconds() / total

    chart = Chart(
        width=width,
        height=height,
        title=gettext("Rights over the session"),
        description=_describe(spans),
        # built per page: a Series holds the label as read in this request's language
        legend=tuple(Series(key, str(label)) for key, label in TIMELINE_LABELS.items()),
    )
    view, control, interrupted = chart.legend
    rows = (
        (view, pgettext("the agent's right to see the screen", "View")),
        (control, pgettext("the agent's right to control the desktop", "Control")),
    )
    for index, (_, name) in enumerate(rows):
        y = top + index * row_height
        chart.rects.append(
            Rect(
                left,
                y + 3,
                plot_width,
                row_height - 6,
                "chart-none",
                gettext("%(right)s: not allowed") % {"right": name},
            )
        )
        chart.labels.append(Label(left - 10, y + row_height / 2 + 4, name, anchor="end", css="chart-strong"))
    for span in spans:
        span_x, span_width = x(span.start), max(x(span.end) - x(span.start), 1.0)
        stretch = _stretch(span)
        if span.interrupted:
            chart.rects.append(
                Rect(
                    span_x,
                    top + 3,
                    span_width,
                    2 * row_height - 6,
                    interrupted.css,
                    gettext("Interrupted %(stretch)s") % {"stretch": stretch},
                )
            )
            continue
        for index, (series, name) in enumerate(rows):
            allowed = span.view if series is view else span.control
            if allowed:
                y = top + index * row_height
                chart.rects.append(
                    Rect(span_x, y + 3, span_width, row_height - 6, series.css, f"{name} {stretch}")
                )
    axis_y = top + 2 * row_height + 4
    chart.lines.append(Line(left, axis_y, width - right, axis_y, "chart-axis"))
    step = _tick_step(total)
    first = _ceil_to(start, step, offset=in_display_zone(start).utcoffset() or timedelta(0))
    tick = first
    while tick <= end:
        chart.lines.append(Line(x(tick), top, x(tick), axis_y + 4, "chart-grid"))
        chart.labels.append(Label(x(tick), axis_y + 18, f"{in_display_zone(tick):%H:%M}"))
        tick += step
    return chart


def _describe(spans: list[Span]) -> str:
    parts = []
    for span in spans:
        if span.interrupted:
            rights = gettext("interrupted")
        elif span.control:
            rights = gettext("view and control")
        else:
            rights = gettext("view only") if span.view else gettext("no rights")
        parts.append(f"{_stretch(span)}: {rights}")
    return "; ".join(parts) or gettext("No rights were in force.")


def _stretch(span: Span) -> str:
    start, end = in_display_zone(span.start), in_display_zone(span.end)
    return gettext("%(start)s to %(end)s %(zone)s") % {
        "start": f"{start:%H:%M:%S}",
        "end": f"{end:%H:%M:%S}",
        "zone": end.tzname(),
    }


def _tick_step(total_seconds: float) -> timedelta:
    minutes = total_seconds / 60
    for step in _TICK_MINUTES:
        if minutes / step <= 8:
            return timedelta(minutes=step)
    return timedelta(minutes=_TICK_MINUTES[-1] * math.ceil(minutes / (8 * _TICK_MINUTES[-1])))


def _ceil_to(moment: datetime, step: timedelta, *, offset: timedelta) -> datetime:
    """The first multiple of `step` on the local clock (`offset` from UTC) at or after `moment`,
    so the ticks fall on round local times."""
    seconds, shift = step.total_seconds(), offset.total_seconds()
    epoch = moment.timestamp()
    return datetime.fromtimestamp(math.ceil((epoch + shift) / seconds) * seconds - shift, tz=moment.tzinfo)


# --- deadlines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    at: datetime
    overdue: bool
    soon: bool  # within three days


def deadline(case: ComplaintCase, *, now: datetime) -> Deadline | None:
    """The case's answer-by date and how close it is; none once the case is closed."""
    if case.status == ComplaintCase.Status.CLOSED:
        return None
    return Deadline(case.respond_by, case.respond_by <= now, now < case.respond_by <= now + timedelta(days=3))


STATUS_BADGES: dict[str, str] = {
    ComplaintCase.Status.OPEN: "badge-info",
    ComplaintCase.Status.AWAITING_APPROVAL: "badge-warn",
    ComplaintCase.Status.ACCESS_GRANTED: "badge-ok",
    ComplaintCase.Status.ACCESS_EXPIRED: "",
    ComplaintCase.Status.CLOSED: "",
    AccessRequest.Status.PENDING: "badge-warn",
    AccessRequest.Status.APPROVED: "badge-ok",
    AccessRequest.Status.REJECTED: "badge-bad",
    AccessRequest.Status.CANCELLED: "",
}


# --- the case page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSessionView:
    linked: selectors.LinkedSession
    timeline: SessionTimeline
    playable: bool  # the viewer holds an active grant naming this recording


@dataclass(frozen=True)
class GrantView:
    grant: AccessGrant
    active: bool


@dataclass(frozen=True)
class HistoryLine:
    entry: LedgerEntry
    what: str
    note: str
    code: str = ""  # an action or reason this page has no words for, shown as the ledger spells it


@dataclass(frozen=True)
class CasePage:
    case: ComplaintCase
    deadline: Deadline | None
    sessions: list[CaseSessionView]
    requests: QuerySet[AccessRequest]
    grants: list[GrantView]
    active_grant: AccessGrant | None
    pending_request: AccessRequest | None
    history: list[HistoryLine]


def case_page(*, case: ComplaintCase, viewer: Any, now: datetime) -> CasePage:
    grant = selectors.active_grant(user=viewer, case=case, at=now)
    in_grant = set(grant.recordings.values_list("id", flat=True)) if grant else set()
    sessions = [
        CaseSessionView(
            linked=linked,
            timeline=session_timeline(linked.session, now=now),
            playable=linked.recording is not None
            and linked.recording.id in in_grant
            and linked.recording.state == Recording.State.LOCKED,
        )
        for linked in selectors.case_sessions(case=case)
    ]
    requests = case.access_requests.select_related("requester", "decided_by").order_by("-requested_at")
    return CasePage(
        case=case,
        deadline=deadline(case, now=now),
        sessions=sessions,
        requests=requests,
        grants=[GrantView(g, g.is_active(now)) for g in selectors.grants_for_case(case=case)],
        active_grant=grant,
        pending_request=next((r for r in requests if r.status == AccessRequest.Status.PENDING), None),
        history=[_history_line(entry) for entry in selectors.case_history(case_id=case.id)],
    )


_ACTION_WORDS = {
    "case.opened": gettext_lazy("Case opened"),
    "case.session_linked": gettext_lazy("Session linked"),
    "legal_hold.placed": gettext_lazy("Legal hold placed"),
    "legal_hold.released": gettext_lazy("Legal hold released"),
    "case.access_requested": gettext_lazy("Access requested"),
    "case.access_approved": gettext_lazy("Access approved"),
    "case.access_rejected": gettext_lazy("Access rejected"),
    "case.access_expired": gettext_lazy("Access window ended"),
    "access_grant.revoked": gettext_lazy("Access grant revoked"),
    "case.closed": gettext_lazy("Case closed"),
    "case.redacted": gettext_lazy("Case redacted"),
    "recording.played": gettext_lazy("Recording played"),
    "access.denied": gettext_lazy("Access denied"),
}


_REASON_WORDS = {
    "case_closed": gettext_lazy("the case was closed"),
    "access_window_ended": gettext_lazy("the access window ended"),
    "grant_ended": gettext_lazy("the access window ended"),
    "case_not_visible": gettext_lazy("not this person's case"),
    "no_grant": gettext_lazy("no access was granted"),
    "no_active_grant": gettext_lazy("no access window was open"),
    "grant_inactive": gettext_lazy("the access window was not open"),
    "recording_not_in_case": gettext_lazy("the recording is not one of this case's"),
    "recording_purged": gettext_lazy("the recording had been deleted"),
    "step_up_required": gettext_lazy("the password was not confirmed again"),
    "credentials_renewal_required": gettext_lazy("the password was not confirmed again"),
    "four_eyes": gettext_lazy("a person may not approve their own request"),
    "session_not_of_customer": gettext_lazy("a session of another customer"),
}


def _history_line(entry: LedgerEntry) -> HistoryLine:
    details = entry.details if isinstance(entry.details, dict) else {}
    reason = str(details.get("reason", ""))
    # A hold placed or released for this case: its reason only names the case the page is about.
    held_for_this_case = entry.action.startswith("legal_hold.") and entry.case_id is not None
    note = str(_REASON_WORDS[reason]) if reason in _REASON_WORDS else ""
    code = reason if not note and not held_for_this_case else ""
    if commitments.COMMITMENT in details:  # the text is on this page; the ledger keeps its hash
        note = gettext("text kept with the case, its keyed hash in the ledger")
    served = details.get("range")
    if entry.action == "recording.played" and isinstance(served, dict):
        note = gettext("bytes %(start)s to %(end)s") % {
            "start": formats.number_format(served.get("start", 0), force_grouping=True),
            "end": formats.number_format(served.get("end", 0), force_grouping=True),
        }
    elif entry.action == "case.closed" and details.get("outcome"):
        outcome = str(ComplaintCase.Outcome(details["outcome"]).label)
        note = f"{outcome}: {note}" if note else outcome
    if entry.action not in _ACTION_WORDS:
        return HistoryLine(entry, "", note, code=" ".join(filter(None, [entry.action, code])))
    return HistoryLine(entry, str(_ACTION_WORDS[entry.action]), note, code)
