"""The export's file formats, both ways (pure; the offline verifier imports it).

`entries.jsonl`: one line per entry, canonical JSON (keys sorted, no white space, UTF-8):
    {"entry": <the hashed fields>, "inclusion_proof": [hex, ...], "leaf_index": seq - 1}
`entries.csv`: the same entries for spreadsheets, one column per field, `details` as canonical
JSON and the proof as space-separated hex. A text cell that a spreadsheet would run as a formula
(starting with = + - @, tab or CR) or that starts with an apostrophe gets one apostrophe in front;
readers remove exactly one, so the hashed values come back unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from audit.canonical import canonical_bytes

FORMAT = "vault-ledger-export/1"
JSONL_NAME = "entries.jsonl"
CSV_NAME = "entries.csv"
FILTER_NAMES = ("since", "until", "case_id", "actor", "action", "recording_id")
CSV_COLUMNS = (
    "seq", "recorded_at", "actor_kind", "actor_id", "actor_label", "action",
    "recording_id", "session_id", "case_id", "details", "leaf_index", "inclusion_proof",
)  # fmt: skip
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def jsonl_line(fields: Mapping[str, Any], proof: Sequence[bytes]) -> bytes:
    record = {"entry": fields, "leaf_index": fields["seq"] - 1, "inclusion_proof": [p.hex() for p in proof]}
    return canonical_bytes(record) + b"\n"


def parse_jsonl_line(line: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """(hashed fields, proof); ValueError for a line that is not a well-formed record."""
    record = json.loads(line)
    if not isinstance(record, dict) or set(record) != {"entry", "leaf_index", "inclusion_proof"}:
        raise ValueError("not an export record")
    fields, proof = record["entry"], [bytes.fromhex(p) for p in record["inclusion_proof"]]
    if not isinstance(fields, dict) or record["leaf_index"] != fields.get("seq", 0) - 1:
        raise ValueError("leaf_index is not seq - 1")
    return fields, proof


def _safe(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _unsafe(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def csv_header() -> bytes:
    return _csv_row(list(CSV_COLUMNS))


def csv_line(fields: Mapping[str, Any], proof: Sequence[bytes]) -> bytes:
    actor = fields["actor"]
    return _csv_row(
        [
            str(fields["seq"]),
            fields["recorded_at"],
            _safe(actor["kind"]),
            _safe(actor["id"]),
            _safe(actor["label"]),
            _safe(fields["action"]),
            fields["recording_id"] or "",
            fields["session_id"] or "",
            fields["case_id"] or "",
            canonical_bytes(fields["details"]).decode(),  # a JSON object: starts with "{"
            str(fields["seq"] - 1),
            " ".join(p.hex() for p in proof),
        ]
    )


def _csv_row(cells: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)  # RFC 4180
    return out.getvalue().encode()


def parse_csv(lines: Iterator[str]) -> Iterator[tuple[dict[str, Any], list[bytes]]]:
    """(hashed fields, proof) of each row; ValueError for a bad header or row."""
    reader = csv.reader(lines)
    if tuple(next(reader, ())) != CSV_COLUMNS:
        raise ValueError("the CSV header is not the export's")
    for row in reader:
        if len(row) != len(CSV_COLUMNS):
            raise ValueError(f"row {reader.line_num} has {len(row)} cells, not {len(CSV_COLUMNS)}")
        cell = dict(zip(CSV_COLUMNS, row, strict=True))
        fields = {
            "seq": int(cell["seq"]),
            "recorded_at": cell["recorded_at"],
            "actor": {
                "kind": _unsafe(cell["actor_kind"]),
                "id": _unsafe(cell["actor_id"]),
                "label": _unsafe(cell["actor_label"]),
            },
            "action": _unsafe(cell["action"]),
            "recording_id": cell["recording_id"] or None,
            "session_id": cell["session_id"] or None,
            "case_id": cell["case_id"] or None,
            "details": json.loads(cell["details"]),
        }
        if int(cell["leaf_index"]) != fields["seq"] - 1:
            raise ValueError(f"row {reader.line_num}: leaf_index is not seq - 1")
        yield fields, [bytes.fromhex(p) for p in cell["inclusion_proof"].split()]


def in_time_order(spelling: str) -> str:
    """A canonical time that compares as text in time order. Exports made before the years were
    limited to 2000-9999 may name a year under 1000, which strftime wrote unpadded."""
    year, dash, rest = spelling.partition("-")
    return year.zfill(4) + dash + rest if year.isdigit() else spelling


def matches(fields: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """Whether an entry is one the filters select (times compare as their canonical spelling)."""
    recorded_at = in_time_order(fields["recorded_at"])
    if filters.get("since") and recorded_at < in_time_order(filters["since"]):
        return False
    if filters.get("until") and recorded_at >= in_time_order(filters["until"]):
        return False
    if filters.get("actor") and fields["actor"]["label"] != filters["actor"]:
        return False
    return all(
        not filters.get(name) or fields[name] == filters[name]
        for name in ("case_id", "action", "recording_id")
    )
