from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_migrate


class ComplaintsConfig(AppConfig):
    name = "complaints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Role groups follow config.roles after every migrate, as contrib.auth does for its
        # permissions: a deployment never runs with a stale permission table.
        post_migrate.connect(_sync_roles, dispatch_uid="complaints.sync_role_groups")
        # Step-up before playback needs the time of the last password entry in the session.
        from complaints import checks, schema  # noqa: F401 - register the system check and OpenAPI scheme
        from complaints.step_up import note_authentication

        user_logged_in.connect(note_authentication, dispatch_uid="complaints.note_authentication")
        from complaints.staff_audit import record_role_change

        m2m_changed.connect(
            record_role_change,
            sender=get_user_model().groups.through,
            dispatch_uid="complaints.record_role_change",
        )


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    if sender.name != "complaints":
        return
    from config.roles import sync_role_groups

    sync_role_groups()
