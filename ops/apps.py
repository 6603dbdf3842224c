import logging

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Operations: health, metrics, logs, demo"

    def ready(self) -> None:
        # Python warnings through logging too, so standard error holds JSON lines only.
        logging.captureWarnings(True)
