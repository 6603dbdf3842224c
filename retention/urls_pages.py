"""Retention pages (staff sign-in), included at /operations/ under the namespace "retention"."""

from django.urls import path

from retention import views

app_name = "retention"
urlpatterns = [path("", views.dashboard, name="dashboard")]
