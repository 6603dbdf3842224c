"""gunicorn as gunicorn.conf.py sets it up: requests gunicorn refuses before Django runs (a URL
over 4 KB, a malformed request line or header, too many headers) get the API's error shape, JSON
with a code and a sentence, not gunicorn's HTML page; and no control socket is opened."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.liveserver import LiveServer
from tests.recorder.test_hostile_uploads import read_answer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def answer_to(server: LiveServer, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(raw)
        return read_answer(sock)


REFUSED = [
    (b"GET /api/v1/sessions?q=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    (b"GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n", 400, "bad_request"),
    (b"GET /api/v1/sessions HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400, "bad_request"),
    (b"GET /api/v1/sessions HTTP/9.9\r\nHost: x\r\n\r\n", 400, "bad_request"),
    (b"GET /api/v1/sessions HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n", 431,
     "headers_too_large"),
]  # fmt: skip


def test_requests_gunicorn_refuses_get_a_json_error_and_the_server_goes_on() -> None:
    with LiveServer() as server:
        for raw, status, code in REFUSED:
            answered, headers, body = answer_to(server, raw)
            assert answered == status, (raw[:60], answered, body[:200])
            assert headers["content-type"] == "application/json"
            error = json.loads(body)
            assert error["error"] == code and error["detail"].endswith("."), error
            assert "<html" not in body.decode()
        healthy = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert answer_to(server, healthy)[0] == 200


def test_the_server_opens_no_control_socket(tmp_path: Path) -> None:
    """gunicorn 27 otherwise listens on $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl,
    where any process of the same user may resize, reload or stop it."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    with LiveServer(HOME=str(tmp_path), XDG_RUNTIME_DIR=str(runtime)) as server:
        assert answer_to(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0] == 200
        assert not (runtime / "gunicorn.ctl").exists()
        assert not (tmp_path / ".gunicorn").exists()
