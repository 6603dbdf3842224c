from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "complaints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import committed_texts
        from complaints import checks  # noqa: F401 - registers the system check
        from complaints.selectors import committed_texts_of_cases
        from complaints.services import revoke_grants_of_voided_account
        from staff.account_changes import credentials_voided

        # A credential set by anyone but its owner voids the grants it could open (staff sends).
        credentials_voided.connect(revoke_grants_of_voided_account, dispatch_uid="complaints.revoke_voided")
        committed_texts.register(committed_texts_of_cases)
