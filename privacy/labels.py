"""What the access report page calls each code of the report (a session's initiator, a rights
event, a recording's state, a case's channel, status and outcome, a role), in the reader's language.

The report itself (the API's and the JSON download's) keeps the codes: they are data, stable in
every language. These labels are the page's wording for the data protection officer reading it
out to a customer, so they live with the page rather than borrowing the staff workflow's labels.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

LABELS: dict[str, dict[str, Promise]] = {
    "initiated_by": {
        "customer": pgettext_lazy("session initiated by", "customer"),
    },
    "event": {
        "scope_changed": pgettext_lazy("rights event", "rights changed"),
        "interrupted": pgettext_lazy("rights event", "interrupted"),
        "resumed": pgettext_lazy("rights event", "resumed"),
        "ended": pgettext_lazy("rights event", "ended"),
    },
    "recording_state": {
        "receiving": pgettext_lazy("recording state", "receiving"),
        "locked": pgettext_lazy("recording state", "locked"),
        "shredded": pgettext_lazy("recording state", "shredded"),
        "purged": pgettext_lazy("recording state", "purged"),
    },
    "channel": {
        "phone": pgettext_lazy("complaint channel", "phone"),
        "email": pgettext_lazy("complaint channel", "e-mail"),
        "letter": pgettext_lazy("complaint channel", "letter"),
        "web_form": pgettext_lazy("complaint channel", "web form"),
        "in_person": pgettext_lazy("complaint channel", "in person"),
    },
    "case_status": {
        "open": pgettext_lazy("case status", "open"),
        "awaiting_approval": pgettext_lazy("case status", "awaiting approval"),
        "access_granted": pgettext_lazy("case status", "access granted"),
        "access_expired": pgettext_lazy("case status", "access expired"),
        "closed": pgettext_lazy("case status", "closed"),
    },
    "outcome": {
        "abuse_confirmed": pgettext_lazy("case outcome", "abuse confirmed"),
        "abuse_not_confirmed": pgettext_lazy("case outcome", "abuse not confirmed"),
        "withdrawn": pgettext_lazy("case outcome", "withdrawn"),
    },
}


def label(kind: str, code: str | None) -> str:
    """The page's word for `code`; a code without one (a state added later) is shown as it is."""
    if code is None:
        return ""
    return str(LABELS[kind].get(code, code))
