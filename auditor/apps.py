from django.apps import AppConfig


class AuditorConfig(AppConfig):
    """The auditor's pages and API over the ledger. Split from `audit` (the ledger itself), which
    every app writes to and so sits below `staff`; these pages need `staff`'s authorisation."""

    name = "auditor"
    verbose_name = "Audit ledger: pages and API"
