"""URL routes: the versioned API under /api/v1/, its OpenAPI schema, and the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/", include("recorder.urls")),
    path("api/v1/", include("retention.urls")),
]
