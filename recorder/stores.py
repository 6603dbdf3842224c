"""Object stores for sealed payloads: one small interface, a local-folder and an S3 backend.

Only ciphertext ever reaches a store. A write is staged (a `.partial` file, an S3 multipart
upload) and becomes visible under its key only on `commit()`, so a failed upload leaves nothing
readable; `discard()` removes both the committed object and anything staged for a key.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

# S3 DeleteObjects takes at most 1000 keys a call.
DELETE_BATCH = 1000


class StoreError(Exception):
    """The object store failed or refused; the operation did not complete."""


class ObjectWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class ObjectStore(Protocol):
    def open_writer(self, key: str) -> ObjectWriter: ...
    def read(self, key: str, offset: int, length: int) -> bytes: ...
    def prefetch(self, key: str, spans: Sequence[tuple[int, int]]) -> None: ...
    def size(self, key: str) -> int | None: ...
    def delete_many(self, keys: Sequence[str]) -> list[str]: ...
    def discard(self, key: str) -> None: ...
    def protect(self, key: str, *, until: datetime) -> None: ...
    def set_legal_hold(self, key: str, *, on: bool) -> None: ...
    def check_ready(self) -> None: ...


# --- local folder --------------------------------------------------------------------------------


# Payload files are written with O_DIRECT where the filesystem takes it: the ciphertext goes from
# an aligned staging buffer to the disk, without a copy into the page cache and without the
# writeback that would follow, and the fsync at commit has next to nothing left to wait for.
# 4 KiB alignment satisfies every block size Linux uses; a filesystem that refuses (EINVAL) gets
# ordinary buffered writes, with the writeback started every few MiB instead.
DIRECT_ALIGNMENT = 4096
STAGING_SIZE = 1024 * 1024
WRITEBACK_EVERY = 8 * 1024 * 1024
_O_DIRECT = getattr(os, "O_DIRECT", 0)


class LocalWriter:
    """Appends to `<key>.<random>.partial`; commit fsyncs and renames it into place atomically."""

    def __init__(self, final_path: Path) -> None:
        self.final_path = final_path
        # Private whatever the process's umask (config.settings sets 0077 for every process): the
        # payload is sealed, but its size, timing and existence are nobody else's business.
        final_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.partial_path = final_path.with_name(f"{final_path.name}.{uuid.uuid4().hex}.partial")
        # mmap memory is page-aligned, as O_DIRECT needs; it holds the bytes not yet written.
        self._staging = mmap.mmap(-1, STAGING_SIZE)
        self._staged = memoryview(self._staging)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self._fd, self._direct = -1, bool(_O_DIRECT)
        try:
            try:
                self._fd = os.open(self.partial_path, flags | _O_DIRECT, 0o600)
            except OSError as error:
                if error.errno != errno.EINVAL:
                    raise
                # This filesystem refuses O_DIRECT (tmpfs before Linux 6.6, some FUSE mounts).
                self._fd, self._direct = os.open(self.partial_path, flags, 0o600), False
        except OSError as error:
            self._close()
            raise StoreError(f"local store cannot create the object: {error.strerror}") from error
        self._filled = 0
        self._written = 0
        self._writeback_from = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        try:
            while view:
                taken = min(STAGING_SIZE - self._filled, len(view))
                self._staged[self._filled : self._filled + taken] = view[:taken]
                self._filled += taken
                view = view[taken:]
                if self._filled == STAGING_SIZE:
                    self._write_staged()
        except OSError as error:
            raise StoreError(f"local store write failed: {error.strerror}") from error

    def _write_staged(self) -> None:
        """Write the staging buffer out (all of it: a full buffer, or the tail at commit)."""
        done = 0
        while done < self._filled:
            # A view released at once, even on error: the buffer can then always be unmapped.
            with self._staged[done : self._filled] as pending:
                try:
                    count = os.write(self._fd, pending)
                except OSError as error:
                    if not (self._direct and error.errno == errno.EINVAL):
                        raise
                    self._buffered()  # the filesystem took O_DIRECT at open but refuses this write
                    continue
            if count == 0:  # a regular file never takes nothing; do not spin if one does
                raise OSError(errno.EIO, "the file took no bytes")
            # After a short write the rest is unaligned: the next write's EINVAL turns direct off.
            done += count
            self._written += count
        self._filled = 0
        if (
            not self._direct
            and hasattr(os, "posix_fadvise")
            and self._written - self._writeback_from >= WRITEBACK_EVERY
        ):
            # Linux: DONTNEED starts the writeback of the dirty range, so it runs while the next
            # bytes are sealed and the fsync at commit has little left to wait for.
            os.posix_fadvise(self._fd, self._writeback_from, 0, os.POSIX_FADV_DONTNEED)
            self._writeback_from = self._written

    def _buffered(self) -> None:
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~_O_DIRECT)
        self._direct = False

    def commit(self) -> None:
        try:
            if self._filled:
                if self._direct and self._filled % DIRECT_ALIGNMENT:
                    self._buffered()  # the last, unaligned piece goes through the page cache
                self._write_staged()
            os.fsync(self._fd)
            self._close()
            os.replace(self.partial_path, self.final_path)
        except OSError as error:
            self.abort()
            raise StoreError(f"local store commit failed: {error.strerror}") from error

    def abort(self) -> None:
        # The bytes are being thrown away: a close that fails (a full disk) must neither mask the
        # error being handled (a 503 would become a 400) nor keep the partial file on the disk.
        with contextlib.suppress(OSError):
            self._close()
        self.partial_path.unlink(missing_ok=True)

    def _close(self) -> None:
        """Close the file (once; commit and abort may both get here) and unmap the buffer."""
        fd, self._fd = self._fd, -1
        try:
            if fd >= 0:
                os.close(fd)
        finally:
            if not self._staging.closed:
                self._staged.release()
                self._staging.close()


_UNSAFE_PARTS = frozenset({"", ".", ".."})
_fadvise = getattr(os, "posix_fadvise", None)  # not on macOS


def _pread_fully(fd: int, length: int, offset: int) -> bytes:
    """`length` bytes at `offset`, or fewer only where the file ends."""
    data = os.pread(fd, length, offset)
    if len(data) == length or not data:
        return data
    pieces = [data]
    got = len(data)
    while got < length and (more := os.pread(fd, length - got, offset + got)):
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)


class LocalFolderStore:
    """Objects as files below a root folder (the embedded default)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_text = os.fspath(root)

    def _file(self, key: str) -> str:
        """The file name of `key` below the root. A key that could name anything outside it
        (absolute, with an empty, '.' or '..' part, or with a NUL) is refused. Checked on the key's
        text, with no system call: a playback reads through here on every Range request, and
        resolving both paths took 0.1 ms of its time to first byte. Symbolic links inside the root
        are the operator's own, and are followed."""
        unsafe = not key or key.startswith("/") or "\0" in key
        if unsafe or any(part in _UNSAFE_PARTS for part in key.split("/")):
            raise StoreError("object key escapes the store root")
        return os.path.join(self._root_text, key)

    def _path(self, key: str) -> Path:
        return Path(self._file(key))

    def open_writer(self, key: str) -> LocalWriter:
        return LocalWriter(self._path(key))

    def check_ready(self) -> None:
        """StoreError unless the root folder exists (or can be made) and this process may write it."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise StoreError(f"cannot create the store folder {self.root}: {error.strerror}") from error
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreError(f"the store folder {self.root} is not writable by this process")

    def read(self, key: str, offset: int, length: int) -> bytes:
        try:
            fd = os.open(self._file(key), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError as error:
            raise StoreError(f"object {key} is missing") from error
        try:
            return _pread_fully(fd, length, offset)
        finally:
            os.close(fd)

    def prefetch(self, key: str, spans: Sequence[tuple[int, int]]) -> None:
        """Start reading `spans` ((offset, length) pairs) of the object from disk into the page
        cache, without waiting (POSIX_FADV_WILLNEED), so that a read soon after finds them there.
        Advisory: a missing object, a refused key or a system without fadvise is left for that
        read to report."""
        if _fadvise is None:
            return
        try:
            fd = os.open(self._file(key), os.O_RDONLY | os.O_CLOEXEC)
        except (OSError, StoreError):
            return
        try:
            for offset, length in spans:
                if length > 0:
                    _fadvise(fd, offset, length, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass
        finally:
            os.close(fd)

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete_many(self, keys: Sequence[str]) -> list[str]:
        deleted = []
        for key in keys:
            self._path(key).unlink(missing_ok=True)
            deleted.append(key)
        return deleted

    def discard(self, key: str) -> None:
        path = self._path(key)
        path.unlink(missing_ok=True)
        for partial in path.parent.glob(f"{path.name}.*.partial"):
            partial.unlink(missing_ok=True)

    def protect(self, key: str, *, until: datetime) -> None:
        """A folder offers no retention lock: the purge and the database are the only guards."""

    def set_legal_hold(self, key: str, *, on: bool) -> None:
        """A folder offers no legal hold: the database hold alone keeps the purge away."""

    def keys(self) -> Iterable[str]:
        """Every committed or staged object (for tests and reconciliation)."""
        if not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())


# --- S3 ------------------------------------------------------------------------------------------


class S3Writer:
    """Multipart upload in parts of `part_size` bytes: memory stays at one part, whatever the size.

    A payload smaller than one part is sent with a single PutObject at commit.
    """

    def __init__(self, client: Any, bucket: str, key: str, part_size: int) -> None:
        self.client, self.bucket, self.key, self.part_size = client, bucket, key, part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= self.part_size:
            part = bytes(self._buffer[: self.part_size])
            del self._buffer[: self.part_size]
            self._send_part(part)

    def _send_part(self, part: bytes) -> None:
        try:
            if self._upload_id is None:
                created = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)
                self._upload_id = created["UploadId"]
            number = len(self._parts) + 1
            answer = self.client.upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=part
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"S3 upload failed: {error}") from error
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def commit(self) -> None:
        try:
            if self._upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._send_part(bytes(self._buffer))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except (ClientError, BotoCoreError) as error:
            self.abort()
            raise StoreError(f"S3 commit failed: {error}") from error
        finally:
            self._buffer.clear()

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is not None:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            except (ClientError, BotoCoreError):
                # Left for discard(): the reconciler aborts every pending upload of the key.
                pass
            self._upload_id = None


class S3Store:
    """Objects in an S3 bucket (AWS or any S3-compatible endpoint).

    With `lock_mode` (GOVERNANCE or COMPLIANCE; the bucket must have Object Lock enabled, hence
    versioning) each payload is retained until its `expires_at` and legal holds are mirrored
    onto it; deletion then removes every version of the key, not only the current one.
    """

    def __init__(self, client: Any, bucket: str, part_size: int, lock_mode: str = "") -> None:
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 multipart parts must be at least 5 MiB")
        if lock_mode not in {"", "GOVERNANCE", "COMPLIANCE"}:
            raise ValueError("S3_OBJECT_LOCK_MODE must be GOVERNANCE, COMPLIANCE or empty")
        self.client, self.bucket, self.part_size, self.lock_mode = client, bucket, part_size, lock_mode

    def protect(self, key: str, *, until: datetime) -> None:
        if not self.lock_mode:
            return
        try:
            self.client.put_object_retention(
                Bucket=self.bucket, Key=key, Retention={"Mode": self.lock_mode, "RetainUntilDate": until}
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"S3 object lock failed: {error}") from error

    def set_legal_hold(self, key: str, *, on: bool) -> None:
        if not self.lock_mode:
            return
        try:
            self.client.put_object_legal_hold(
                Bucket=self.bucket, Key=key, LegalHold={"Status": "ON" if on else "OFF"}
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"S3 legal hold failed: {error}") from error

    def _versions(self, keys: Sequence[str]) -> list[dict[str, str]]:
        """Every version of the keys (Object Lock buckets keep old versions after a plain delete)."""
        found: list[dict[str, str]] = []
        for key in keys:
            answer = self.client.list_object_versions(Bucket=self.bucket, Prefix=key)
            for item in answer.get("Versions", []) + answer.get("DeleteMarkers", []):
                if item["Key"] == key:
                    found.append({"Key": key, "VersionId": item["VersionId"]})
        return found

    def open_writer(self, key: str) -> S3Writer:
        return S3Writer(self.client, self.bucket, key, self.part_size)

    def check_ready(self) -> None:
        """StoreError unless the bucket answers HeadBucket (needs s3:ListBucket on it)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            raise StoreError(f"bucket {self.bucket} answers {code}") from error
        except BotoCoreError as error:
            raise StoreError(f"the S3 endpoint cannot be reached ({type(error).__name__})") from error

    def read(self, key: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            answer = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
        except (ClientError, BotoCoreError) as error:
            if (
                isinstance(error, ClientError)
                and error.response.get("Error", {}).get("Code") == "InvalidRange"
            ):
                return b""
            raise StoreError(f"S3 read failed: {error}") from error
        return bytes(answer["Body"].read())

    def prefetch(self, key: str, spans: Sequence[tuple[int, int]]) -> None:
        """Nothing: each read is its own ranged GET, and there is no cache here to warm."""

    def size(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except (ClientError, BotoCoreError) as error:
            if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in {
                "404",
                "NoSuchKey",
                "NotFound",
            }:
                return None
            raise StoreError(f"S3 head failed: {error}") from error

    def delete_many(self, keys: Sequence[str]) -> list[str]:
        """Delete in DeleteObjects batches; returns the keys S3 confirmed deleted."""
        deleted: set[str] = set()
        failed: set[str] = set()
        try:
            objects = self._versions(keys) if self.lock_mode else [{"Key": k} for k in keys]
            for start in range(0, len(objects), DELETE_BATCH):
                batch = objects[start : start + DELETE_BATCH]
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": False}
                )
                deleted.update(item["Key"] for item in answer.get("Deleted", []))
                failed.update(item["Key"] for item in answer.get("Errors", []))
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"S3 delete failed: {error}") from error
        if self.lock_mode:  # a key no version was listed for is gone already
            deleted.update(set(keys) - {o["Key"] for o in objects})
        return [key for key in keys if key in deleted and key not in failed]

    def discard(self, key: str) -> None:
        try:
            pending = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
            for upload in pending.get("Uploads", []):
                if upload["Key"] == key:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload["UploadId"]
                    )
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"S3 discard failed: {error}") from error

    def keys(self) -> Iterable[str]:
        """Every committed object and pending multipart upload key (for tests and reconciliation)."""
        found: set[str] = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            found.update(item["Key"] for item in page.get("Contents", []))
        found.update(
            u["Key"] for u in self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        )
        return sorted(found)


def s3_client(endpoint_url: str | None, region: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60),
    )


@cache
def _store_for(
    kind: str, location: str, part_size: int, endpoint_url: str | None, region: str, lock_mode: str
) -> ObjectStore:
    if kind == "local":
        return LocalFolderStore(Path(location))
    if kind == "s3":
        if not location:
            raise StoreError("OBJECT_STORE is s3 but S3_BUCKET is not set")
        return S3Store(s3_client(endpoint_url, region), location, part_size, lock_mode)
    raise StoreError(f"unknown OBJECT_STORE {kind!r}: use 'local' or 's3'")


def get_store() -> ObjectStore:
    """The store chosen by configuration (OBJECT_STORE), built once per process and settings."""
    kind = settings.OBJECT_STORE
    location = str(settings.LOCAL_STORE_DIR) if kind == "local" else settings.S3_BUCKET
    return _store_for(
        kind,
        location,
        settings.S3_PART_SIZE,
        settings.S3_ENDPOINT_URL,
        settings.S3_REGION,
        settings.S3_OBJECT_LOCK_MODE,
    )
