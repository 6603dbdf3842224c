from django.apps import AppConfig


class ForwardingConfig(AppConfig):
    name = "forwarding"
    verbose_name = "Ledger forwarding to a SIEM"
    default_auto_field = "django.db.models.BigAutoField"
