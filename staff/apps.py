from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_migrate


class StaffConfig(AppConfig):
    """Staff identity: roles, sign-in and its throttle, step-up, account changes on the ledger, the
    staff admin, and the one authorisation every page and staff API view declares."""

    name = "staff"
    verbose_name = "Staff: roles, sign-in, step-up"

    def ready(self) -> None:
        from staff import schema  # noqa: F401 - registers the OpenAPI authentication scheme
        from staff.account_changes import record_role_change
        from staff.step_up import note_authentication

        # Role groups follow staff.roles after every migrate, as contrib.auth does for its
        # permissions: a deployment never runs with a stale permission table.
        post_migrate.connect(_sync_roles, dispatch_uid="staff.sync_role_groups")
        # Step-up before playback needs the time of the last password entry in the session.
        user_logged_in.connect(note_authentication, dispatch_uid="staff.note_authentication")
        m2m_changed.connect(
            record_role_change,
            sender=get_user_model().groups.through,
            dispatch_uid="staff.record_role_change",
        )


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    """After the migrate of an app whose permissions a role carries (contrib.auth has then made
    them): the groups are synced once those permissions exist."""
    from staff.roles import apps_in_roles, sync_role_groups  # models: importable once apps are ready

    if sender.label in apps_in_roles():
        sync_role_groups()
