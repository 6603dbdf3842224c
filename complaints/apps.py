from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ComplaintsConfig(AppConfig):
    name = "complaints"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Role groups follow config.roles after every migrate, as contrib.auth does for its
        # permissions: a deployment never runs with a stale permission table.
        post_migrate.connect(_sync_roles, dispatch_uid="complaints.sync_role_groups")


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    if sender.name != "complaints":
        return
    from config.roles import sync_role_groups

    sync_role_groups()
