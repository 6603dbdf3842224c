"""What the complaint workflow tells the apps above it: a request awaits a decision, a request was
decided. Sent inside the action's transaction, after its ledger entry, so a receiver's writes
commit or roll back with the change; they carry ids only (no free text, no customer reference).
Above complaints, `notifications` listens; complaints imports nothing of it (layers run one way).
"""

from __future__ import annotations

import django.dispatch

# request_id: an access request now awaits a data protection officer's decision.
access_requested = django.dispatch.Signal()
# request_id: a data protection officer approved or rejected it (its status says which).
access_decided = django.dispatch.Signal()
