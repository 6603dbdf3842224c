from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "complaints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import committed_texts
        from complaints import checks  # noqa: F401 - registers the system check
        from complaints.selectors import committed_texts_of_cases

        committed_texts.register(committed_texts_of_cases)
