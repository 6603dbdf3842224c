"""Verify an auditor's export offline: python -m audit.verify EXPORT MANIFEST PUBLIC_KEY

Needs only the standard library and the `cryptography` package (never Django): copy the audit/
folder next to the files and run it anywhere. Checks that the manifest and its tree heads are
signed by PUBLIC_KEY, that EXPORT is byte for byte a file the manifest names, that every entry's
leaf hash is proven included in the signed head (RFC 9162), that entries are in strict seq order
and selected by the manifest's filters, that there are as many as the manifest counts (for an
unfiltered export: every seq from 1 to the head's size), and that the previous head is consistent
with the export's head. With --earlier MANIFEST (the manifest of an earlier export, this one
made with since_head=<that export's head size>), also that the ledger only grew in between.
With --checkpoint CHECKPOINT (the C2SP checkpoint served at /api/v1/audit/checkpoint), also checks
its signed note against PUBLIC_KEY and that it names the export's head; or alone:
python -m audit.verify --checkpoint CHECKPOINT PUBLIC_KEY.
Exit status: 0 verified, 1 any check failed, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audit import export_format, signed_note, signing
from audit.canonical import canonical_bytes, leaf_hash
from audit.merkle import verify_consistency, verify_inclusion

SHOWN = 20  # problems listed before "and N more"


class Unreadable(Exception):
    pass


def file_digest(path: Path) -> dict[str, Any]:
    sha256, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            size += len(chunk)
    return {"sha256": sha256.hexdigest(), "bytes": size}


def _records(path: Path, name: str) -> Iterator[tuple[int, dict[str, Any], list[bytes]]]:
    """(line number, hashed fields, proof) of each entry; ValueError names the bad line."""
    with open(path, "rb") as handle:
        if name == export_format.CSV_NAME:
            text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
            for number, (fields, proof) in enumerate(export_format.parse_csv(text), start=2):
                yield number, fields, proof
            return
        for number, line in enumerate(handle, start=1):
            try:
                fields, proof = export_format.parse_jsonl_line(line)
            except (ValueError, TypeError, KeyError) as error:
                raise ValueError(f"line {number} is not an export record ({error})") from None
            yield number, fields, proof


def _when(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def verify(export_path: Path, manifest_path: Path, key_path: Path) -> tuple[list[str], str]:
    """(problems, summary): no problems means verified."""
    try:
        key = signing.load_public_key(key_path.read_bytes())
    except (OSError, ValueError, KeyError) as error:
        raise Unreadable(f"cannot read the public key {key_path}: {error}") from None
    try:
        manifest = json.loads(manifest_path.read_bytes())
        head = signing.TreeHead.from_json(manifest["head"])
        signature = base64.b64decode(manifest["signature"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise Unreadable(f"cannot read the manifest {manifest_path}: {error}") from None
    problems: list[str] = []
    if manifest.get("format") != export_format.FORMAT:
        problems.append(f"the manifest's format is {manifest.get('format')!r}, not {export_format.FORMAT}")
    if not signing.verify(key, signature, signing.manifest_message(manifest)):
        problems.append("the manifest's signature does not verify with this public key: forged or altered")
    if not head.verify(key):
        problems.append("the tree head's signature does not verify with this public key: forged head")
    problems += _check_previous_head(manifest, head, key)

    digest = file_digest(export_path)
    files = manifest.get("files") or {}
    name = next((n for n, d in files.items() if d == digest), None)
    if name is None:
        problems.append(
            f"{export_path.name} is none of the manifest's files (its sha256 is {digest['sha256']}): "
            "it was changed, or belongs to another export"
        )
        with open(export_path, "rb") as handle:
            name = export_format.JSONL_NAME if handle.read(1) == b"{" else export_format.CSV_NAME

    filters = manifest.get("filters") or {}
    count, previous_seq, seqs_contiguous = 0, 0, True
    try:
        for number, fields, proof in _records(export_path, name):
            count += 1
            seq = fields.get("seq")
            where = f"entry seq {seq} (line {number})"
            if not isinstance(seq, int) or seq <= previous_seq:
                problems.append(f"{where} is out of order or repeated after seq {previous_seq}: reordered")
            elif seq != previous_seq + 1:
                seqs_contiguous = False
            if isinstance(seq, int):
                previous_seq = max(previous_seq, seq)
            leaf = leaf_hash(canonical_bytes(fields))
            if not isinstance(seq, int) or not verify_inclusion(
                leaf, seq - 1, head.tree_size, proof, head.root_hash
            ):
                problems.append(f"{where} is not proven included in the signed head: altered or inserted")
            elif not export_format.matches(fields, filters):
                problems.append(f"{where} is not one the manifest's filters select: inserted")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        problems.append(f"{export_path.name} is malformed: {error}")
    if count != manifest.get("count"):
        problems.append(
            f"the manifest counts {manifest.get('count')} entries, the file holds {count}: "
            "entries were removed or inserted"
        )
    if not any(filters.values()) and (not seqs_contiguous or previous_seq != head.tree_size):
        problems.append(
            f"an unfiltered export must hold every entry 1 to {head.tree_size}: entries are missing"
        )

    summary = (
        f"{export_path.name}: {count} entries, each proven included in the tree head of "
        f"{head.tree_size} entries (root {head.root_hash.hex()[:16]}…) signed {_when(head.timestamp_ms)} "
        f"by key {head.key_id[:16]}…; filters {json.dumps({k: v for k, v in filters.items() if v})}"
    )
    return problems, summary


def _check_previous_head(manifest: dict[str, Any], head: signing.TreeHead, key: Any) -> list[str]:
    if not manifest.get("previous_head"):
        return []
    try:
        previous = signing.TreeHead.from_json(manifest["previous_head"])
        proof = [bytes.fromhex(p) for p in manifest.get("consistency_proof", [])]
    except (ValueError, KeyError, TypeError):
        return ["the manifest's previous head or consistency proof is malformed"]
    problems = []
    if not previous.verify(key):
        problems.append("the previous tree head's signature does not verify: forged head")
    if previous.timestamp_ms > head.timestamp_ms or not verify_consistency(
        previous.tree_size, head.tree_size, previous.root_hash, head.root_hash, proof
    ):
        problems.append(
            f"the head of {head.tree_size} entries is not consistent with the previous head of "
            f"{previous.tree_size}: history was rewritten, or a head was swapped"
        )
    return problems


def check_earlier(manifest_path: Path, earlier_path: Path, key_path: Path) -> list[str]:
    """Problems tying an auditor's earlier export to this one: its manifest must be signed by the
    key, and its head must be this manifest's previous head (whose consistency proof to this
    export's head `verify` checks)."""
    try:
        key = signing.load_public_key(key_path.read_bytes())
        manifest = json.loads(manifest_path.read_bytes())
        earlier = json.loads(earlier_path.read_bytes())
        earlier_head = signing.TreeHead.from_json(earlier["head"])
        signature = base64.b64decode(earlier["signature"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise Unreadable(f"cannot read the earlier manifest {earlier_path}: {error}") from None
    problems = []
    if not signing.verify(key, signature, signing.manifest_message(earlier)) or not earlier_head.verify(key):
        problems.append("the earlier manifest or its head is not signed by this public key")
    previous = manifest.get("previous_head") or {}
    if (previous.get("tree_size"), previous.get("root_hash")) != (
        earlier_head.tree_size,
        earlier_head.root_hash.hex(),
    ):
        problems.append(
            f"this export proves consistency from a head of {previous.get('tree_size')} entries, not "
            f"from the earlier export's head of {earlier_head.tree_size}: export again with "
            f"since_head={earlier_head.tree_size}"
        )
    return problems


def check_checkpoint(
    checkpoint_path: Path, key_path: Path, manifest_path: Path | None = None
) -> tuple[list[str], str]:
    """(problems, summary) of a C2SP checkpoint (GET /api/v1/audit/checkpoint): a signed note by
    the ledger's key under its origin; with a manifest, also the same tree as the manifest's head."""
    try:
        key = signing.load_public_key(key_path.read_bytes())
    except (OSError, ValueError, KeyError) as error:
        raise Unreadable(f"cannot read the public key {key_path}: {error}") from None
    try:
        note = checkpoint_path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise Unreadable(f"cannot read the checkpoint {checkpoint_path}: {error}") from None
    try:
        checkpoint = signed_note.open_checkpoint(note, key)
    except signed_note.MalformedNote as error:
        raise Unreadable(f"the checkpoint {checkpoint_path} is malformed: {error}") from None
    except ValueError as error:
        return [f"the checkpoint is not signed by this public key: {error}"], ""
    problems = []
    if manifest_path is not None:
        head = signing.TreeHead.from_json(json.loads(manifest_path.read_bytes())["head"])
        if (head.tree_size, head.root_hash) != (checkpoint.tree_size, checkpoint.root_hash):
            problems.append(
                f"the checkpoint's tree ({checkpoint.tree_size} entries, root "
                f"{checkpoint.root_hash.hex()[:16]}…) is not the export's head ({head.tree_size} entries, "
                f"root {head.root_hash.hex()[:16]}…)"
            )
    summary = (
        f"checkpoint of {checkpoint.origin}: {checkpoint.tree_size} entries, root "
        f"{checkpoint.root_hash.hex()[:16]}…, signed by the key"
    )
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit.verify", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="[EXPORT MANIFEST] PUBLIC_KEY",
        help="entries.jsonl or entries.csv and the export's manifest.json (unless only --checkpoint "
        "is checked), then the ledger's Ed25519 public key (PEM), obtained out of band",
    )
    parser.add_argument(
        "--earlier",
        type=Path,
        metavar="MANIFEST",
        help="an earlier export's manifest: check the ledger only grew between the two heads",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="CHECKPOINT",
        help="a C2SP checkpoint (GET /api/v1/audit/checkpoint): check its signed note; with an "
        "export, also that it names the export's head",
    )
    args = parser.parse_args(argv)
    if len(args.paths) not in (1, 3) or (len(args.paths) == 1 and not args.checkpoint):
        parser.error("give EXPORT MANIFEST PUBLIC_KEY, or --checkpoint CHECKPOINT PUBLIC_KEY")
    key_path = args.paths[-1]
    try:
        problems, summaries = [], []
        if len(args.paths) == 3:
            export_path, manifest_path = args.paths[0], args.paths[1]
            found, summary = verify(export_path, manifest_path, key_path)
            problems += found
            summaries.append(summary)
            if args.earlier:
                problems += check_earlier(manifest_path, args.earlier, key_path)
                summaries[-1] += (
                    f"; consistent with the earlier export's head of {_earlier_size(args.earlier)} entries"
                )
        if args.checkpoint:
            manifest = args.paths[1] if len(args.paths) == 3 else None
            found, summary = check_checkpoint(args.checkpoint, key_path, manifest)
            problems += found
            summaries.append(summary)
    except (Unreadable, OSError) as error:
        print(f"CANNOT VERIFY: {error}", file=sys.stderr)
        return 2
    if not problems:
        print(f"VERIFIED {'; '.join(summaries)}")
        return 0
    name = args.paths[0].name if len(args.paths) == 3 else args.checkpoint.name
    print(f"FAILED {name}: {len(problems)} problem(s)")
    for problem in problems[:SHOWN]:
        print(f"  - {problem}")
    if len(problems) > SHOWN:
        print(f"  ... and {len(problems) - SHOWN} more")
    return 1


def _earlier_size(path: Path) -> int:
    return int(json.loads(path.read_bytes())["head"]["tree_size"])


if __name__ == "__main__":
    sys.exit(main())
