from django.apps import AppConfig
from django.contrib.auth import get_user_model
from django.db.backends.signals import connection_created
from django.db.models.signals import m2m_changed, post_migrate


class StaffConfig(AppConfig):
    """Staff identity: roles, sign-in and its throttle, step-up, account changes on the ledger, the
    staff admin, and the one authorisation every page and staff API view declares."""

    name = "staff"
    verbose_name = "Staff: roles, sign-in, step-up"

    def ready(self) -> None:
        from audit.services import register_queue
        from staff import checks, schema  # noqa: F401 - the system check, the OpenAPI authentication scheme
        from staff.account_changes import install, ledger_queued_changes, record_role_change

        # Role groups follow staff.roles after every migrate, as contrib.auth does for its
        # permissions: a deployment never runs with a stale permission table.
        post_migrate.connect(_sync_roles, dispatch_uid="staff.sync_role_groups")
        # Account writes through Django carry their actor to the database's triggers, and the
        # changes those queue are in the ledger before the transaction commits; changes made
        # outside Django are moved by the next sequencing (each signed head).
        connection_created.connect(install, dispatch_uid="staff.account_write_wrapper")
        register_queue(ledger_queued_changes)
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
