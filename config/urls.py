"""URL routes: staff pages and sign-in, the versioned API under /api/v1/, its OpenAPI schema, the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from notifications.views import preferences as notification_preferences
from ops.views import metrics
from staff.second_factor import second_factor
from staff.step_up import step_up
from staff.views import home, password_change, password_changed

handler400 = "core.errors.handler400"
handler403 = "staff.views.handler403"
handler404 = "core.errors.handler404"
handler500 = "core.errors.handler500"

urlpatterns = [
    path("", home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/step-up/", step_up, name="step-up"),
    path("accounts/second-factor/", second_factor, name="second-factor"),
    path("accounts/password/", password_change, name="password-change"),
    path("accounts/password/done/", password_changed, name="password-change-done"),
    path("accounts/notifications/", notification_preferences, name="notification-preferences"),
    path("cases/", include("complaints.urls_pages")),
    path("operations/", include("retention.urls_pages")),
    path("audit/", include("auditor.urls_pages")),
    path("privacy/", include("privacy.urls_pages")),
    # The header's language switch posts here (Django's set_language): the choice goes into the
    # language cookie and the reader returns to the page they came from.
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/", include("recorder.urls")),
    path("api/v1/", include("retention.urls")),
    path("api/v1/", include("complaints.urls")),
    path("api/v1/", include("auditor.urls")),
    path("api/v1/", include("privacy.urls")),
]
