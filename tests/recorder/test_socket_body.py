"""The upload body read straight from gunicorn's socket (recorder/upload_deadline.py): gunicorn's
own objects around a socket pair, so its view of where the body ends is checked directly."""

from __future__ import annotations

import socket

from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from recorder.upload_deadline import DeadlineBody

BODY = bytes(range(256)) * 40  # 10,240 bytes
NEXT_REQUEST = b"GET /next HTTP/1.1\r\n\r\n"


def gunicorn_body(server: socket.socket, read_ahead: bytes) -> Body:
    """A body as gunicorn leaves it after parsing the headers: `read_ahead` already buffered."""
    server.settimeout(5)  # a read past what was sent fails the test instead of hanging it
    unreader = SocketUnreader(server)
    unreader.unread(read_ahead)
    return Body(LengthReader(unreader, len(BODY)))


def test_a_body_read_in_part_leaves_gunicorn_the_rest_and_the_next_request() -> None:
    """Read-ahead the upload did not consume (refused part-way) goes back to gunicorn: draining
    the body then yields exactly its rest, and the next request is still on the connection."""
    server, client = socket.socketpair()
    with server, client:
        client.sendall(BODY[3000:] + NEXT_REQUEST)
        body = gunicorn_body(server, BODY[:3000])
        request = type("Request", (), {"META": {"wsgi.input": body}})()
        with DeadlineBody(request, server, len(BODY)) as upload:
            buffer = memoryview(bytearray(1000))
            assert upload.readinto(buffer) == 1000
            assert bytes(buffer) == BODY[:1000]
        rest = b""
        while piece := body.read(4096):
            rest += piece
        assert rest == BODY[1000:]
        assert body.reader.unreader.read(len(NEXT_REQUEST)) == NEXT_REQUEST


def test_a_body_read_whole_reads_the_socket_after_the_read_ahead() -> None:
    server, client = socket.socketpair()
    with server, client:
        client.sendall(BODY[100:] + NEXT_REQUEST)
        body = gunicorn_body(server, BODY[:100])
        request = type("Request", (), {"META": {"wsgi.input": body}})()
        received = b""
        with DeadlineBody(request, server, len(BODY)) as upload:
            buffer = memoryview(bytearray(4096))
            while count := upload.readinto(buffer):
                received += bytes(buffer[:count])
        assert received == BODY
        assert body.read(10) == b""  # gunicorn knows the body is over
        assert body.reader.unreader.read(len(NEXT_REQUEST)) == NEXT_REQUEST
