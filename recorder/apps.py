from django.apps import AppConfig


class RecorderConfig(AppConfig):
    name = "recorder"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from recorder import schema  # noqa: F401 - registers the OpenAPI authentication scheme
