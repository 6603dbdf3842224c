"""The ledger: one append-only table, gapless `seq`, each row carrying its RFC 9162 leaf hash."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from audit.signing import TreeHead


class LedgerEntry(models.Model):
    seq = models.PositiveBigIntegerField(unique=True)
    recorded_at = models.DateTimeField(db_index=True)
    actor_kind = models.CharField(max_length=32)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    recording_id = models.UUIDField(null=True, blank=True)
    session_id = models.UUIDField(null=True, blank=True, db_index=True)
    case_id = models.UUIDField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    leaf_hash = models.BinaryField(max_length=32)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "ledger entries"
        # What an export filters on, each with seq: the selected entries come out of the index in
        # seq order. With an index on the column alone, PostgreSQL streams a filtered export (a
        # server-side cursor, planned for its first rows) by walking seq's index through the
        # whole ledger and filtering: seconds at 50 million entries for 10,000 matches.
        indexes = [
            models.Index(fields=["action", "seq"], name="audit_ledger_action_seq"),
            models.Index(fields=["case_id", "seq"], name="audit_ledger_case_seq"),
            models.Index(fields=["recording_id", "seq"], name="audit_ledger_recording_seq"),
            models.Index(fields=["actor_label", "seq"], name="audit_ledger_actor_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class PendingEntry(models.Model):
    """An entry committed by an append outside any transaction, waiting for the sequencer to give
    it its `seq` and leaf hash and move it into `LedgerEntry` (audit/services.py). Rows live for
    milliseconds; one left by a crashed writer is moved by the next append or signed head."""

    id = models.BigAutoField(primary_key=True)
    recorded_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=32)
    actor_id = models.CharField(max_length=64)
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=64)
    recording_id = models.UUIDField(null=True, blank=True)
    session_id = models.UUIDField(null=True, blank=True)
    case_id = models.UUIDField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The entry's canonical bytes before and after its seq (audit.canonical.split_at_seq).
    canonical_before_seq = models.BinaryField()
    canonical_after_seq = models.BinaryField()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "pending ledger entries"

    def __str__(self) -> str:
        return f"pending {self.action}"


class SignedTreeHead(models.Model):
    """An Ed25519 signature over (timestamp, tree_size, MTH of seq 1..tree_size): see audit/signing.py."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        EXPORT = "export"
        COMMAND = "command"

    tree_size = models.PositiveBigIntegerField(db_index=True)
    root_hash = models.BinaryField(max_length=32)
    timestamp_ms = models.PositiveBigIntegerField()  # the signed time: ms since the Unix epoch
    signed_at = models.DateTimeField()  # the same moment, for people and queries
    key_id = models.CharField(max_length=64)
    signature = models.BinaryField(max_length=64)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)

    class Meta:
        ordering = ["tree_size", "timestamp_ms", "id"]

    def __str__(self) -> str:
        return f"head of {self.tree_size} entries at {self.signed_at:%Y-%m-%d %H:%M:%S}"

    def as_signed(self) -> TreeHead:
        return TreeHead(
            tree_size=int(self.tree_size),
            root_hash=bytes(self.root_hash),
            timestamp_ms=int(self.timestamp_ms),
            key_id=self.key_id,
            signature=bytes(self.signature),
        )


class LedgerExport(models.Model):
    """An auditor's export: its filters, the head it is proven against, the digests of its files.

    The files are not stored: they are generated again, byte for byte, from the ledger on each
    download (entries up to `head.tree_size` matching `filters`, in seq order)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filters = models.JSONField()
    head = models.ForeignKey(SignedTreeHead, on_delete=models.PROTECT, related_name="exports")
    previous_head = models.ForeignKey(
        SignedTreeHead, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    entry_count = models.PositiveBigIntegerField()
    ledger_seq = models.PositiveBigIntegerField()  # the export's own `ledger.exported` entry
    consistency_proof = models.JSONField(default=list)  # hex: previous_head -> head (RFC 9162)
    files = models.JSONField()  # {name: {"sha256": hex, "bytes": n}}

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.id} ({self.entry_count} entries)"


class LedgerTile(models.Model):
    """One hash tile of the ledger's Merkle tree (C2SP tlog-tiles; audit/tiles.py): up to 256
    hashes of Merkle level 8 * `level`. The right edge of each level is a partial tile that grows
    in place as entries are sequenced, always by appending (audit/tile_store.py); `inner` caches
    the tile's own nodes of levels 4 to 7 for proofs."""

    id = models.BigAutoField(primary_key=True)
    level = models.PositiveSmallIntegerField()
    index = models.PositiveBigIntegerField()
    width = models.PositiveSmallIntegerField()  # len(hashes) // 32, 1..256
    hashes = models.BinaryField()
    inner = models.BinaryField()

    class Meta:
        ordering = ["level", "index"]
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="audit_tile_level_index")]

    def __str__(self) -> str:
        return f"tile {self.level}/{self.index} ({self.width} hashes)"
