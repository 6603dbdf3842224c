"""`manage.py demo [--url URL]`: fill the running service with a few dozen realistic sessions and
create one staff user per role, printing their passwords once. Idempotent: a second run adds nothing."""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone
from tqdm import tqdm

from core.batching import any_of
from ops.demo import media
from ops.demo.plan import plan
from ops.demo.player import DemoError, RecorderToolClient, Tally
from recorder.models import RecorderClient, Session
from recorder.pseudonyms import pseudonym
from recorder.services import authenticate_token, create_recorder_client
from staff.roles import ROLES

CLIENT_NAME = "demo-support-tool"
STAFF = {role: f"demo-{role.replace('_', '-')}" for role in ROLES}


class Command(BaseCommand):
    help = (
        "Play a remote-support tool against the running service over HTTP: a few dozen sessions "
        "over the last months with realistic consent timelines and short WebM recordings, and one "
        "staff user per role (passwords printed once). Running it again adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running service")
        parser.add_argument("--sessions", type=int, default=36, help="how many sessions to play")
        parser.add_argument(
            "--token-file",
            default=None,
            help="the demo tool's API token (0600); default VAULT_DATA_DIR/secrets/demo-recorder-token",
        )

    def handle(self, *args: Any, url: str, sessions: int, token_file: str | None, **options: Any) -> None:
        path = Path(token_file) if token_file else settings.VAULT_DATA_DIR / "secrets" / "demo-recorder-token"
        client, token = self._recorder_client(path)
        tool = RecorderToolClient(url, token)
        tally = Tally()
        planned = plan(count=sessions, now=timezone.now())
        # A session whose retention has passed keeps only the keyed hash of its external id.
        names = {p.external_id: p.external_id for p in planned}
        names |= {pseudonym(p.external_id, purpose="external_id"): p.external_id for p in planned}
        known = {
            names[external_id]: session_id
            for external_id, session_id in Session.objects.filter(client=client)
            .filter(any_of("external_id", list(names)))
            .values_list("external_id", "id")
        }
        with tempfile.TemporaryDirectory() as folder:
            recordings = media.recordings(Path(folder))
            try:
                for index, session in enumerate(
                    tqdm(planned, desc="demo sessions", unit="session", disable=None)
                ):
                    session_id = known.get(session.external_id)
                    if session_id is not None:
                        tally.existing += 1
                    tool.play(
                        session,
                        session_id=str(session_id) if session_id else None,
                        media=recordings[index % len(recordings)],
                        tally=tally,
                    )
            except DemoError as error:
                raise CommandError(str(error)) from error
        created_users = self._staff()
        self._report(url, tally, created_users)

    def _recorder_client(self, path: Path) -> tuple[RecorderClient, str]:
        """The demo tool's client: the one whose token is kept in `path`, or a new one."""
        if path.exists():
            token = path.read_text().strip()
            client = authenticate_token(token)
            if client is not None:
                return client, token
        taken = set(
            RecorderClient.objects.filter(name__startswith=CLIENT_NAME).values_list("name", flat=True)
        )
        name = next(
            n for n in [CLIENT_NAME, *(f"{CLIENT_NAME}-{i}" for i in range(2, 1000))] if n not in taken
        )
        client, token = create_recorder_client(name=name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        self.stdout.write(f"Recorder client {name} created; its token is kept in {path} (0600).")
        return client, token

    def _staff(self) -> dict[str, str]:
        """One user per role through add_staff; returns {username: password} of those created now."""
        User = get_user_model()
        created = {}
        for role, username in STAFF.items():
            if User.objects.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(15)
            call_command(
                "add_staff", username, "--role", role, "--password-stdin",
                stdin=io.StringIO(password + "\n"), stdout=io.StringIO(),
            )  # fmt: skip
            created[username] = password
        return created

    def _report(self, url: str, tally: Tally, created_users: dict[str, str]) -> None:
        write = self.stdout.write
        new = (
            tally.registered + tally.events + tally.uploaded + tally.refused_as_expected + len(created_users)
        )
        if not new:
            write(f"Nothing new: the {tally.existing} demo sessions and the staff users exist already.")
        else:
            write(
                f"Sessions registered: {tally.registered} (already there: {tally.existing}); rights "
                f"events: {tally.events}; recordings uploaded and sealed: {tally.uploaded}; uploads "
                f"refused with 409 because the agent never had control rights: {tally.refused_as_expected}."
            )
        if created_users:
            write(
                "Staff users (passwords shown only now; sign in at "
                + url.rstrip("/")
                + reverse("login")
                + "):"
            )
            for role, username in STAFF.items():
                if username in created_users:
                    write(f"  {role:<24} {username:<32} {created_users[username]}")
        else:
            write(
                "Staff users exist already: "
                + ", ".join(STAFF.values())
                + " (set a password with: manage.py add_staff NAME --role ROLE --password-stdin)."
            )
