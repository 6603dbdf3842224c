"""Auditors' exports of the ledger: the entries the filters select up to a signed head, each with
its inclusion proof, generated as a stream (entries read in chunks, a line at a time), and the
signed manifest that names the files by digest. Formats: audit/export_format.py."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, cast

from django.db.models import QuerySet
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit import export_format, signing
from audit.canonical import COLUMNS, hashed_fields, timestamp
from audit.committed_texts import COMMITMENT as COMMITMENT_KEY
from audit.committed_texts import committed_texts as committed_text_sources
from audit.keys import signing_key
from audit.merkle import ProofTree
from audit.models import LedgerEntry, LedgerExport
from audit.selectors import LedgerInconsistent, ledger_tree, tree_root
from audit.tiles import MissingTile, TiledTree, inclusion_tiles
from core.batching import batched

CHUNK = 2000
# The entries of the `account` filter: every change of a staff account, and role changes.
ACCOUNT_ACTIONS = ("staff.account_changed", "staff.role_changed")
ANY_ACCOUNT = "*"

# Filters outside these dates select nothing and are mistakes. They are refused, also because the
# stored filters must parse again at every download: a year under 1000 is stored unpadded, and
# `+ 1 day` after 9999-12-31 overflows.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
# Lazy (shown in the reader's language), typed as the str it becomes for the forms and API using it.
OUT_OF_RANGE = cast("str", _("Dates must fall between the years 2000 and 9999."))


def period_problem(since: datetime | None, until: datetime | None) -> str | None:
    """Why `since` and `until` cannot be an export's period, or None if they can."""
    if any(moment is not None and not EARLIEST <= moment <= LATEST for moment in (since, until)):
        return OUT_OF_RANGE
    if since and until and since >= until:
        return cast("str", _("since must be before until."))
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
    # Changes of staff accounts (`staff.account_changed`, `staff.role_changed`): of the account
    # with this user name, or of every account with ANY_ACCOUNT.
    account: str | None = None

    def as_json(self) -> dict[str, str | None]:
        """In the manifest, with times and ids spelled as in the hashed entries."""
        return {
            "since": timestamp(self.since) if self.since else None,
            "until": timestamp(self.until) if self.until else None,
            "case_id": str(self.case_id) if self.case_id else None,
            "actor": self.actor,
            "action": self.action,
            "recording_id": str(self.recording_id) if self.recording_id else None,
            # Only when set: manifests of exports made before this filter existed stay as signed.
            **({"account": self.account} if self.account else {}),
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
            account=data.get("account"),
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
        if self.account:
            query = query.filter(action__in=ACCOUNT_ACTIONS)
            if self.account != ANY_ACCOUNT:
                query = query.filter(details__username=self.account)
        return query.order_by("seq")


def _stored_moment(text: str) -> datetime:
    """A time as `timestamp()` stored it; exports made before the dates rule above may hold a year
    under 1000, unpadded ("999-12-31T..."), and their files must still download."""
    return datetime.fromisoformat(export_format.in_time_order(text))


def proven_tree(export: LedgerExport) -> ProofTree:
    """The tree of the export's head, read from the tiles (its right edge); refused if it no
    longer gives the signed root (tiles changed since the head was signed)."""
    tree = ledger_tree(tree_size=export.head.tree_size)
    if tree_root(tree) != bytes(export.head.root_hash):
        raise LedgerInconsistent(
            _("The ledger no longer gives the root of this export's signed head: it was altered.")
        )
    return tree


def _records(filters: ExportFilters, tree: ProofTree) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
    """(hashed fields, inclusion proof) of each selected entry. A chunk of entries at a time, the
    tiles their proofs need are read in one query first: an export of k entries reads those k
    entries and O(k log n) tiles, never the whole ledger. Entries are read as rows, not model
    instances (half the time)."""
    rows = filters.entries(tree_size=tree.size).values_list(*COLUMNS).iterator(chunk_size=CHUNK)
    while chunk := [hashed_fields(**dict(zip(COLUMNS, row, strict=True))) for row in islice(rows, CHUNK)]:
        if isinstance(tree, TiledTree):
            tree.prefetch(key for fields in chunk for key in inclusion_tiles(fields["seq"] - 1, tree.size))
        for fields in chunk:
            try:
                proof = tree.inclusion_proof(fields["seq"] - 1)
            except MissingTile as error:
                raise LedgerInconsistent(
                    format_lazy(_("The ledger's tiles are incomplete: {error}."), error=error)
                ) from None
            yield fields, proof


def jsonl(filters: ExportFilters, tree: ProofTree) -> Iterator[bytes]:
    for fields, proof in _records(filters, tree):
        yield export_format.jsonl_line(fields, proof)


def csv(filters: ExportFilters, tree: ProofTree) -> Iterator[bytes]:
    yield export_format.csv_header()
    for fields, proof in _records(filters, tree):
        yield export_format.csv_line(fields, proof)


GENERATORS = {export_format.JSONL_NAME: jsonl, export_format.CSV_NAME: csv}


def digest(chunks: Iterator[bytes]) -> dict[str, Any]:
    sha256, size = hashlib.sha256(), 0
    for chunk in chunks:
        sha256.update(chunk)
        size += len(chunk)
    return {"sha256": sha256.hexdigest(), "bytes": size}


def digests(filters: ExportFilters, tree: ProofTree) -> dict[str, dict[str, Any]]:
    """The digest of each file, entries and proofs read once for both (as GENERATORS spell them)."""
    jsonl_sha, csv_sha = hashlib.sha256(), hashlib.sha256()
    header = export_format.csv_header()
    csv_sha.update(header)
    jsonl_bytes, csv_bytes = 0, len(header)
    for fields, proof in _records(filters, tree):
        line = export_format.jsonl_line(fields, proof)
        jsonl_sha.update(line)
        jsonl_bytes += len(line)
        line = export_format.csv_line(fields, proof)
        csv_sha.update(line)
        csv_bytes += len(line)
    return {
        export_format.JSONL_NAME: {"sha256": jsonl_sha.hexdigest(), "bytes": jsonl_bytes},
        export_format.CSV_NAME: {"sha256": csv_sha.hexdigest(), "bytes": csv_bytes},
    }


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


def committed_texts(export: LedgerExport) -> list[dict[str, Any]]:
    """texts.json: the free texts the export's entries commit to (audit.committed_texts), each
    with its key while it exists, so anyone can check HMAC-SHA256(key, text) against the entry's
    `text_hmac`; after redaction, when and why it went. Not signed: it changes when a case is
    redacted, while the entries (which the manifest signs) never do."""
    filters = ExportFilters.from_json(export.filters)
    entries = filters.entries(tree_size=export.head.tree_size).filter(details__has_key=COMMITMENT_KEY)
    found: list[dict[str, Any]] = []
    for chunk in batched(entries.iterator(chunk_size=2000), 2000):
        texts = committed_text_sources(chunk)
        found += [texts[entry.seq].as_json(entry.seq) for entry in chunk if entry.seq in texts]
    return found
