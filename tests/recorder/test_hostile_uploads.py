"""Hostile uploads against the real server (gunicorn, gthread) over raw sockets: a chunked body
with no Content-Length that never ends, bodies longer or shorter than announced, a client sending
one byte a second, a hundred uploads to one session at once, and a media type that lies.

After each: a clear JSON error, no `receiving` row left, no object in the store without its row,
no plaintext anywhere under the data folder, and the worker pool still answers a normal request.
A killed server mid-upload is tests/recorder/test_interrupted_uploads.py's.
"""

from __future__ import annotations

import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from recorder.models import Recording
from tests.factories import controlled_session
from tests.liveserver import LiveServer

# The local folder store, so "no plaintext on disk" scans every byte the store holds.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.local_store]

MARKER = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()


def raw_request(
    server: LiveServer, head: str, body: bytes = b"", *, read_timeout: float = 30.0
) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout)
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.1 answer (Content-Length framed), taking from the
    socket no byte past it: a pipelined request's answer may already be right behind."""
    data = b""
    while b"\r\n\r\n" not in data:
        ahead = sock.recv(65536, socket.MSG_PEEK)
        if not ahead:
            break
        end = (data[-3:] + ahead).find(b"\r\n\r\n")  # the blank line may straddle two reads
        data += recv_exactly(sock, len(ahead) if end < 0 else end + 4 - len(data[-3:]))
    head = data.partition(b"\r\n\r\n")[0]
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    body = recv_exactly(sock, int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers, body


def recv_exactly(sock: socket.socket, count: int) -> bytes:
    """`count` bytes, or fewer if the server closes first."""
    data = b""
    while len(data) < count:
        piece = sock.recv(count - len(data))
        if not piece:
            break
        data += piece
    return data


def put_head(session_id: str, token: str, *extra: str) -> str:
    lines = [
        f"PUT /api/v1/sessions/{session_id}/recording HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        "Content-Type: video/webm",
        *extra,
    ]
    return "\r\n".join(lines) + "\r\n"


def assert_clean(server: LiveServer, store, data_dir: Path, session_id: str, token: str) -> None:
    """No half-received row, no object without a row, no plaintext on disk, the pool still serves."""
    assert not Recording.objects.filter(state=Recording.State.RECEIVING).exists()
    rows = set(Recording.objects.values_list("object_key", flat=True))
    assert set(store.keys()) <= rows, "an object in the store without its row"
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert MARKER not in path.read_bytes(), f"plaintext on disk in {path}"
    answer = requests.get(
        f"{server.url}/api/v1/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status_code == 200


def test_a_chunked_body_without_length_that_never_ends_is_refused(
    session_and_token, store, age_keys, data_dir
) -> None:
    session_id, token = session_and_token
    with LiveServer() as server:
        sock = raw_request(server, put_head(session_id, token, "Transfer-Encoding: chunked"))
        chunk = MARKER * 1000
        # Keep sending chunks (never the last, empty one) until the server answers or hangs up.
        sock.settimeout(0.2)
        answer = b""
        for _ in range(200):
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if b"\r\n\r\n" in answer:
                break
        status_line, _, rest = answer.partition(b"\r\n")
        assert b" 411 " in status_line, answer[:300]
        head, _, body_bytes = rest.partition(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:]
        )
        sock.settimeout(10)
        while len(body_bytes) < length:  # the headers may come in a packet of their own
            body_bytes += sock.recv(65536)
        body = json.loads(body_bytes[:length])
        assert body["error"] == "length_required"
        sock.close()
        assert not Recording.objects.filter(session_id=session_id).exists()
        assert_clean(server, store, data_dir, session_id, token)


def test_a_body_longer_than_announced_is_stored_as_announced_and_the_rest_is_not_a_request(
    session_and_token, store, age_keys, data_dir
) -> None:
    session_id, token = session_and_token
    body = MARKER * 100
    with LiveServer() as server:
        # Announce 1000 bytes, send more: the recording is the first 1000; the excess is read as
        # the next request on the connection, which is garbage and refused, never stored.
        sock = raw_request(server, put_head(session_id, token, "Content-Length: 1000"), body)
        status, _, answer = read_answer(sock)
        sock.close()
        assert status == 201, answer
        assert json.loads(answer)["size"] == 1000
        assert Recording.objects.get(session_id=session_id).size == 1000
        assert_clean(server, store, data_dir, session_id, token)


def test_a_body_in_odd_pieces_with_a_request_pipelined_behind_it_is_sealed_whole(
    session_and_token, store, age_keys, data_dir
) -> None:
    """gunicorn reads some of the body with the headers; the vault takes those bytes, then reads
    the socket itself (recorder/upload_deadline.py GunicornSocketBody). Sent in odd pieces, with
    the next request on the connection right behind the body: every byte is sealed in order, and
    the next request is answered (gunicorn still knows where it starts)."""
    from recorder.sealing import PayloadReader, unwrap_file_key
    from recorder.unsealing import playback_identities

    session_id, token = session_and_token
    body = MARKER + os.urandom(3 * 1024 * 1024 + 7)
    follow = (
        f"GET /api/v1/sessions/{session_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    )
    with LiveServer() as server:
        sock = raw_request(server, put_head(session_id, token, f"Content-Length: {len(body)}"), body[:1000])
        for start in range(1000, len(body), 777_777):
            sock.sendall(body[start : start + 777_777])
            time.sleep(0.01)
        sock.sendall(follow.encode() + b"\r\n")
        first, _, answer = read_answer(sock)
        second, _, metadata = read_answer(sock)
        sock.close()
        assert first == 201, answer
        assert second == 200 and json.loads(metadata)["id"] == session_id
        recording = Recording.objects.get(session_id=session_id)
        assert recording.size == len(body)
        key = unwrap_file_key(bytes(recording.header), playback_identities(), recording_id=str(recording.id))
        payload = store.read(recording.object_key, 0, int(recording.payload_size))
        opened = PayloadReader(key, payload_size=len(payload), read_payload=lambda o, n: payload[o : o + n])
        assert b"".join(opened.iter_all()) == body
        assert_clean(server, store, data_dir, session_id, token)


def test_a_body_shorter_than_announced_is_refused_and_leaves_nothing(
    session_and_token, store, age_keys, data_dir
) -> None:
    session_id, token = session_and_token
    with LiveServer() as server:
        sock = raw_request(server, put_head(session_id, token, "Content-Length: 100000"), MARKER * 10)
        sock.shutdown(socket.SHUT_WR)  # the client is done sending: 100,000 bytes never come
        status, _, answer = read_answer(sock)
        sock.close()
        assert status == 400
        assert json.loads(answer)["error"] == "body_incomplete"
        assert not Recording.objects.filter(session_id=session_id).exists()
        assert_clean(server, store, data_dir, session_id, token)


def test_a_client_sending_one_byte_a_second_is_cut_off_and_leaves_nothing(
    recorder_client, session_and_token, store, age_keys, data_dir
) -> None:
    session_id, token = session_and_token
    sessions = [session_id, controlled_session(recorder_client[0])]
    # A short grace for the test (production: 60 s); 2,000 bytes at 1 KiB/s add 2 s: cut after 5 s.
    with LiveServer(threads=2, UPLOAD_MIN_RATE_GRACE_SECONDS="3") as server:
        slow = [
            raw_request(server, put_head(one, token, "Content-Length: 2000"), MARKER[:1])
            for one in sessions  # as many as the server has threads
        ]
        answers: list[tuple[int, dict[str, str], bytes]] = []
        for sock in slow:
            sock.settimeout(1.5)
        started = time.monotonic()
        while len(answers) < len(slow) and time.monotonic() - started < 60:
            for sock in slow:
                try:
                    sock.sendall(MARKER[:1])
                except (BrokenPipeError, ConnectionResetError):
                    pass
            time.sleep(1)
            for sock in list(slow):
                try:
                    answers.append(read_answer(sock))
                    slow.remove(sock)
                except (TimeoutError, ConnectionResetError):
                    continue
        assert [status for status, _, _ in answers] == [408, 408], answers
        assert all(json.loads(body)["error"] == "upload_too_slow" for _, _, body in answers)
        assert not Recording.objects.exists()
        assert_clean(server, store, data_dir, session_id, token)


def test_a_hundred_concurrent_uploads_to_one_session_keep_exactly_one_recording(
    session_and_token, store, age_keys, data_dir
) -> None:
    session_id, token = session_and_token
    bodies = [MARKER + b"-" + str(i).encode() * 1000 for i in range(100)]
    with LiveServer(threads=8) as server:

        def upload(body: bytes) -> int:
            answer = requests.put(
                f"{server.url}/api/v1/sessions/{session_id}/recording",
                data=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "video/webm"},
                timeout=120,
            )
            assert set(answer.json()) >= ({"id"} if answer.ok else {"error", "detail"})
            return answer.status_code

        with ThreadPoolExecutor(max_workers=100) as pool:
            statuses = list(pool.map(upload, bodies))
        assert statuses.count(201) == 1, statuses
        assert set(statuses) <= {201, 409}, statuses  # different bytes: one wins, the rest conflict
        assert Recording.objects.filter(session_id=session_id).count() == 1
        assert len(list(store.keys())) == 1
        assert_clean(server, store, data_dir, session_id, token)


def test_a_media_type_that_lies_is_stored_as_declared_and_never_interpreted(
    session_and_token, store, age_keys, data_dir
) -> None:
    # DESIGN.md: the recording is a raw body of any media type. The vault seals bytes; it never
    # parses, transcodes or sniffs them, so random bytes declared video/webm are kept as such.
    session_id, token = session_and_token
    body = MARKER + os.urandom(5000)
    with LiveServer() as server:
        answer = requests.put(
            f"{server.url}/api/v1/sessions/{session_id}/recording",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "video/webm"},
            timeout=30,
        )
        assert answer.status_code == 201
        recording = Recording.objects.get(session_id=session_id)
        assert recording.media_type == "video/webm" and recording.size == len(body)
        assert_clean(server, store, data_dir, session_id, token)
