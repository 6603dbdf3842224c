"""A floor under an upload's speed: a body must arrive within a grace period plus its length at a
minimum rate, or the socket's read side is shut and the upload refused (408), so a client sending
one byte a second cannot hold a server thread for days (slowloris)."""

from __future__ import annotations

import socket
import threading
from typing import Any

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext
from rest_framework import status

from core.errors import DomainError


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
        self.length = length
        self.expired = False
        self._direct: GunicornSocketBody | bool | None = None  # decided at the first readinto()
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
        self._check_deadline()
        return piece

    def readinto(self, buffer: memoryview, /) -> int:
        """Fill the start of `buffer` with the next bytes of the body; 0 at its end. Under gunicorn
        straight from the socket (see GunicornSocketBody), else copied from read()."""
        if self._direct is None:
            self._direct = GunicornSocketBody.of(self.body, self.sock, self.length) or False
        if isinstance(self._direct, GunicornSocketBody):
            count = self._direct.readinto(buffer)
        else:
            piece = self.body.read(len(buffer))
            count = len(piece)
            buffer[:count] = piece
        self._check_deadline()
        return count

    def _check_deadline(self) -> None:
        if self.expired:
            raise UploadTooSlow(
                gettext(
                    "The body did not arrive within %(seconds)s seconds "
                    "(at least %(rate)s bytes a second are expected)."
                )
                % {
                    "seconds": formats.number_format(round(self.seconds), force_grouping=True),
                    "rate": formats.number_format(
                        settings.UPLOAD_MIN_RATE_BYTES_PER_SECOND, force_grouping=True
                    ),
                },
            )

    def __enter__(self) -> DeadlineBody:
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if isinstance(self._direct, GunicornSocketBody):
            self._direct.give_back()


class GunicornSocketBody:
    """A gunicorn request body of known length read with `recv_into` into the caller's buffer.

    gunicorn's own reader hands each byte through two BytesIO buffers (five copies); py-spy put
    half of an upload's request thread there. This reads the bytes gunicorn already holds (read
    ahead with the headers) first, then the socket, and keeps gunicorn's count of what is left
    of the body exact, so gunicorn still knows where the next request on the connection starts.
    Used only when the body is untouched and every piece is the gunicorn class it expects.
    """

    def __init__(self, reader: Any, held: bytes, sock: socket.socket) -> None:
        self.reader = reader
        self.held = memoryview(held)
        self.sock = sock

    @classmethod
    def of(cls, request: Any, sock: socket.socket | None, length: int | None) -> GunicornSocketBody | None:
        try:
            from gunicorn.http.body import Body, LengthReader
            from gunicorn.http.unreader import SocketUnreader
        except ImportError:
            return None
        body: Any = getattr(request, "META", {}).get("wsgi.input")
        if sock is None or length is None or type(body) is not Body or body.buf.tell() != 0:
            return None
        reader = body.reader
        if type(reader) is not LengthReader or reader.length != length:
            return None
        if type(reader.unreader) is not SocketUnreader or reader.unreader.sock is not sock:
            return None
        held = reader.unreader.take_buffered()
        if len(held) > length:  # the start of a pipelined next request: gunicorn keeps it
            reader.unreader.unread(held[length:])
            held = held[:length]
        return cls(reader, held, sock)

    def give_back(self) -> None:
        """Return read-ahead bytes not consumed (an upload refused part-way) to gunicorn, whose
        count of what is left of the body still includes them: it drains the body from its own
        buffer, not from the socket, where the next request would be."""
        if self.held:
            self.reader.unreader.unread(self.held.tobytes())
            self.held = memoryview(b"")

    def readinto(self, buffer: memoryview) -> int:
        wanted = min(len(buffer), self.reader.length)
        if wanted <= 0:
            return 0
        if self.held:
            count = min(wanted, len(self.held))
            buffer[:count] = self.held[:count]
            self.held = self.held[count:]
        else:
            count = self.sock.recv_into(buffer[:wanted])  # 0: the client closed, or the deadline
        self.reader.length -= count
        return count
