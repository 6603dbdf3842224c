"""What the auditor's pages show, assembled from `audit.selectors`: ledger entries in words, the
accesses-per-week chart, and an export's files."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from audit import export_format
from audit.committed_texts import CommittedText
from audit.models import LedgerEntry, LedgerExport
from audit.selectors import accesses_per_week
from core.charts import Column, Series, column_chart

PAGE_SIZE = 50
# What a person reads for the actions they meet most; others are spelled out from their name.
ACTION_TEXT = {
    "recording.played": _("watched a recording"),
    "access.denied": _("was refused access"),
    "recording.ingested": _("stored a recording (sealed)"),
    "recording.rejected": _("refused a recording"),
    "recording.shredded": _("shredded a recording's key"),
    "recording.purged": _("purged a recording"),
    "recording.tampered": _("found a recording's chunk altered"),
    "recording.playback_stopped": _("had a playback stopped: access ended"),
    "case.opened": _("opened a complaint case"),
    "case.session_linked": _("linked a session to a case"),
    "case.access_requested": _("requested access"),
    "case.access_approved": _("approved access"),
    "case.access_rejected": _("rejected access"),
    "case.access_request_cancelled": _("saw a pending request cancelled (case closed)"),
    "case.access_expired": _("saw access expire"),
    "case.closed": _("closed a case"),
    "case.redacted": _("redacted a closed case's texts"),
    "session.pseudonymised": _("pseudonymised a session without a recording"),
    "subject.access_reported": _("reported what the vault holds about a customer"),
    "subject.erased": _("erased a customer's data on request"),
    "legal_hold.placed": _("placed a legal hold"),
    "legal_hold.released": _("released a legal hold"),
    "ledger.exported": _("exported the ledger"),
    "staff.role_changed": _("changed a staff member's role"),
    "staff.account_changed": _("changed a staff account"),
    "staff.credentials_voided": _("voided a staff account's credentials (set by someone else)"),
    "access.grant_revoked": _("revoked an access grant"),
    "auth.stepped_up": _("confirmed their password"),
}
ACTOR_KIND = {
    "user": "",
    "job": pgettext_lazy("kind of actor", "job"),
    "recorder_client": pgettext_lazy("kind of actor", "recorder client"),
    "system": pgettext_lazy("kind of actor", "system"),
}


def describe(entry: LedgerEntry, *, text: CommittedText | None = None) -> dict[str, Any]:
    """An entry in words; `text` is the free text it commits to (audit.committed_texts), if any."""
    return {
        "text": text,
        "entry": entry,
        "who": entry.actor_label,
        "who_kind": str(ACTOR_KIND.get(entry.actor_kind, entry.actor_kind)),
        "what": str(ACTION_TEXT.get(entry.action, entry.action.replace(".", " ").replace("_", " "))),
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
    series = [Series("ok", gettext("Played")), Series("bad", gettext("Denied"))]
    columns = [
        Column(
            label=formats.date_format(start, "MONTH_DAY_FORMAT"),
            values={"ok": counts["played"], "bad": counts["denied"]},
            title=gettext("week of %(day)s") % {"day": formats.date_format(start, "DATE_FORMAT")},
        )
        for start, counts in weeks
    ]
    chart = column_chart(
        title=gettext("Accesses to recordings per week"),
        description=ngettext(
            "Recordings played and accesses denied in the last week (weeks in UTC).",
            "Recordings played and accesses denied in each of the last %(count)d weeks (weeks in UTC).",
            len(weeks),
        )
        % {"count": len(weeks)},
        columns=columns,
        series=series,
    )
    return chart, weeks


class ExportFile(NamedTuple):
    name: str
    description: str
    url: str


def export_files(export: LedgerExport) -> list[ExportFile]:
    """The export's downloads: the API's files, linked from its page."""
    return [
        ExportFile(
            export_format.JSONL_NAME,
            gettext("JSON Lines, each entry with its proof"),
            reverse("audit-export-file", kwargs={"export_id": export.id, "name": export_format.JSONL_NAME}),
        ),
        ExportFile(
            export_format.CSV_NAME,
            gettext("CSV for spreadsheets (proofs included)"),
            reverse("audit-export-file", kwargs={"export_id": export.id, "name": export_format.CSV_NAME}),
        ),
        ExportFile(
            "manifest.json",
            gettext("Signed manifest: filters, count, heads, digests"),
            reverse("audit-export-manifest", kwargs={"export_id": export.id}),
        ),
        ExportFile(
            "texts.json",
            gettext(
                "The free texts the entries commit to, with their keys, or when and why each was "
                "redacted (not signed: it changes on redaction)"
            ),
            reverse("audit-export-texts", kwargs={"export_id": export.id}),
        ),
    ]
