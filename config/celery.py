"""The Celery application: worker and beat read their settings from Django's (CELERY_*)."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The embedded default's broker (filesystem://) publishes whole messages only: config/broker.py.
# Bound to the URL scheme, not set as broker_transport, so a broker URL given elsewhere (a
# setting, `celery --broker`) still picks its own transport.
TRANSPORT_ALIASES["filesystem"] = "config.broker:Transport"

app = Celery("vault")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids into tasks, and Django's log format in workers and beat.
import ops.task_context  # noqa: E402, F401
