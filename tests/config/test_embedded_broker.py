"""The embedded default's file broker never hands a consumer a message that is still being written
(celery/kombu#1551: the worker died on `JSONDecodeError` reading an empty message file)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection
from kombu.utils import json as kombu_json

from config.broker import STALE_PARTIAL_SECONDS
from tests.conftest import run_under_settings


class SlowToSerialize:
    """A payload value whose JSON encoding waits for the test: the publisher is held mid-publish."""


@pytest.fixture
def held_serializer():
    """(started, release): kombu's JSON encoder signals `started` on a `SlowToSerialize` and then
    waits for `release`. kombu's own type registry is the hook, so the transport runs unchanged."""
    started, release = threading.Event(), threading.Event()

    def encode(value: SlowToSerialize) -> str:
        started.set()
        assert release.wait(timeout=10), "the test never released the publisher"
        return "whole"

    def decode(text: str) -> str:
        return text

    kombu_json.register_type(SlowToSerialize, "test-slow-to-serialize", encode, decode)
    yield started, release
    release.set()
    kombu_json._encoders.pop(SlowToSerialize, None)
    kombu_json._decoders.pop("test-slow-to-serialize", None)


def file_broker(folder: Path) -> Connection:
    """A connection to the file broker the embedded default uses (`filesystem://`), in `folder`."""
    queue, processed = folder / "queue", folder / "processed"
    queue.mkdir(exist_ok=True)
    processed.mkdir(exist_ok=True)
    options = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "store_processed": False,
    }
    return Connection("filesystem://", transport_options=options)


def test_a_message_being_published_is_not_consumed_until_it_is_whole(tmp_path: Path, held_serializer) -> None:
    started, release = held_serializer
    with file_broker(tmp_path) as publisher, file_broker(tmp_path) as consumer:
        failures: list[BaseException] = []

        def publish() -> None:
            try:
                publisher.default_channel._put("celery", {"body": SlowToSerialize()})
            except BaseException as error:  # reported by the assertion below
                failures.append(error)

        thread = threading.Thread(target=publish)
        thread.start()
        assert started.wait(timeout=10)
        # The publisher is mid-publish: a consumer polling now finds nothing (kombu 5.7.0's own
        # transport has created an empty message file by then, and this raises JSONDecodeError).
        with pytest.raises(Empty):
            consumer.default_channel._get("celery")
        release.set()
        thread.join(timeout=10)
        assert not failures and not thread.is_alive()

        message: dict[str, Any] = consumer.default_channel._get("celery")
        assert message == {"body": "whole"}
        with pytest.raises(Empty):  # exactly once
            consumer.default_channel._get("celery")
    assert os.listdir(tmp_path / "queue") == []  # nothing half-written is left behind


# Paths the process renames files to or opens, while a test listens (sys.addaudithook: a hook
# cannot be removed, so it stays installed and records only while `_LISTENING` holds a list).
_LISTENING: list[list[str]] = []


def _record_paths(event: str, args: tuple[Any, ...]) -> None:
    if _LISTENING and event in ("os.rename", "shutil.move", "open"):
        destination = args[1] if event in ("os.rename", "shutil.move") else args[0]
        if isinstance(destination, (str, bytes, os.PathLike)):
            _LISTENING[0].append(os.fsdecode(destination))


sys.addaudithook(_record_paths)


def test_each_message_is_consumed_once_and_never_leaves_the_data_folder(tmp_path: Path) -> None:
    """Two consumers race over 200 messages. kombu's own `_get` moved each one into the system's
    temporary folder to read it there, where other users can list it, and where that folder is
    another filesystem the move is a copy then a delete, during which both could copy it."""
    data = tmp_path / "data"
    data.mkdir()
    seen: list[int] = []
    with file_broker(data) as publisher:
        for n in range(200):
            publisher.default_channel._put("celery", {"body": n})

    def consume() -> None:
        with file_broker(data) as consumer:
            while True:
                try:
                    seen.append(consumer.default_channel._get("celery")["body"])
                except Empty:
                    return

    paths: list[str] = []
    _LISTENING.append(paths)
    try:
        threads = [threading.Thread(target=consume) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        _LISTENING.clear()
    assert sorted(seen) == list(range(200))
    assert os.listdir(data / "queue") == os.listdir(data / "processed") == []
    message_paths = [path for path in paths if path.endswith(".msg")]
    assert len(message_paths) >= 400  # each message claimed (renamed) and read (opened)
    assert all(Path(path).is_relative_to(data) for path in message_paths), sorted(set(message_paths))[:3]


def test_what_a_crashed_publisher_left_is_removed_and_a_publish_under_way_is_not(tmp_path: Path) -> None:
    """A publisher killed mid-write leaves its `.partial` file, which no consumer reads."""
    queue = tmp_path / "queue"
    queue.mkdir()
    crashed = queue / ".1000_dead.celery.msg.partial"
    crashed.write_bytes(b'{"body": ')
    old = time.time() - STALE_PARTIAL_SECONDS - 60
    os.utime(crashed, (old, old))
    under_way = queue / ".2000_alive.celery.msg.partial"  # another process is writing it now
    under_way.write_bytes(b'{"bo')
    someone_elses = queue / "notes.txt"
    someone_elses.write_text("not the broker's")
    os.utime(someone_elses, (old, old))
    with file_broker(tmp_path) as broker:
        broker.default_channel._put("celery", {"body": "whole"})
        assert broker.default_channel._get("celery") == {"body": "whole"}
    assert sorted(os.listdir(queue)) == [under_way.name, someone_elses.name]


def test_the_embedded_default_broker_uses_the_atomic_file_transport(tmp_path: Path) -> None:
    """Every process that loads the Celery app (web, worker, beat) publishes through config.broker."""
    answer = run_under_settings(
        "from config.celery import app; t = app.connection_for_write().transport; "
        "print(type(t).__module__, type(t).__qualname__)",
        tmp_path,
        without=("CELERY_BROKER_URL",),
    )
    assert answer.stdout.strip().splitlines()[-1] == "config.broker Transport"
