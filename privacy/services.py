"""Data-subject requests, for the data protection officer only: the access report (GDPR Art. 15)
and early erasure (Art. 17). Each is a ledger entry naming the customer by keyed hash only.

Erasure follows the purge's order (shred the header, delete the payload, pseudonymise the
session: recorder.shredding) and is refused while any legal hold keeps one of the sessions:
a complaint case needs them, and closing the case releases its holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from audit.services import record_event
from complaints.access import actor_of, require_role
from core.errors import Conflict, InvalidInput
from privacy import selectors
from recorder import shredding
from recorder.models import Recording, Session
from recorder.pseudonyms import customer_hash
from recorder.stores import get_store
from retention.models import LegalHold
from staff.authorisation import record_denial
from staff.roles import APPROVER

# Art. 17(1)'s grounds, as the reason an erasure is ordered for (a code: no free text is kept).
ERASURE_GROUNDS = {
    "no_longer_necessary": _("Art. 17(1)(a): no longer necessary for the purpose"),
    "consent_withdrawn": _("Art. 17(1)(b): the customer withdrew consent"),
    "objection": _("Art. 17(1)(c): the customer objected"),
    "unlawfully_processed": _("Art. 17(1)(d): processed unlawfully"),
    "legal_obligation": _("Art. 17(1)(e): erasure required by law"),
}
REASON = "erasure_requested"


def _reference(customer_ref: str) -> str:
    text = (customer_ref or "").strip()
    if not text:
        raise InvalidInput(_("customer_ref must not be empty."), code="customer_ref_required")
    return text


def report_access(*, dpo: Any, customer_ref: str) -> dict[str, Any]:
    """The access report of one customer, on record as `subject.access_reported` (with the hash)."""
    require_role(dpo, APPROVER, gettext_noop("report what the vault holds about a customer"))
    reference = _reference(customer_ref)
    report = selectors.access_report(customer_ref=reference)
    with transaction.atomic():
        record_event(
            action="subject.access_reported",
            actor=actor_of(dpo),
            details={
                "customer_ref_hash": report["customer_ref_hash"],
                "sessions": len(report["sessions"]),
                "cases": len(report["cases"]),
                "accesses": len(report["accesses"]),
            },
        )
    return report


@dataclass
class Erasure:
    customer_ref_hash: str
    ground: str
    sessions: int = 0
    shredded: int = 0
    purged: int = 0
    pseudonymised: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def erase_subject(*, dpo: Any, customer_ref: str, ground: str) -> Erasure:
    """Delete a customer's recordings and session data now. Refused (409 `legal_hold`, naming
    the cases) while a legal hold keeps any of their sessions: then nothing changes."""
    require_role(dpo, APPROVER, gettext_noop("erase a customer's data"))
    reference = _reference(customer_ref)
    if ground not in ERASURE_GROUNDS:
        raise InvalidInput(
            format_lazy(_("ground must be one of: {grounds}."), grounds=", ".join(ERASURE_GROUNDS)),
            code="invalid_ground",
        )
    actor = actor_of(dpo)
    outcome = Erasure(customer_ref_hash=customer_hash(reference), ground=ground)
    store = get_store()
    with transaction.atomic():
        sessions = list(
            Session.objects.select_for_update()
            .filter(customer_ref_hash=outcome.customer_ref_hash)
            .order_by("id")
            .values_list("id", flat=True)
        )
        # Lock the recordings first, as place_legal_hold does: a hold placed now waits for us.
        locked = list(
            Recording.objects.select_for_update()
            .filter(session_id__in=sessions, state=Recording.State.LOCKED)
            .values_list("id", flat=True)
        )
        held = LegalHold.objects.filter(session_id__in=sessions, released_at__isnull=True)
        cases = sorted({str(case_id) for case_id in held.values_list("case_id", flat=True)})
        if not cases:
            outcome.sessions = len(sessions)
            outcome.shredded = len(
                shredding.shred_recordings(recording_ids=locked, actor=actor, reason=REASON)
            )
    if cases:  # refused with nothing changed; the refusal is on record on its own
        record_denial(
            user=dpo,
            reason="legal_hold",
            details={"customer_ref_hash": outcome.customer_ref_hash, "cases": cases},
        )
        named = ", ".join(case for case in cases if case != "None")
        raise Conflict(
            format_lazy(
                _(
                    "A legal hold keeps this customer's sessions for complaint case {cases}; "
                    "close the case (which releases its holds) before erasing."
                ),
                cases=named or _("(a hold without a case)"),
            ),
            code="legal_hold",
        )
    # As the purge: the key is gone (committed) before any payload is deleted.
    shredded = list(
        Recording.objects.filter(session_id__in=sessions, state=Recording.State.SHREDDED).values_list(
            "id", flat=True
        )
    )
    deletion = shredding.delete_shredded(recording_ids=shredded, store=store, actor=actor, reason=REASON)
    outcome.purged, outcome.failed, outcome.errors = deletion.purged, deletion.failed, deletion.errors
    # Sessions without a recording, and any whose payload the store has yet to delete (its key
    # is gone already; the next purge run deletes the payload).
    outcome.pseudonymised = shredding.pseudonymise_now(session_ids=sessions, actor=actor, reason=REASON)
    with transaction.atomic():
        record_event(
            action="subject.erased",
            actor=actor,
            details={
                "customer_ref_hash": outcome.customer_ref_hash,
                "ground": ground,
                "sessions": outcome.sessions,
                "shredded": outcome.shredded,
                "purged": outcome.purged,
                "pseudonymised": outcome.pseudonymised,
                "failed": outcome.failed,
            },
        )
    if outcome.shredded or outcome.purged or outcome.pseudonymised:
        shredding.remove_overwritten_copies()
    return outcome
