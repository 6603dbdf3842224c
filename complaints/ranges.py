"""HTTP Range requests (RFC 9110 section 14): one byte range of a representation of known size."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SINGLE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")
# Beyond any representation's size, and below Python's limit on converting long digit strings.
_DIGITS = 19


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= _DIGITS else 10**_DIGITS


class RangeNotSatisfiable(Exception):
    """The range lies beyond the end: answer 416 with `Content-Range: bytes */size`."""


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The requested range clamped to `size`, or None to send the whole representation.

    A missing, malformed or multi-range header is ignored (RFC 9110 14.2 allows a server to);
    a well-formed range that starts at or after the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _SINGLE.fullmatch(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = _number(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = _number(first)
    end = _number(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignore the header
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(end, size - 1))
