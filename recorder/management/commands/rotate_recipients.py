"""`manage.py rotate_recipients`: rewrap every locked recording to a new recipient set.

Run it on a node holding the OLD identity (the X25519 identity file and/or KMS Decrypt): ingest
nodes have none. Resumable: interrupted, run it again; recordings already wrapped to exactly the
new set are skipped. Afterwards the old identity can be retired.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from audit.services import Actor
from recorder.keys import KeyFileError, KmsIdentity, KmsRecipient, X25519Recipient, read_identity_file
from recorder.keys import read_recipients_file as read_recipients
from recorder.recipients import RecipientConfigError, describe, ingest_recipients, kms_client
from recorder.rotation import recordings_to_rewrap, rewrap_recordings
from recorder.sealing import Identity, Recipient


class Command(BaseCommand):
    help = (
        "Rewrap every locked recording's file key to a new recipient set (database only; payloads "
        "untouched). Without --recipient/--recipients-file/--kms-key-id, the configured ingest "
        "recipients are the new set. Needs the old identity: run it where playback runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--recipient", action="append", default=[], help="an age1... public key")
        parser.add_argument("--recipients-file", action="append", default=[], help="age1... keys, one a line")
        parser.add_argument("--kms-key-id", action="append", default=[], help="a KMS key (aws-kms stanza)")
        parser.add_argument(
            "--identity-file",
            action="append",
            default=[],
            help="the old X25519 identity (0600); default AGE_IDENTITY_FILE if it exists",
        )
        parser.add_argument(
            "--kms-decrypt",
            action="store_true",
            help="unwrap aws-kms stanzas with KMS Decrypt (on by default when KMS_KEY_ID is set)",
        )
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--limit", type=int, default=None, help="rewrap at most N recordings")
        parser.add_argument("--dry-run", action="store_true", help="count what would be rewrapped")

    def handle(self, *args: Any, **options: Any) -> None:
        recipients = self._recipients(options)
        identities = self._identities(options)
        labels = ", ".join(describe(recipient) for recipient in recipients)
        todo = [str(recording.id) for recording in recordings_to_rewrap(recipients=recipients)]
        if options["limit"] is not None:
            todo = todo[: options["limit"]]
        self.stdout.write(f"{len(todo)} recording(s) to rewrap to: {labels}")
        if options["dry_run"] or not todo:
            return
        actor = Actor.job("rotate_recipients")
        rewrapped, failed = 0, {}
        batch_size = max(1, options["batch_size"])
        with tqdm(total=len(todo), unit="rec", disable=None) as bar:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                outcome = rewrap_recordings(
                    recording_ids=batch, identities=identities, recipients=recipients, actor=actor
                )
                rewrapped += outcome.rewrapped
                failed.update(outcome.failed)
                bar.update(len(batch))
        self.stdout.write(f"rewrapped {rewrapped}, failed {len(failed)}")
        if failed:
            for recording_id, code in sorted(failed.items()):
                self.stderr.write(f"  {recording_id}: {code}")
            raise CommandError(
                f"{len(failed)} recording(s) could not be unwrapped with the given identities; "
                "they still need the old identity. Fix and run again (done ones are skipped)."
            )

    def _recipients(self, options: dict[str, Any]) -> list[Recipient]:
        recipients: list[Recipient] = []
        try:
            recipients += [X25519Recipient.from_string(text) for text in options["recipient"]]
            for path in options["recipients_file"]:
                recipients += read_recipients(Path(path))
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read the new recipients: {error}") from error
        recipients += [KmsRecipient(key_id, kms_client()) for key_id in options["kms_key_id"]]
        if recipients:
            return recipients
        try:
            return ingest_recipients()
        except RecipientConfigError as error:
            raise CommandError(str(error)) from error

    def _identities(self, options: dict[str, Any]) -> list[Identity]:
        paths = [Path(path) for path in options["identity_file"]]
        if not paths and settings.AGE_IDENTITY_FILE and Path(settings.AGE_IDENTITY_FILE).exists():
            paths = [Path(settings.AGE_IDENTITY_FILE)]
        identities: list[Identity] = []
        try:
            for path in paths:
                identities += read_identity_file(path)
        except KeyFileError as error:
            raise CommandError(str(error)) from error
        if options["kms_decrypt"] or settings.KMS_KEY_ID:
            identities.append(KmsIdentity(kms_client()))
        if not identities:
            raise CommandError(
                "No old identity to unwrap with: pass --identity-file and/or --kms-decrypt "
                "(this node holds none; rotation runs where playback runs)."
            )
        return identities
