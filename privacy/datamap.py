"""The data map: every model field that can hold personal data, what it is, why it is kept and
when it ends (GDPR Art. 30's record of processing, kept in code so that tests hold it true).

The rule of "can hold personal data" (`may_hold_personal_data`): a text-like field (CharField and
its kinds, TextField, GenericIPAddressField, JSONField) that is not limited to fixed choices, and
every reference to a staff account (a foreign key to the user model). Each such field of every
installed model is declared here, either with its end or explicitly as `not personal` with why;
`tests/privacy/test_datamap.py` fails for a field that is neither. `manage.py privacy_map` prints
the map and `docs/PRIVACY.md` is generated from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum

from django.conf import settings
from django.db import models


class End(StrEnum):
    PSEUDONYMISED = "pseudonymised"  # the raw value erased; a keyed hash of it stays
    REDACTED = "redacted"  # replaced by a marker saying when and why it went
    DELETED = "deleted"  # the row is deleted
    KEY_DESTROYED = "key destroyed"  # kept, but the key that gave it meaning is destroyed
    WITH_LEDGER = "kept with the ledger"  # append-only and hash-chained: kept as long as the ledger
    WITH_ACCOUNT = "kept with the staff account"  # until the account is deleted
    NOT_PERSONAL = "not personal"


@dataclass(frozen=True)
class Datum:
    model: str  # app label and model name, e.g. "recorder.Session"
    field: str
    what: str
    why: str
    end: End
    after: str = ""  # the period, named by the setting that sets it
    # Whether an access report (Art. 15) shows the value to the customer it is about. The agent's
    # reference is withheld: it identifies an employee (Art. 15(4), the rights of others).
    subject_sees: bool = False

    @property
    def personal(self) -> bool:
        return self.end is not End.NOT_PERSONAL


def _d(
    model: str, field: str, what: str, why: str, end: End, after: str = "", *, subject_sees: bool = False
) -> Datum:
    return Datum(model, field, what, why, end, after, subject_sees)


_RECORDING_END = (
    "RECORDING_RETENTION after the recording arrived (a session without one: after it ended, or was"
    " registered if it never ended); a legal hold keeps it"
)
_CASE_END = "CASE_RETENTION after the case was closed"
_SIGNIN = "for the cool-off (SIGNIN_LOCKOUT_MINUTES) after the last failure, or deleted by an admin"
_WHO = "who did it, for accountability of staff (Art. 5(2))"
_NOT = End.NOT_PERSONAL

DATA_MAP: tuple[Datum, ...] = (
    # --- sessions and recordings -------------------------------------------------------------
    _d(
        "recorder.Session",
        "customer_ref",
        "the customer's reference (account or contract number)",
        "to find a customer's sessions when they complain",
        End.PSEUDONYMISED,
        _RECORDING_END,
    ),
    _d(
        "recorder.Session",
        "agent_ref",
        "the support agent's reference",
        "to know who controlled the customer's desktop",
        End.PSEUDONYMISED,
        _RECORDING_END,
    ),
    _d(
        "recorder.Session",
        "external_id",
        "the remote-support tool's own session id (may name the customer's ticket)",
        "to match the tool's events and upload to the session",
        End.PSEUDONYMISED,
        _RECORDING_END + "; replaced by its keyed hash, which stays unique",
    ),
    _d(
        "recorder.Session",
        "customer_ref_hash",
        "keyed hash (HMAC-SHA256, VAULT_HASH_KEY) of the customer reference",
        "to find a purged session's tombstone and answer an access request (Art. 15)",
        End.WITH_LEDGER,
        "kept while the session's tombstone and the ledger are kept; without the key it names nobody",
    ),
    _d(
        "recorder.Session",
        "agent_ref_hash",
        "keyed hash of the agent reference",
        "to answer who acted in a purged session",
        End.WITH_LEDGER,
        "kept while the session's tombstone is kept; without the key it names nobody",
    ),
    _d("recorder.Recording", "media_type", "the recording's media type", "playback", _NOT),
    _d(
        "recorder.Recording",
        "object_key",
        "a random name of the sealed payload in the object store",
        "to find the payload",
        _NOT,
    ),
    _d(
        "recorder.Recording",
        "fingerprint",
        "keyed hash of the plaintext's SHA-256",
        "to recognise a re-upload",
        _NOT,
    ),
    _d(
        "recorder.Recording", "recipients", "stanza types and key ids of the age header", "key rotation", _NOT
    ),
    _d("recorder.RecorderClient", "name", "the remote-support tool's name", "authentication", _NOT),
    _d("recorder.RecorderClient", "token_digest", "SHA-256 of the tool's token", "authentication", _NOT),
    _d("recorder.RecorderClient", "token_prefix", "first characters of the token", "to recognise it", _NOT),
    # --- complaint cases ----------------------------------------------------------------------
    _d(
        "complaints.ComplaintCase",
        "customer_ref",
        "the customer's reference as the officer typed it",
        "to answer the complaint",
        End.PSEUDONYMISED,
        _CASE_END + "; becomes its keyed hash",
    ),
    _d(
        "complaints.ComplaintCase",
        "customer_ref_hash",
        "keyed hash of the customer reference",
        "to find the case in an access request (Art. 15)",
        End.WITH_LEDGER,
        "kept with the case's dates and outcome",
    ),
    _d(
        "complaints.ComplaintCase",
        "complaint",
        "the complaint as the customer made it",
        "to answer the complaint",
        End.REDACTED,
        _CASE_END,
        subject_sees=True,
    ),
    _d(
        "complaints.ComplaintCase",
        "summary",
        "the officer's closing summary",
        "the telecom's record of how it answered",
        End.REDACTED,
        _CASE_END,
    ),
    _d(
        "complaints.ComplaintCase",
        "text_key",
        "the case's key of the commitments (keyed hashes) the ledger keeps instead of its free texts",
        "to prove an officer's text matches its ledger entry",
        End.REDACTED,
        _CASE_END + "; erased with the texts, so the ledger's commitments name nothing",
    ),
    _d("complaints.ComplaintCase", "opened_by", "the officer who opened the case", _WHO, End.WITH_ACCOUNT),
    _d("complaints.ComplaintCase", "closed_by", "the officer who closed the case", _WHO, End.WITH_ACCOUNT),
    _d("complaints.CaseSession", "linked_by", "the officer who linked the session", _WHO, End.WITH_ACCOUNT),
    _d(
        "complaints.AccessRequest",
        "justification",
        "the officer's justification for access",
        "four-eyes review of access to recordings",
        End.REDACTED,
        _CASE_END,
    ),
    _d(
        "complaints.AccessRequest",
        "reason",
        "the data protection officer's reason for the decision",
        "four-eyes review of access to recordings",
        End.REDACTED,
        _CASE_END,
    ),
    _d("complaints.AccessRequest", "requester", "the officer who asked for access", _WHO, End.WITH_ACCOUNT),
    _d(
        "complaints.AccessRequest",
        "decided_by",
        "the data protection officer who decided",
        _WHO,
        End.WITH_ACCOUNT,
    ),
    _d(
        "complaints.AccessGrant", "grantee", "the officer who may play the recordings", _WHO, End.WITH_ACCOUNT
    ),
    # --- legal holds and purge runs -----------------------------------------------------------
    _d(
        "retention.LegalHold",
        "reason",
        "why the hold was placed (the case's id, never free text)",
        "to show what keeps a recording past its expiry",
        _NOT,
    ),
    _d(
        "retention.LegalHold",
        "placed_by",
        "the staff user name that placed the hold",
        _WHO,
        End.WITH_LEDGER,
        "kept with the hold, which the ledger names",
    ),
    _d(
        "retention.LegalHold",
        "released_by",
        "the staff user name that released the hold",
        _WHO,
        End.WITH_LEDGER,
        "kept with the hold, which the ledger names",
    ),
    _d("retention.PurgeRun", "errors", "object-store error messages of a purge run", "operations", _NOT),
    # --- the ledger ---------------------------------------------------------------------------
    _d(
        "audit.LedgerEntry",
        "actor_label",
        "the staff user name, job or client that acted",
        _WHO,
        End.WITH_LEDGER,
        "append-only and hash-chained: as long as the ledger",
    ),
    _d(
        "audit.LedgerEntry",
        "actor_id",
        "the id of the staff user, job or client that acted",
        _WHO,
        End.WITH_LEDGER,
        "as long as the ledger",
    ),
    _d(
        "audit.LedgerEntry",
        "details",
        "the event's details: ids, keyed hashes, counts, dates, and commitments "
        "(keyed HMACs) to free text kept in the case's records; entries written before "
        "data-map v1 (issue 20) "
        "carry the free text itself",
        "the tamper-evident record of every event",
        End.WITH_LEDGER,
        "as long as the ledger; no raw customer or agent reference ever enters it",
    ),
    _d("audit.LedgerEntry", "actor_kind", "staff, job or client", "the ledger", _NOT),
    _d("audit.LedgerEntry", "action", "the event's name", "the ledger", _NOT),
    _d(
        "audit.PendingEntry",
        "actor_label",
        "as the ledger entry it becomes",
        _WHO,
        End.WITH_LEDGER,
        "moved into the ledger within a second",
    ),
    _d(
        "audit.PendingEntry",
        "actor_id",
        "as the ledger entry it becomes",
        _WHO,
        End.WITH_LEDGER,
        "moved into the ledger within a second",
    ),
    _d(
        "audit.PendingEntry",
        "details",
        "as the ledger entry it becomes",
        "the ledger",
        End.WITH_LEDGER,
        "moved into the ledger within a second",
    ),
    _d("audit.PendingEntry", "actor_kind", "staff, job or client", "the ledger", _NOT),
    _d("audit.PendingEntry", "action", "the event's name", "the ledger", _NOT),
    _d("audit.LedgerExport", "created_by", "the auditor who exported", _WHO, End.WITH_ACCOUNT),
    _d(
        "audit.LedgerExport",
        "filters",
        "the export's filters (actor label, ids, dates)",
        "to repeat an export",
        End.WITH_LEDGER,
        "kept with the export it describes",
    ),
    _d("audit.LedgerExport", "consistency_proof", "hashes", "proof", _NOT),
    _d("audit.LedgerExport", "files", "file names, digests and sizes", "proof", _NOT),
    _d("audit.SignedTreeHead", "key_id", "the signing key's id", "proof", _NOT),
    _d("forwarding.ForwardCursor", "destination", "a SIEM destination's URL", "operations", _NOT),
    _d("forwarding.ForwardCursor", "last_error", "the destination's last error", "operations", _NOT),
    # --- staff accounts and sign-in -----------------------------------------------------------
    _d("auth.User", "username", "a staff member's user name", "sign-in and accountability", End.WITH_ACCOUNT),
    _d("auth.User", "first_name", "a staff member's first name", "to address them", End.WITH_ACCOUNT),
    _d("auth.User", "last_name", "a staff member's last name", "to address them", End.WITH_ACCOUNT),
    _d("auth.User", "email", "a staff member's e-mail address", "to reach them", End.WITH_ACCOUNT),
    _d("auth.User", "password", "a salted password hash", "sign-in", End.WITH_ACCOUNT),
    _d("auth.Group", "name", "a role's name", "authorisation", _NOT),
    _d("auth.Permission", "name", "a permission's name", "authorisation", _NOT),
    _d("auth.Permission", "codename", "a permission's code", "authorisation", _NOT),
    _d("contenttypes.ContentType", "app_label", "a model's app", "Django", _NOT),
    _d("contenttypes.ContentType", "model", "a model's name", "Django", _NOT),
    _d(
        "sessions.Session",
        "session_key",
        "a staff browser session's key",
        "sign-in",
        End.DELETED,
        "when the staff member signs out or the session expires (SESSION_COOKIE_AGE)",
    ),
    _d(
        "sessions.Session",
        "session_data",
        "a staff session's data (user id, step-up time)",
        "sign-in",
        End.DELETED,
        "when the staff member signs out or the session expires (SESSION_COOKIE_AGE)",
    ),
    # second factor (django-otp) and the account-change queue (staff)
    _d("otp_totp.TOTPDevice", "user", "whose authenticator it is", "second factor", End.WITH_ACCOUNT),
    _d("otp_totp.TOTPDevice", "name", "the authenticator's name", "second factor", End.WITH_ACCOUNT),
    _d(
        "otp_totp.TOTPDevice",
        "key",
        "the TOTP secret (never shown again)",
        "second factor",
        End.DELETED,
        "when the owner replaces the authenticator, or with the account",
    ),
    _d("otp_static.StaticDevice", "user", "whose recovery codes they are", "second factor", End.WITH_ACCOUNT),
    _d("otp_static.StaticDevice", "name", "the recovery codes' name", "second factor", End.WITH_ACCOUNT),
    _d(
        "otp_static.StaticToken",
        "token",
        "a single-use recovery code",
        "second factor",
        End.DELETED,
        "when used, replaced, or with the account",
    ),
    _d(
        "staff.AccountChange",
        "username",
        "the changed account's user name",
        _WHO,
        End.DELETED,
        "once moved into the ledger (in the change's transaction, or at the next signed head)",
    ),
    _d(
        "staff.AccountChange",
        "actor",
        "who changed the account",
        _WHO,
        End.DELETED,
        "as soon as it is moved into the ledger",
    ),
    _d("staff.AccountChange", "change", "the kind of change", _WHO, _NOT),
    _d("staff.AccountChange", "fields", "the names of the columns changed (never values)", _WHO, _NOT),
    _d("staff.AccountChange", "detail", "the group or permission added or removed", _WHO, _NOT),
    _d(
        "staff.AccountActor",
        "label",
        "who is changing an account now",
        _WHO,
        End.DELETED,
        "before the change's transaction commits",
    ),
    _d(
        "staff.CredentialStatus",
        "user",
        "whose credentials were voided",
        "to block a taken-over account",
        End.WITH_ACCOUNT,
    ),
    _d("staff.CredentialStatus", "voided_by", "who set the account's credential", _WHO, End.WITH_ACCOUNT),
    # notifications by e-mail: which staff member was told what, by ids only
    _d(
        "notifications.Notification",
        "recipient",
        "the staff member a notification was sent to",
        "to send each message once (a reminder, an approval to decide)",
        End.DELETED,
        "NOTIFY_RECORD_DAYS after it was made (daily beat task), or with the account",
    ),
    _d(
        "notifications.Notification",
        "subject",
        "the id of the access request, grant, case or purge run it was about (or the day, for the purge lag)",
        "to send each message once (a reminder, an approval to decide)",
        End.DELETED,
        "NOTIFY_RECORD_DAYS after it was made (daily beat task), or with the account",
    ),
    _d(
        "notifications.NotificationPreferences",
        "user",
        "whose notification preferences they are",
        "to send a staff member only what they want, in their language",
        End.WITH_ACCOUNT,
    ),
    _d(
        "notifications.NotificationPreferences",
        "muted",
        "the kinds of notification the staff member turned off",
        "to send a staff member only what they want",
        End.WITH_ACCOUNT,
    ),
    _d("admin.LogEntry", "user", "the admin who changed an account", _WHO, End.WITH_ACCOUNT),
    _d("admin.LogEntry", "object_id", "the changed account's id", _WHO, End.WITH_ACCOUNT),
    _d("admin.LogEntry", "object_repr", "the changed account's user name", _WHO, End.WITH_ACCOUNT),
    _d(
        "admin.LogEntry",
        "change_message",
        "which fields of an account changed (never values)",
        _WHO,
        End.WITH_ACCOUNT,
    ),
)

_AXES = {
    "username": "the user name tried",
    "ip_address": "the client's network address (an IPv6 client's /64)",
    "user_agent": "the browser string",
    "http_accept": "the browser's Accept header",
    "path_info": "the sign-in path",
    "get_data": "the query string (axes stores no passwords)",
    "post_data": "the form's fields except the password",
    "session_hash": "a hash of the session key",
}
_AXES_COMMON = ("username", "ip_address", "user_agent", "http_accept", "path_info")
_AXES_MODELS = {
    "axes.AccessAttempt": (
        ("failed sign-ins", "sign-in throttling", End.DELETED, _SIGNIN),
        (*_AXES_COMMON, "get_data", "post_data"),
    ),
    "axes.AccessFailureLog": (
        (
            "failed sign-ins",
            "not written: AXES_ENABLE_ACCESS_FAILURE_LOG is off",
            End.DELETED,
            "never written",
        ),
        _AXES_COMMON,
    ),
    "axes.AccessLog": (
        (
            "successful staff sign-ins",
            "not pausing a user at their usual address",
            End.DELETED,
            "SIGNIN_LOG_DAYS after the sign-in (daily beat task)",
        ),
        (*_AXES_COMMON, "session_hash"),
    ),
}
DATA_MAP += tuple(
    _d(model, name, f"{_AXES[name]} ({kind})", why, end, after)
    for model, ((kind, why, end, after), names) in _AXES_MODELS.items()
    for name in names
)


def may_hold_personal_data(field: models.Field | object) -> bool:  # type: ignore[type-arg]
    """The rule: free text (not fixed choices) of a text-like kind, or a reference to a staff account."""
    if not isinstance(field, models.Field) or not getattr(field, "concrete", True):
        return False
    if field.is_relation:
        related = field.related_model
        return (
            related is not None
            and not isinstance(related, str)
            and related._meta.label == settings.AUTH_USER_MODEL
        )
    text_like = (models.CharField, models.TextField, models.GenericIPAddressField, models.JSONField)
    return isinstance(field, text_like) and not field.choices


def shown_to_subject(model: str, field: str) -> bool:
    datum = declared().get((model, field))
    return datum is not None and datum.subject_sees


def declared() -> dict[tuple[str, str], Datum]:
    return {(d.model, d.field): d for d in DATA_MAP}


def as_json() -> str:
    return (
        json.dumps([{**asdict(d), "end": str(d.end)} for d in DATA_MAP], indent=2, ensure_ascii=False) + "\n"
    )


def as_markdown() -> str:
    """docs/PRIVACY.md: personal data first, model by model; the fields declared not personal after."""
    lines = [
        "# Personal data the vault keeps, and when each ends",
        "",
        "Generated by `manage.py privacy_map --markdown` from `privacy/datamap.py`; do not edit by hand",
        "(`tests/privacy/test_datamap.py` fails when this file differs from the map).",
        "",
        "A field *can hold personal data* when it is free text (a CharField, TextField, e-mail or network",
        "address, JSON, not limited to fixed choices) or references a staff account. Every such field of",
        "every model is declared below; one that is not fails the test.",
        "",
        "Ledger entries written before this map (issue 20) keep the free text (reasons, justifications,",
        "summaries) they were written with: the ledger is append-only and hash-chained, so it cannot be",
        "changed. Entries written since carry only a commitment (a keyed HMAC under the case's key, which",
        "the case's redaction destroys).",
        "",
        "## Personal data",
        "",
        "| model | field | what | why kept | end | when | in an access report |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{d.model}` | `{d.field}` | {d.what} | {d.why} | {d.end} | {d.after or '—'} "
        f"| {'shown' if d.subject_sees else '—'} |"
        for d in DATA_MAP
        if d.personal
    ]
    lines += ["", "## Declared not personal", "", "| model | field | what |", "| --- | --- | --- |"]
    lines += [f"| `{d.model}` | `{d.field}` | {d.what} |" for d in DATA_MAP if not d.personal]
    return "\n".join(lines) + "\n"
