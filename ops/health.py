"""Readiness checks for load balancers: each dependency answers ok or names what is wrong.

Every check is bounded in time (a stopped dependency must not hang the probe) and says one
sentence an operator can act on; none of them reads or reveals a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from celery import current_app as celery_app
from django.conf import settings
from django.db import DatabaseError, connection

from forwarding.selectors import destination_lags
from recorder.recipients import RecipientConfigError, ingest_recipients
from recorder.stores import StoreError, get_store

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "error", "detail": self.detail}


def check_database() -> CheckResult:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "not ready"; the class names the cause
        logger.warning("readiness: database unreachable (%s)", type(error).__name__)
        return CheckResult("database", False, f"The database does not answer ({type(error).__name__}).")
    return CheckResult("database", True, f"The {connection.vendor} database answers.")


def check_broker() -> CheckResult:
    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    try:
        url = settings.CELERY_BROKER_URL
        with celery_app.connection_for_write(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0.2, timeout=BROKER_TIMEOUT_SECONDS
            )
    except Exception as error:  # kombu raises OperationalError, socket errors or timeouts
        logger.warning("readiness: broker unreachable (%s)", type(error).__name__)
        return CheckResult(
            "broker", False, f"The Celery broker ({transport}) cannot be reached ({type(error).__name__})."
        )
    return CheckResult("broker", True, f"The Celery broker ({transport}) accepts connections.")


def check_object_store() -> CheckResult:
    try:
        get_store().check_ready()
    except StoreError as error:
        logger.warning("readiness: object store not ready: %s", error)
        return CheckResult(
            "object_store", False, f"The object store ({settings.OBJECT_STORE}) is not usable: {error}."
        )
    return CheckResult("object_store", True, f"The object store ({settings.OBJECT_STORE}) is reachable.")


def check_recipients() -> CheckResult:
    try:
        recipients = ingest_recipients()
    except RecipientConfigError as error:
        return CheckResult("recipients", False, f"Ingest cannot seal: {error}.")
    return CheckResult("recipients", True, f"{len(recipients)} age recipient(s) loaded for sealing.")


def check_ledger_forwarding() -> CheckResult:
    """Informational: a SIEM that is down must not take the web nodes out of the load balancer
    (the forwarder catches up later), so the lag is reported and the check stays ok unless the
    database cannot say (check_database fails then too)."""
    try:
        lags = destination_lags()
    except DatabaseError as error:
        return CheckResult(
            "ledger_forwarding", False, f"The forwarding lag cannot be read ({type(error).__name__})."
        )
    if not lags:
        return CheckResult("ledger_forwarding", True, "No SIEM destination is configured.")
    return CheckResult("ledger_forwarding", True, "; ".join(lag.sentence() for lag in lags) + ".")


CHECKS: tuple[Callable[[], CheckResult], ...] = (
    check_database,
    check_broker,
    check_object_store,
    check_recipients,
    check_ledger_forwarding,
)


def readiness() -> list[CheckResult]:
    return [check() for check in CHECKS]
