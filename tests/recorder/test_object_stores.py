"""Both object stores behave alike: staged writes, ranged reads, batched deletes, discard."""

from __future__ import annotations

import ctypes
import mmap
import os
import time

import pytest

from recorder.stores import StoreError


def write(store, key: str, data: bytes) -> None:
    writer = store.open_writer(key)
    for start in range(0, len(data), 1_000_000):
        writer.write(data[start : start + 1_000_000])
    writer.commit()


@pytest.mark.parametrize("size", [0, 1, 6 * 1024 * 1024 + 3, 11 * 1024 * 1024])
def test_committed_object_reads_back_by_range(store, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    write(store, "recordings/2026/01/a.age", data)
    assert store.size("recordings/2026/01/a.age") == size
    assert store.read("recordings/2026/01/a.age", 0, size) == data
    if size > 10:
        assert store.read("recordings/2026/01/a.age", size - 7, 5) == data[-7:-2]


def test_an_aborted_write_leaves_nothing(store) -> None:
    writer = store.open_writer("recordings/2026/01/b.age")
    writer.write(b"x" * (6 * 1024 * 1024))  # past one S3 part: a multipart upload is pending
    writer.abort()
    assert store.size("recordings/2026/01/b.age") is None
    assert list(store.keys()) == []


def test_discard_removes_a_staged_upload_left_by_a_crash(store) -> None:
    writer = store.open_writer("recordings/2026/01/c.age")
    writer.write(b"x" * (6 * 1024 * 1024))  # never committed nor aborted: the process "died"
    assert list(store.keys()) != []
    store.discard("recordings/2026/01/c.age")
    assert list(store.keys()) == []


def test_discard_removes_a_committed_object(store) -> None:
    write(store, "recordings/2026/01/d.age", b"sealed")
    store.discard("recordings/2026/01/d.age")
    assert store.size("recordings/2026/01/d.age") is None


def test_delete_many_removes_more_keys_than_one_s3_batch(store) -> None:
    keys = [f"recordings/2026/02/{n:05d}.age" for n in range(1003)]
    for key in keys:
        write(store, key, b"s")
    assert sorted(store.delete_many(keys)) == sorted(keys)
    assert list(store.keys()) == []


def test_reading_a_missing_object_is_a_store_error(store) -> None:
    with pytest.raises(StoreError):
        store.read("recordings/2026/01/missing.age", 0, 10)


@pytest.mark.parametrize(
    "key", ["../outside.age", "recordings/../../x.age", "/etc/passwd", "./x.age", "a//b.age", "", "a\0b"]
)
def test_a_key_cannot_escape_the_local_store_root(tmp_path, key) -> None:
    from recorder.stores import LocalFolderStore

    root = tmp_path / "store"
    root.mkdir()
    (tmp_path / "outside.age").write_bytes(b"secret")
    store = LocalFolderStore(root)
    with pytest.raises(StoreError, match="escapes the store root"):
        store.open_writer(key)
    with pytest.raises(StoreError, match="escapes the store root"):
        store.read(key, 0, 6)
    with pytest.raises(StoreError, match="escapes the store root"):
        store.delete_many([key])
    assert (tmp_path / "outside.age").read_bytes() == b"secret"
    assert list(root.iterdir()) == []


def test_prefetching_a_missing_or_refused_object_is_silent_and_the_read_still_fails(store) -> None:
    store.prefetch("recordings/2026/01/missing.age", [(0, 16), (65_552, 131_104)])
    store.prefetch("../outside.age", [(0, 16)])
    with pytest.raises(StoreError):
        store.read("recordings/2026/01/missing.age", 0, 16)


def _resident(path, offset: int, length: int) -> list[bool]:
    """Which pages of the file's [offset, offset + length) are in the page cache (mincore(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    libc.mmap.argtypes += [ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    pages = -(-length // mmap.PAGESIZE)
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, offset)
        assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
    finally:
        os.close(fd)
    try:
        vector = ctypes.create_string_buffer(pages)
        assert libc.mincore(address, length, vector) == 0, os.strerror(ctypes.get_errno())
        return [bool(byte & 1) for byte in vector.raw]
    finally:
        libc.munmap(address, length)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="this system has no posix_fadvise")
def test_a_local_prefetch_brings_the_spans_into_memory(tmp_path) -> None:
    """Playback asks for the first chunks while its ledger entry commits: the disk reads them
    meanwhile, and the read that follows finds them in memory."""
    from recorder.stores import LocalFolderStore

    store = LocalFolderStore(tmp_path / "store")
    key = "recordings/2026/01/cold.age"
    write(store, key, os.urandom(8 * 1024 * 1024))
    path = tmp_path / "store" / key
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    span = (4 * 1024 * 1024, 256 * 1024)
    if any(_resident(path, *span)):
        pytest.skip("this file system keeps file pages in memory (tmpfs?): nothing to prefetch")
    store.prefetch(key, [span])
    deadline = time.monotonic() + 5
    while not all(_resident(path, *span)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(_resident(path, *span))
