"""`python -m ops.banner URL`: wait until the service answers /healthz, then print where it is and
how to fill it with demo data (`make run` starts this beside the processes, so it comes last)."""

from __future__ import annotations

import os
import shlex
import sys
import time
import urllib.request
from urllib.error import URLError

WAIT_SECONDS = 120


def _data_dir_prefix() -> str:
    """`VAULT_DATA_DIR=... ` when the service runs on another folder than ./var: the commands below
    must reach the same database and keys."""
    data_dir = os.environ.get("VAULT_DATA_DIR")
    return f"VAULT_DATA_DIR={shlex.quote(data_dir)} " if data_dir else ""


def demo_command(url: str) -> str:
    port = url.rsplit(":", 1)[-1]
    return _data_dir_prefix() + ("make demo" if port == "8000" else f"make demo PORT={port}")


def banner(url: str) -> str:
    rule = "=" * 84
    return "\n".join(
        [
            "",
            rule,
            f"  Session-recording vault is up on {url}/   (API schema: {url}/api/v1/schema)",
            f"  Demo data, in another terminal:  {demo_command(url)}",
            "    (a few dozen sessions over HTTP, and one staff user per role; passwords shown once)",
            "  A recorder client of your own:   "
            + _data_dir_prefix()
            + ".venv/bin/python manage.py create_recorder_client my-tool",
            f"  Health: {url}/healthz  {url}/readyz   Metrics (this machine only): {url}/metrics",
            "  Stop with Ctrl-C.",
            rule,
            "",
        ]
    )


def main(url: str) -> int:
    url = url.rstrip("/")
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:  # noqa: S310 - our own URL
                if answer.status == 200:
                    print(banner(url), flush=True)
                    return 0
        except (URLError, OSError):
            pass
        time.sleep(0.5)
    print(f"The service did not answer on {url}/healthz within {WAIT_SECONDS} s; see the logs above.")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
