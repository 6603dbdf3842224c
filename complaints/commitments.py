"""Commitments to a case's free texts: the ledger keeps a keyed hash, the case keeps the text.

An officer's justification, a decision's reason or a closing summary may name people; the
ledger is append-only and kept for ever, so it gets only HMAC-SHA256 of the text under a key of
the case (`ComplaintCase.text_key`). While the text exists anyone holding the case proves it is
the text committed to; once the case is redacted the key and text are gone together, and the
commitment names nothing, while the ledger still verifies (the entry itself never changed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from audit.committed_texts import COMMITMENT

WHERE = "text"  # ... and of where the text is kept, e.g. "case.summary", "request.justification"


def new_key() -> str:
    return secrets.token_hex(32)


def commit(key: str, text: str) -> str:
    return hmac.new(bytes.fromhex(key), text.encode(), hashlib.sha256).hexdigest()


def details(key: str, text: str, *, where: str) -> dict[str, str]:
    """What a ledger entry carries instead of `text`."""
    return {COMMITMENT: commit(key, text), WHERE: where}


def check(entry_details: dict[str, Any], *, key: str, text: str | None) -> bool:
    if not key or text is None:
        return False
    return hmac.compare_digest(commit(key, text), str(entry_details.get(COMMITMENT, "")))
