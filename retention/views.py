"""Retention pages for staff: the operator dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from retention.dashboard import overview


@login_required
@permission_required("recorder.view_recording", raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "retention/dashboard.html", {"overview": overview(now=timezone.now())})
