"""Retention pages for staff: the operator dashboard."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from retention.pages import overview
from staff.authorisation import staff_page
from staff.roles import OPERATOR


@staff_page(OPERATOR)
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "retention/dashboard.html", {"overview": overview(now=timezone.now())})
