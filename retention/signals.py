"""What the purge tells the apps above it: a run failed (a payload could not be deleted) or was
abandoned (its worker died). Sent inside the transaction that records it, with the run's id only;
`notifications` listens, retention imports nothing of it (layers run one way)."""

from __future__ import annotations

import django.dispatch

# run_id: a purge run finished with failures, or was marked abandoned.
purge_run_failed = django.dispatch.Signal()
