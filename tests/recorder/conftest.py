"""Fixtures for the recorder's sealing tests: one sealed recording, made once per module."""

from __future__ import annotations

import os

import pytest

from recorder.sealing import CHUNK_SIZE
from tests.factories import seal


@pytest.fixture(scope="module")
def sealed() -> tuple[bytes, bytes, bytes]:
    """Plaintext, header and payload of four chunks: three full ones and a short last one."""
    data = os.urandom(3 * CHUNK_SIZE + 500)
    return (data, *seal(data))
