"""The embedded default's Celery broker: kombu's filesystem transport, with messages that appear in
the queue folder only once they are whole (kombu 5.7.0 creates the file there, then writes it),
and that are claimed by one consumer inside VAULT_DATA_DIR (kombu moves them through /tmp)."""

from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.transport.virtual import Empty
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

# A publish writes a few kilobytes and syncs them: a `.partial` file this old belongs to a
# publisher that crashed mid-write (or was killed), and no process will ever finish it.
STALE_PARTIAL_SECONDS = 600


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._remove_stale_partials()

    def _remove_stale_partials(self) -> None:
        """Remove what crashed publishers left: each process that opens the broker (web, worker,
        beat) sweeps once, so the queue folder does not fill with files nothing reads."""
        too_old = time.time() - STALE_PARTIAL_SECONDS
        with contextlib.suppress(FileNotFoundError):
            with os.scandir(self.data_folder_out) as entries:
                for entry in entries:
                    if not (entry.name.startswith(".") and entry.name.endswith(".msg.partial")):
                        continue
                    with contextlib.suppress(FileNotFoundError):  # another process swept it first
                        if entry.stat().st_mtime < too_old:
                            os.remove(entry.path)

    # kombu's filesystem Channel already names AbstractChannel's `message` `payload`: mypy
    # cannot accept one name for both supertypes, so this keeps the one it overrides.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        data = str_to_bytes(dumps(payload))
        # The name kombu gives a message: its consumers sort on the leading milliseconds.
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
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

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """The oldest whole message of `queue`, claimed by an atomic rename into the processed
        folder, read and removed. kombu's own `_get` moves it into the system's temporary folder
        when processed messages are not kept: the message leaves VAULT_DATA_DIR for a folder
        other users can list, and where that folder is another filesystem the move is a copy
        then a delete, during which a second consumer can copy the same message."""
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            except OSError as error:
                if error.errno == errno.EXDEV:
                    raise ChannelError(
                        "The broker's queue and processed folders must be on one filesystem."
                    ) from error
                raise ChannelError(f"Cannot claim {name!r} from the queue.") from error
            try:
                with open(claimed, "rb") as file:
                    payload = file.read()
            except OSError as error:
                raise ChannelError(f"Cannot read {claimed!r} from the queue.") from error
            if not self.store_processed:
                os.remove(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()


class Transport(filesystem.Transport):
    """kombu's filesystem transport with `Channel` above; config/celery.py binds it to `filesystem://`."""

    Channel = Channel
