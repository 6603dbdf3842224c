"""`manage.py privacy_map [--json|--markdown]`: the data map (privacy/datamap.py)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from privacy import datamap


class Command(BaseCommand):
    help = "Print the data map: every field that can hold personal data, why it is kept, and its end."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="JSON instead of Markdown")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(datamap.as_json() if options["json"] else datamap.as_markdown(), ending="")
