"""Shared fixtures: an S3/KMS-compatible server over HTTP (moto's server mode, a real separate
process), the embedded data directory per test, and database helpers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

MOTO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


class MotoServer:
    """moto_server in its own process, so tests talk to S3 and KMS over real HTTP."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **MOTO_CREDENTIALS}
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(self.endpoint + "/moto-api/")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def reset(self) -> None:
        requests.post(self.endpoint + "/moto-api/reset", timeout=10)

    def client(self, service: str):  # type: ignore[no-untyped-def]
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=MOTO_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    for key, value in MOTO_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    """The moto server, emptied before each test."""
    moto_server.reset()
    yield moto_server


@pytest.fixture
def kms_key_id(moto: MotoServer) -> str:
    key = moto.client("kms").create_key(Description="vault test key")
    return str(key["KeyMetadata"]["KeyId"])


@pytest.fixture
def data_dir(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    """A fresh VAULT_DATA_DIR-like folder for the test, with the local store inside it."""
    settings.LOCAL_STORE_DIR = tmp_path / "objects"
    settings.EMBEDDED_KEY_DIR = tmp_path / "keys"
    return tmp_path
