"""Housekeeping on beat: staff's sign-in records kept no longer than they serve. Safe to run twice."""

from celery import shared_task

from staff.signin_throttle import forget_old_sign_ins as forget


@shared_task(acks_late=True)
def forget_old_sign_ins() -> int:
    return forget()
