"""The embedded default's Celery broker: kombu's filesystem transport, with messages that appear in
the queue folder only once they are whole (kombu 5.7.0 creates the file there, then writes it)."""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    """A filesystem channel whose publishing is atomic as seen by consumers.

    kombu's `_put` opens `<queue folder>/<name>.msg` and only then serializes and writes the
    message. Its `_get` renames any `*.msg` it lists into another folder and reads it without
    taking the writer's lock, so a consumer polling between the two reads an empty or partial
    file: `JSONDecodeError`, which kills the Celery worker, and the message is gone
    (celery/kombu#1551). Here the message is written and synced under a name `_get` never
    matches, then renamed into place: a rename within one folder is atomic on POSIX, so a
    consumer either does not see the message yet or sees all of it.
    """

    # kombu's filesystem Channel already names AbstractChannel's `message` `payload`: mypy
    # cannot accept one name for both supertypes, so this keeps the one it overrides.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        data = str_to_bytes(dumps(payload))
        # The name kombu gives a message: its consumers sort on the leading milliseconds.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # `_get`, `_size` and `_purge` match names whose part after the first "." is
        # "<queue>.msg"; this one ends in ".partial", so none of them ever touches it.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "xb") as file:
                file.write(data)
                file.flush()
                # Synced before the rename, so a crash cannot leave an empty message behind.
                os.fsync(file.fileno())
            os.replace(partial, final)
        except OSError as error:
            with contextlib.suppress(FileNotFoundError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from error


class Transport(filesystem.Transport):
    """kombu's filesystem transport with `Channel` above; config/celery.py binds it to `filesystem://`."""

    Channel = Channel
