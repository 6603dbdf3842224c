"""The playback benchmark's second reference: the plaintext file's range served over HTTP by the
same server as the vault (gunicorn, threaded worker), with nothing else in between: no
framework, no session, no ledger, no decryption. It shows what HTTP alone costs on this machine.

Serves `GET /<file name>` with `Range: bytes=a-b` from the folder named by PLAIN_ROOT (a
benchmark's scratch folder; not part of the service). Run by bench/playback.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

ROOT = os.environ.get("PLAIN_ROOT", ".")
RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    name = os.path.basename(environ.get("PATH_INFO", ""))
    wanted = RANGE.fullmatch(environ.get("HTTP_RANGE", ""))
    if not name or wanted is None:
        start_response("400 Bad Request", [("Content-Length", "0")])
        return []
    start, end = int(wanted[1]), int(wanted[2])
    fd = os.open(os.path.join(ROOT, name), os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        body = os.pread(fd, end + 1 - start, start)
    finally:
        os.close(fd)
    start_response(
        "206 Partial Content",
        [
            ("Content-Type", "video/webm"),
            ("Content-Length", str(len(body))),
            ("Content-Range", f"bytes {start}-{start + len(body) - 1}/{size}"),
        ],
    )
    return [body]
