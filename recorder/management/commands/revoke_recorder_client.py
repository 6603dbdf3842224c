"""`manage.py revoke_recorder_client NAME`: its token is refused (401) from the next request on."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Actor
from core.errors import DomainError
from recorder.services import recorder_client_named, revoke_recorder_client


class Command(BaseCommand):
    help = "Revoke a recorder client's token (a ledger event); it cannot be un-revoked: create a new client."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            client = recorder_client_named(name=name)
        except DomainError as error:
            raise CommandError(error.detail) from error
        if revoke_recorder_client(client=client, actor=Actor.job("revoke_recorder_client")):
            self.stdout.write(f"Revoked recorder client {client.name} ({client.token_prefix}...).")
        else:
            when = f"{client.revoked_at:%Y-%m-%d %H:%M:%S}"
            self.stdout.write(f"Recorder client {client.name} was revoked already, at {when}.")
