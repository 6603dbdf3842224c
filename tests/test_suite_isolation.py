"""The suite's own isolation on several processes (pytest-xdist, as `make test` runs it): each
worker process's Celery broker is its own, in its settings, its Celery app and the environment
that the services tests start inherit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.celery import app
from tests.conftest import isolate_xdist_worker


@pytest.fixture
def restored(settings, monkeypatch, tmp_path: Path) -> Iterator[Path]:
    """Everything isolate_xdist_worker() changes, put back after the test."""
    settings.VAULT_DATA_DIR = tmp_path
    for name in ("VAULT_DATA_DIR", "CELERY_BROKER_URL"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
    saved = app.conf.broker_url, app.conf.broker_transport_options
    yield tmp_path
    app.conf.broker_url, app.conf.broker_transport_options = saved


def test_each_worker_takes_the_next_redis_database(settings, restored: Path) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/15"
    isolate_xdist_worker(2)
    assert settings.CELERY_BROKER_URL == "redis://127.0.0.1:6379/1"
    assert app.conf.broker_url == os.environ["CELERY_BROKER_URL"] == settings.CELERY_BROKER_URL
    assert os.environ["VAULT_DATA_DIR"] == str(restored / "xdist-gw2") == str(settings.VAULT_DATA_DIR)


def test_each_worker_has_its_own_embedded_broker_folders(settings, restored: Path) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(restored / "celery" / "queue"),
        "processed_folder": str(restored / "celery" / "processed"),
        "store_processed": False,
    }
    isolate_xdist_worker(1)
    own = restored / "xdist-gw1" / "celery"
    assert (
        app.conf.broker_transport_options
        == settings.CELERY_BROKER_TRANSPORT_OPTIONS
        == {
            "data_folder_in": str(own / "queue"),
            "processed_folder": str(own / "processed"),
            "store_processed": False,
        }
    )
    assert (own / "queue").is_dir() and (own / "processed").is_dir()
    assert os.environ["VAULT_DATA_DIR"] == str(restored / "xdist-gw1")
