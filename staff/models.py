"""Staff accounts' evidence and credential state.

`AccountChange` is the queue the database's own triggers write (migration 0002): one row per
change of a staff account, in the transaction of the change, whatever made it (the ORM, an
`update()`, raw SQL, a psql session). `staff.account_changes` moves each into the ledger as
`staff.account_changed`. `AccountActor` carries the actor of a SQLite transaction to the triggers
(PostgreSQL uses a transaction-local setting). `CredentialStatus` says whether an account's
password and second factor are its owner's own.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AccountChange(models.Model):
    """A change of a staff account queued by a trigger, until it is in the ledger (milliseconds
    for a change made through Django; until the next sequencing for a change made outside it)."""

    id = models.BigAutoField(primary_key=True)
    queued_at = models.DateTimeField()
    user_id = models.BigIntegerField()  # no foreign key: the user may be the row deleted
    username = models.CharField(max_length=150)
    change = models.CharField(max_length=40)
    fields = models.CharField(max_length=300, blank=True, default="")  # comma-separated column names
    detail = models.CharField(max_length=300, blank=True, default="")  # group or permission name
    actor = models.CharField(max_length=400, blank=True, default="")  # JSON [kind, id, label] or ""

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.change} of {self.username}"


class AccountActor(models.Model):
    """SQLite only: the actor of the writing transaction, inserted before an account write and
    deleted before it commits (SQLite has one writer at a time), read by the triggers. Empty
    outside Django (a sqlite3 shell): the triggers then name "direct database access"."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    label = models.CharField(max_length=400)

    def __str__(self) -> str:
        return self.label


class CredentialStatus(models.Model):
    """Whose hand set an account's credentials. Someone other than the owner setting the password
    or touching the second factor voids them: grants are revoked, any step-up before `voided_at`
    is void, and the account may not request, approve or play back until the owner has set a
    new password (`must_set_password`) and enrolled a second factor (`must_enrol`) themselves."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="credential_status"
    )
    must_set_password = models.BooleanField(default=False)
    must_enrol = models.BooleanField(default=False)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name_plural = "credential statuses"

    def __str__(self) -> str:
        return f"credentials of user {self.user_id}"

    @property
    def blocked(self) -> bool:
        return self.must_set_password or self.must_enrol
