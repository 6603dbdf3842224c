from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """E-mails to staff: an access request awaiting a decision, its decision, reminders before a
    grant ends and before a case's answer date, a failed purge or a purge that falls behind."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import receivers

        receivers.connect()
