"""The local store's writer: payloads go to the disk with O_DIRECT where the filesystem takes it,
through the page cache where it does not, and the bytes read back are the bytes written either
way: for any size, any way of cutting the writes, and a filesystem that refuses direct I/O at
open, at a write, or cuts a write short. A failing write leaves no partial file behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from recorder import stores
from recorder.stores import STAGING_SIZE, LocalFolderStore, StoreError
from tests.conftest import require

SEALED_CHUNK = 64 * 1024 + 16  # what the sealer hands the writer, one chunk at a time
KEY = "recordings/2026/11/r.age"


def payload(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def write_in_pieces(store: LocalFolderStore, data: bytes, piece: int) -> stores.LocalWriter:
    writer = store.open_writer(KEY)
    for start in range(0, len(data), piece):
        writer.write(data[start : start + piece])
    writer.commit()
    return writer


def opened_direct(writer: stores.LocalWriter) -> bool:
    """Whether the open file really carries O_DIRECT, as the kernel reports it."""
    for line in Path(f"/proc/self/fdinfo/{writer._fd}").read_text().splitlines():
        if line.startswith("flags:"):
            return bool(int(line.split()[1], 8) & os.O_DIRECT)
    raise AssertionError("no flags line in fdinfo")


def takes_direct_io(folder: Path) -> bool:
    probe = folder / "direct-probe"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600))
    except OSError:
        return False
    probe.unlink()
    return True


SIZES = [
    0,
    1,
    4095,
    4096,
    4097,
    STAGING_SIZE - 1,
    STAGING_SIZE,
    STAGING_SIZE + 1,
    3 * STAGING_SIZE + 5 * SEALED_CHUNK + 7,
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("piece", [SEALED_CHUNK, 4096, 999_983])
def test_the_bytes_read_back_are_the_bytes_written(tmp_path: Path, size: int, piece: int) -> None:
    store = LocalFolderStore(tmp_path)
    data = payload(size)
    write_in_pieces(store, data, piece)
    assert store.size(KEY) == size
    assert store.read(KEY, 0, size) == data
    assert [p.name for p in (tmp_path / "recordings/2026/11").iterdir()] == ["r.age"]


def test_a_filesystem_that_takes_direct_io_gets_it(tmp_path: Path) -> None:
    require(
        takes_direct_io(tmp_path), "a filesystem with O_DIRECT under the test folder", "run on ext4 or xfs"
    )
    writer = LocalFolderStore(tmp_path).open_writer(KEY)
    try:
        assert opened_direct(writer)
        writer.write(payload(2 * STAGING_SIZE))
        assert opened_direct(writer), "aligned full buffers went out direct"
    finally:
        writer.abort()


def test_a_filesystem_that_refuses_direct_io_at_open_gets_buffered_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refusing_open(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(stores.os, "open", refusing_open)
    data = payload(2 * STAGING_SIZE + 12345)
    store = LocalFolderStore(tmp_path)
    writer = store.open_writer(KEY)
    assert not opened_direct(writer)
    writer.write(data)
    writer.commit()
    assert store.read(KEY, 0, len(data)) == data


@pytest.mark.parametrize("failure", ["refused", "short"])
def test_a_write_the_filesystem_refuses_or_cuts_short_falls_back_to_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    require(
        takes_direct_io(tmp_path), "a filesystem with O_DIRECT under the test folder", "run on ext4 or xfs"
    )
    real_write = os.write
    calls = {"n": 0}

    def flaky_write(fd: int, data) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # the second buffer, once the first went out direct
            if failure == "refused":
                raise OSError(errno.EINVAL, "Invalid argument")
            return real_write(fd, data[:1000])  # a short write leaves the file unaligned
        return real_write(fd, data)

    monkeypatch.setattr(stores.os, "write", flaky_write)
    data = payload(4 * STAGING_SIZE + 777)
    store = LocalFolderStore(tmp_path)
    writer = store.open_writer(KEY)
    writer.write(data)
    assert not opened_direct(writer)
    writer.commit()
    assert store.read(KEY, 0, len(data)) == data


def test_a_write_error_is_a_store_error_and_abort_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int, data) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(stores.os, "write", full_disk)
    store = LocalFolderStore(tmp_path)
    writer = store.open_writer(KEY)
    with pytest.raises(StoreError, match="No space left"):
        writer.write(payload(STAGING_SIZE + 1))
    writer.abort()
    assert list(store.keys()) == []
