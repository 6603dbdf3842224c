"""`manage.py init_keys`: create the embedded X25519 key pair (identity 0600) if absent."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recorder.recipients import RecipientConfigError, ensure_embedded_key_pair


class Command(BaseCommand):
    help = "Create the embedded age key pair under VAULT_DATA_DIR/keys unless it exists."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            identity, recipients, created = ensure_embedded_key_pair(Path(settings.EMBEDDED_KEY_DIR))
        except RecipientConfigError as error:
            raise CommandError(str(error)) from error
        verb = "Created" if created else "Kept"
        self.stdout.write(
            f"{verb} the embedded key pair: identity {identity} (0600), recipients {recipients}"
        )
