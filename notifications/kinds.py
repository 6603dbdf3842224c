"""The kinds of e-mail the vault sends, each with the role it goes to: the one list the planner,
the preferences page, the templates and the metrics read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from staff.roles import APPROVER, OFFICER, OPERATOR

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise


@dataclass(frozen=True)
class Kind:
    code: str  # stored and in /metrics: never translated
    role: str  # who may receive it (staff.roles)
    label: StrPromise  # the preferences page's name for it
    explanation: StrPromise
    # An approval waiting for its approver cannot be turned off: nobody polls the queue.
    required: bool = False

    @property
    def template(self) -> str:
        """Plain text: the first line is the subject, the rest (after a blank line) the body."""
        return f"notifications/email/{self.code}.txt"


ACCESS_REQUEST_WAITING = Kind(
    "access_request_waiting",
    APPROVER,
    _("An access request awaits your decision"),
    _("Sent to every data protection officer but the requester. It cannot be turned off."),
    required=True,
)
ACCESS_DECIDED = Kind(
    "access_decided",
    OFFICER,
    _("Your access request was approved or rejected"),
    _("Sent to the officer who requested access."),
)
GRANT_ENDING = Kind(
    "grant_ending",
    OFFICER,
    _("Your access to a case's recordings ends soon"),
    _("Sent once, a day before the access window ends."),
)
ANSWER_DUE = Kind(
    "answer_due",
    OFFICER,
    _("A case's answer date is near"),
    _("Sent once to the case's officer, a few days before the customer must be answered."),
)
PURGE_FAILED = Kind(
    "purge_failed",
    OPERATOR,
    _("A purge run failed"),
    _("Sent to operators when a run could not delete recordings or was abandoned."),
)
PURGE_LAG = Kind(
    "purge_lag",
    OPERATOR,
    _("The purge is behind"),
    _("Sent to operators once a day while expired recordings wait longer than the threshold."),
)

KINDS: dict[str, Kind] = {
    kind.code: kind
    for kind in (ACCESS_REQUEST_WAITING, ACCESS_DECIDED, GRANT_ENDING, ANSWER_DUE, PURGE_FAILED, PURGE_LAG)
}
KIND_CHOICES = [(code, code) for code in KINDS]


def kinds_for_role(role: str | None) -> list[Kind]:
    return [kind for kind in KINDS.values() if kind.role == role]
