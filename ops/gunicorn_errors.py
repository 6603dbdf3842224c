"""JSON bodies for the errors gunicorn answers itself, before Django sees the request (a request
line over `limit_request_line`, too many or too large headers, a malformed request): the service's
one error shape, `{"error": code, "detail": sentence}`, instead of gunicorn's HTML page.

Installed by gunicorn.conf.py, which gunicorn reads from the working directory at start-up.
No Django here (nor the `config` package, which loads Celery): gunicorn's master imports this
before any worker loads the application.
"""

from __future__ import annotations

import json
import socket

from gunicorn import util

# gunicorn's status for each kind of refusal -> (code, sentence). The sentence does not echo the
# request: gunicorn's own message quotes what the client sent.
ERRORS = {
    400: ("bad_request", "The HTTP request is malformed and was not read."),
    403: ("forbidden", "The request was refused before it reached the service."),
    414: ("uri_too_long", "The request line (method, path and query) is longer than the server accepts."),
    417: ("expectation_failed", "The server cannot meet the request's Expect header."),
    431: ("headers_too_large", "The request's headers are too many or too large."),
    500: ("server_error", "The server failed before it could answer; nothing was done."),
    501: ("not_implemented", "The request uses a transfer coding the server does not support."),
}


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's signature and effect, with the service's JSON body."""
    code, detail = ERRORS.get(status_int, ("bad_request" if status_int < 500 else "server_error", reason))
    body = json.dumps({"error": code, "detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    """gunicorn's workers write every such error through `gunicorn.util.write_error`."""
    util.write_error = write_json_error
