"""`manage.py add_staff USERNAME --role ROLE [--password-stdin]`: create or update a staff user."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from audit.services import Actor
from staff.account_changes import acting_as
from staff.roles import RECORDING_ROLES, ROLES, SUPERUSER_WITH_RECORDING_ROLE, assign_role


class Command(BaseCommand):
    stealth_options = ("stdin",)  # tests and scripts may pass a stream instead of sys.stdin
    help = (
        "Create or update a staff user with exactly one role. Without --password-stdin the "
        "password is left as it is (a new user cannot sign in until one is set)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input (arguments show in `ps`)",
        )

    def handle(
        self, *args: Any, username: str, role: str, email: str, password_stdin: bool, **options: Any
    ) -> None:
        stream = options.get("stdin") or sys.stdin
        password = stream.readline().rstrip("\r\n") if password_stdin else None
        User = get_user_model()
        user = User.objects.filter(username=username).first() or User(username=username)
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from error
        if user.is_superuser and role in RECORDING_ROLES:
            raise CommandError(SUPERUSER_WITH_RECORDING_ROLE % {"username": username, "role": role})
        # Every account write below is ledgered with this command as its actor, in this transaction.
        with acting_as(Actor.job("add_staff")), transaction.atomic():
            created = user.pk is None
            if email:
                user.email = email
            user.is_staff = role == "operator"  # the read-only metadata admin is the operators' tool
            if password is not None:
                user.set_password(password)
            elif created:
                user.set_unusable_password()
            user.full_clean(exclude=["password"])
            user.save()
            assign_role(user=user, role=role)
        verb = "created" if created else "updated"
        self.stdout.write(f"{verb} {username} with role {role}")
