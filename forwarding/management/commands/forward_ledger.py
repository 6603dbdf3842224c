"""`manage.py forward_ledger`: the Procfile's `forwarder` process, streaming the ledger to the SIEM
destinations set by LEDGER_SYSLOG_URL and LEDGER_WEBHOOK_URL until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from forwarding import services
from forwarding.destinations import configured

logger = logging.getLogger("forwarding")


class Command(BaseCommand):
    help = (
        "Forward every ledger entry, in seq order, to the configured SIEM destinations (runs until stopped)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        destinations = configured()  # a bad setting stops the process here, with its reason
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        if not destinations:
            # Idle rather than exit: honcho (`make run`) stops every process when one ends.
            logger.info("no ledger forwarding destination is configured; the forwarder idles")
            stop.wait()
            return
        logger.info("forwarding the ledger to %s", ", ".join(d.name for d in destinations))
        services.run(
            destinations,
            config=services.Settings(
                batch_size=settings.LEDGER_FORWARD_BATCH_SIZE,
                poll_seconds=settings.LEDGER_FORWARD_POLL_SECONDS,
                backoff_initial_seconds=settings.LEDGER_FORWARD_BACKOFF_INITIAL_SECONDS,
                backoff_max_seconds=settings.LEDGER_FORWARD_BACKOFF_MAX_SECONDS,
            ),
            stop=stop,
        )
