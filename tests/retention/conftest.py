"""Fixtures for retention: real recordings ingested through the service, then made to expire."""

from __future__ import annotations

import pytest

from tests.conftest import MakeRecordings


@pytest.fixture
def make_recordings(recording_maker: MakeRecordings, store) -> MakeRecordings:
    """`make_recordings(n, expires_in=...)`, once with each object store."""
    return recording_maker
