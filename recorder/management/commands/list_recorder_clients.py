"""`manage.py list_recorder_clients`: name, token prefix, created and revoked times of each client."""

from typing import Any

from django.core.management.base import BaseCommand

from recorder.selectors import recorder_clients


class Command(BaseCommand):
    help = "List recorder clients: name, token prefix (to recognise a token), created, revoked."

    def handle(self, *args: Any, **options: Any) -> None:
        clients = list(recorder_clients())
        if not clients:
            self.stdout.write("No recorder clients. Create one with: manage.py create_recorder_client NAME")
            return
        width = max(len(client.name) for client in clients)
        self.stdout.write(f"{'name':<{width}}  token prefix  created              revoked")
        for client in clients:
            revoked = f"{client.revoked_at:%Y-%m-%d %H:%M:%S}" if client.revoked_at else "-"
            self.stdout.write(
                f"{client.name:<{width}}  {client.token_prefix:<12}  "
                f"{client.created_at:%Y-%m-%d %H:%M:%S}  {revoked}"
            )
