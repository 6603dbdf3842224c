"""Retention API routes (staff session authentication)."""

from django.urls import path

from retention import api

urlpatterns = [path("purge-runs", api.PurgeRunListView.as_view(), name="purge-runs")]
