from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Installed for its templates (the base page, error pages, charts) and the stylesheet."""

    name = "core"
    verbose_name = "Shared plumbing"
