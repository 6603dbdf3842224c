"""`/metrics` for Prometheus: django-prometheus's request metrics and the vault's own.

Not for the public: answered only to METRICS_ALLOWED_IPS (default loopback) or to a caller
bearing METRICS_BEARER_TOKEN. The address is the socket's (REMOTE_ADDR), never a forwarded
header a client could forge.
"""

from __future__ import annotations

import hmac
import os

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, multiprocess

from core.errors import json_error
from ops.metrics import VaultCollector


def _allowed(request: HttpRequest) -> bool:
    expected = settings.METRICS_BEARER_TOKEN
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if expected and scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), expected):
        return True
    return request.META.get("REMOTE_ADDR", "") in settings.METRICS_ALLOWED_IPS


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        # Answered ahead of the locale middleware (ops.middleware), so the caller's language is
        # read here, for the one sentence a person may read.
        with translation.override(translation.get_language_from_request(request)):
            detail = translation.gettext("Metrics are served to the monitoring addresses or token only.")
        return json_error("forbidden", detail, 403)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # Several gunicorn workers: merge what each wrote to the shared directory.
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)  # type: ignore[no-untyped-call]
    else:
        process_registry = prometheus_client.REGISTRY
    vault_registry = CollectorRegistry(auto_describe=False)
    vault_registry.register(VaultCollector())
    body = prometheus_client.generate_latest(process_registry) + prometheus_client.generate_latest(
        vault_registry
    )
    response = HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
