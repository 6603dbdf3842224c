"""A floor under an upload's speed: a body must arrive within a grace period plus its length at a
minimum rate, or the socket's read side is shut and the upload refused (408), so a client sending
one byte a second cannot hold a server thread for days (slowloris)."""

from __future__ import annotations

import socket
import threading
from typing import Any

from django.conf import settings
from rest_framework import status

from config.errors import DomainError


class UploadTooSlow(DomainError):
    code = "upload_too_slow"
    status = status.HTTP_408_REQUEST_TIMEOUT


class DeadlineBody:
    """The request body, read as usual until the deadline; then reads end and raise UploadTooSlow.

    gunicorn reads the socket in blocking calls that a slow client keeps alive byte by byte; only
    shutting the socket's read side (gunicorn hands the socket to the app as `gunicorn.socket`)
    wakes such a read. Under other servers there is no socket to shut and no deadline.
    """

    def __init__(self, body: Any, sock: socket.socket | None, length: int | None) -> None:
        self.body = body
        self.sock = sock
        self.expired = False
        self.seconds = settings.UPLOAD_MIN_RATE_GRACE_SECONDS + (length or 0) / max(
            settings.UPLOAD_MIN_RATE_BYTES_PER_SECOND, 1
        )
        self.timer = threading.Timer(self.seconds, self._expire) if sock is not None else None

    def _expire(self) -> None:
        self.expired = True
        try:
            self.sock.shutdown(socket.SHUT_RD)  # type: ignore[union-attr]
        except OSError:
            pass  # already closed: the read has ended anyway

    def read(self, size: int = -1, /) -> bytes:
        piece: bytes = self.body.read(size)
        if self.expired:
            raise UploadTooSlow(
                f"The body did not arrive within {self.seconds:.0f} seconds "
                f"(at least {settings.UPLOAD_MIN_RATE_BYTES_PER_SECOND} bytes a second are expected).",
            )
        return piece

    def __enter__(self) -> DeadlineBody:
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.timer is not None:
            self.timer.cancel()
