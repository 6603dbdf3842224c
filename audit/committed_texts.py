"""Free texts the ledger commits to but does not hold, looked up for the entries that name them.

An app that keeps a text out of the ledger (complaints: justifications, decision reasons,
closing summaries) writes a commitment (a keyed hash) into the entry's details and registers a
source here (in its AppConfig.ready) that, given entries, returns the text beside each: proven
to match the commitment while it exists, or when and why it went. The auditor's page and the
export's texts.json show them; the ledger itself never changes, so it verifies either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.models import LedgerEntry

# The details key of a commitment: hex HMAC-SHA256(key, text). One name for every app.
COMMITMENT = "text_hmac"


@dataclass(frozen=True)
class CommittedText:
    where: str  # the record that keeps it, e.g. "case.summary"
    text: str | None  # None once redacted
    key: str | None  # the commitment's key (hex), given with the text so anyone can check it
    matches: bool | None  # whether the text gives the entry's commitment; None once redacted
    redacted_at: datetime | None = None
    redaction_reason: str = ""

    def as_json(self, seq: int) -> dict[str, Any]:
        return {
            "seq": seq,
            "where": self.where,
            "text": self.text,
            "key": self.key,
            "matches": self.matches,
            "redacted_at": self.redacted_at.isoformat() if self.redacted_at else None,
            "redaction_reason": self.redaction_reason or None,
        }


TextSource = Callable[[Sequence[LedgerEntry]], dict[int, CommittedText]]
_sources: list[TextSource] = []


def register(source: TextSource) -> None:
    if source not in _sources:
        _sources.append(source)


def committed_texts(entries: Sequence[LedgerEntry]) -> dict[int, CommittedText]:
    """{seq: its committed text} for the entries that commit to one."""
    found: dict[int, CommittedText] = {}
    for source in _sources:
        found.update(source(entries))
    return found
