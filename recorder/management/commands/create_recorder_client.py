"""`manage.py create_recorder_client NAME`: prints the new token once, on the last line."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError

from core.errors import DomainError
from recorder.models import RecorderClient
from recorder.services import create_recorder_client


class Command(BaseCommand):
    help = "Create a recorder client and print its API token (shown once, stored only hashed)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name to recognise the client by, e.g. the tool's host")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            client, token = create_recorder_client(name=name)
        except DomainError as error:
            raise CommandError(error.detail) from error
        except (ValidationError, IntegrityError) as error:  # the model's check, or a racing twin's row
            if RecorderClient.objects.filter(name=name).exists():
                raise CommandError(f"A recorder client named {name!r} exists already.") from error
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            raise CommandError(" ".join(messages)) from error
        self.stderr.write(f"Recorder client {client.name} ({client.id}) created. Its token, shown only now:")
        self.stdout.write(token)
