"""Auditors' exports of the ledger: the entries the filters select up to a signed head, each with
its inclusion proof, generated as a stream (entries read in chunks, a line at a time), and the
signed manifest that names the files by digest. Formats: audit/export_format.py."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from audit import export_format, signing
from audit.canonical import entry_fields, timestamp
from audit.keys import signing_key
from audit.merkle import MerkleTree
from audit.models import LedgerEntry, LedgerExport
from audit.selectors import LedgerInconsistent, ledger_tree

CHUNK = 2000

# Filters outside these dates select nothing and are mistakes. They are refused, also because the
# stored filters must parse again at every download: a year under 1000 is stored unpadded, and
# `+ 1 day` after 9999-12-31 overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
OUT_OF_RANGE = "Dates must fall between the years 2000 and 9999."


def period_problem(since: datetime | None, until: datetime | None) -> str | None:
    """Why `since` and `until` cannot be an export's period, or None if they can."""
    if any(moment is not None and not EARLIEST <= moment <= LATEST for moment in (since, until)):
        return OUT_OF_RANGE
    if since and until and since >= until:
        return "since must be before until."
    return None


@dataclass(frozen=True)
class ExportFilters:
    """Which entries an export holds: all of them match every filter that is set."""

    since: datetime | None = None  # recorded_at >= since
    until: datetime | None = None  # recorded_at < until
    case_id: uuid.UUID | None = None
    actor: str | None = None  # the actor's label: a username, a job or client name
    action: str | None = None
    recording_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, str | None]:
        """In the manifest, with times and ids spelled as in the hashed entries."""
        return {
            "since": timestamp(self.since) if self.since else None,
            "until": timestamp(self.until) if self.until else None,
            "case_id": str(self.case_id) if self.case_id else None,
            "actor": self.actor,
            "action": self.action,
            "recording_id": str(self.recording_id) if self.recording_id else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportFilters:
        return cls(
            since=_stored_moment(data["since"]) if data.get("since") else None,
            until=_stored_moment(data["until"]) if data.get("until") else None,
            case_id=uuid.UUID(data["case_id"]) if data.get("case_id") else None,
            actor=data.get("actor"),
            action=data.get("action"),
            recording_id=uuid.UUID(data["recording_id"]) if data.get("recording_id") else None,
        )

    def entries(self, *, tree_size: int) -> QuerySet[LedgerEntry]:
        query = LedgerEntry.objects.filter(seq__lte=tree_size)
        if self.since:
            query = query.filter(recorded_at__gte=self.since)
        if self.until:
            query = query.filter(recorded_at__lt=self.until)
        if self.case_id:
            query = query.filter(case_id=self.case_id)
        if self.actor:
            query = query.filter(actor_label=self.actor)
        if self.action:
            query = query.filter(action=self.action)
        if self.recording_id:
            query = query.filter(recording_id=self.recording_id)
        return query.order_by("seq")


def _stored_moment(text: str) -> datetime:
    """A time as `timestamp()` stored it; exports made before the dates rule above may hold a year
    under 1000, unpadded ("999-12-31T..."), and their files must still download."""
    return datetime.fromisoformat(export_format.in_time_order(text))


def proven_tree(export: LedgerExport) -> MerkleTree:
    """The tree of the export's head, rebuilt from the ledger; refused if it no longer gives the
    signed root (entries or leaf hashes changed since the head was signed)."""
    tree = ledger_tree(tree_size=export.head.tree_size)
    if tree.root() != bytes(export.head.root_hash):
        raise LedgerInconsistent(
            "The ledger no longer gives the root of this export's signed head: it was altered."
        )
    return tree


def _lines(
    filters: ExportFilters, tree: MerkleTree, line: Callable[[dict[str, Any], list[bytes]], bytes]
) -> Iterator[bytes]:
    for entry in filters.entries(tree_size=tree.size).iterator(chunk_size=CHUNK):
        yield line(entry_fields(entry), tree.inclusion_proof(int(entry.seq) - 1))


def jsonl(filters: ExportFilters, tree: MerkleTree) -> Iterator[bytes]:
    yield from _lines(filters, tree, export_format.jsonl_line)


def csv(filters: ExportFilters, tree: MerkleTree) -> Iterator[bytes]:
    yield export_format.csv_header()
    yield from _lines(filters, tree, export_format.csv_line)


GENERATORS = {export_format.JSONL_NAME: jsonl, export_format.CSV_NAME: csv}


def digest(chunks: Iterator[bytes]) -> dict[str, Any]:
    sha256, size = hashlib.sha256(), 0
    for chunk in chunks:
        sha256.update(chunk)
        size += len(chunk)
    return {"sha256": sha256.hexdigest(), "bytes": size}


def manifest(export: LedgerExport) -> dict[str, Any]:
    """The signed manifest (Ed25519 is deterministic: the same export always gives the same bytes)."""
    head, previous = export.head, export.previous_head
    body: dict[str, Any] = {
        "format": export_format.FORMAT,
        "export_id": str(export.id),
        "created_at": timestamp(export.created_at),
        "created_by": export.created_by.get_username(),
        "export_seq": int(export.ledger_seq),
        "filters": export.filters,
        "count": int(export.entry_count),
        "head": head.as_signed().as_json(),
        "previous_head": previous.as_signed().as_json() if previous else None,
        "consistency_proof": export.consistency_proof,
        "files": {name: export.files[name] for name in GENERATORS},
    }
    key = signing_key()
    body["signature"] = base64.b64encode(key.sign(signing.manifest_message(body))).decode()
    return body
