"""Celery tasks of the ledger: the scheduled signed tree head. Safe to run twice or side by side."""

from celery import shared_task

from audit.models import SignedTreeHead
from audit.services import sign_tree_head


@shared_task(acks_late=True)
def sign_ledger_tree_head() -> dict[str, int]:
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    return {"tree_size": int(head.tree_size)}
