"""Exports as an auditor gets them, verified offline as a regulator would: every kind of
tampering with the files, the manifest or the database makes the verifier fail."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rest_framework.test import APIClient

from audit.models import LedgerEntry, LedgerExport
from audit.services import Actor, record_event
from audit.signing import manifest_message
from tests.audit.conftest import run_verifier
from tests.audit.test_ledger import behind_the_triggers_back, tamper_tile_hash
from tests.openapi import assert_documented, published_schema

CASE = uuid.UUID("00000000-0000-4000-8000-00000000cafe")
RECORDING = uuid.UUID("00000000-0000-4000-8000-0000000000ee")
# Entries before fill_ledger(): the fixture's auditor account, created (staff.account_changed),
# put in the auditor group (staff.account_changed) and so given the role (staff.role_changed).
BASE = 3


def fill_ledger() -> None:
    """20 entries after the BASE ones: plays of one recording in one case by two officers, and
    other events."""
    assert LedgerEntry.objects.count() == BASE
    for n in range(20):
        if n % 3 == 0:
            record_event(
                action="recording.played",
                actor=Actor(kind="user", id=str(n % 2 + 1), label=f"officer{n % 2}"),
                recording_id=RECORDING,
                case_id=CASE,
                details={"range": f"bytes={n}-"},
            )
        else:
            record_event(
                action="recording.ingested", actor=Actor.job("ingest"), details={"n": n, "note": "=1+2"}
            )


def export(client: APIClient, tmp_path: Path, name: str = "x", **filters: str) -> dict[str, Path]:
    response = client.post("/api/v1/audit/exports", filters, format="json")
    assert response.status_code == 201, response.content
    links = response.json()["links"]
    folder = tmp_path / name
    folder.mkdir()
    files = {}
    for kind in ("jsonl", "csv", "manifest"):
        download = client.get(links[kind])
        assert download.status_code == 200
        assert download["Cache-Control"] == "no-store"
        body = b"".join(download.streaming_content) if download.streaming else download.content
        files[kind] = folder / links[kind].rsplit("/", 1)[1]
        files[kind].write_bytes(body)
    key = folder / "ledger.pub"
    key.write_text(client.get("/api/v1/audit/public-key").json()["public_key_pem"])
    files["key"] = key
    return files


def verdict(files: dict[str, Path], which: str = "jsonl") -> tuple[int, str]:
    result = run_verifier(files[which], files["manifest"], files["key"])
    return result.returncode, result.stdout + result.stderr


@pytest.fixture
def exported(auditor: APIClient, tmp_path: Path) -> dict[str, Path]:
    fill_ledger()
    return export(auditor, tmp_path, case_id=str(CASE))


@pytest.mark.django_db
def test_an_export_verifies_offline_in_both_formats_without_django(exported) -> None:
    for which in ("jsonl", "csv"):
        code, output = verdict(exported, which)
        assert code == 0, output
        assert output.startswith("VERIFIED") and "8 entries" in output
    manifest = json.loads(exported["manifest"].read_text())
    assert manifest["count"] == 8 and manifest["filters"]["case_id"] == str(CASE)
    lines = exported["jsonl"].read_bytes().splitlines()
    # the seven plays of the case, and the export of the case itself
    assert [json.loads(line)["entry"]["seq"] for line in lines] == [
        BASE + seq for seq in (1, 4, 7, 10, 13, 16, 19, 21)
    ]


@pytest.mark.django_db
def test_the_export_is_itself_a_ledger_event_covered_by_its_head(exported) -> None:
    manifest = json.loads(exported["manifest"].read_text())
    event = LedgerEntry.objects.get(action="ledger.exported")
    assert event.seq == manifest["export_seq"] == BASE + 21 == manifest["head"]["tree_size"]
    assert event.actor_label == "audrey" and event.details["filters"]["case_id"] == str(CASE)
    assert event.case_id == CASE  # so exports of a case show up in the case's own history


@pytest.mark.django_db
def test_an_unfiltered_export_holds_every_entry_and_proves_its_completeness(auditor, tmp_path) -> None:
    fill_ledger()
    files = export(auditor, tmp_path)
    code, output = verdict(files)
    assert code == 0, output
    assert len(files["jsonl"].read_bytes().splitlines()) == BASE + 21
    lines = files["jsonl"].read_bytes().splitlines(keepends=True)
    files["jsonl"].write_bytes(b"".join(lines[:-1]))  # drop the last entry, and...
    manifest = json.loads(files["manifest"].read_text())
    code, output = verdict(files)
    assert code == 1 and "removed" in output and manifest["count"] == BASE + 21


def rewrite_lines(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(change(lines)))


def alter_entry(lines: list[bytes]) -> list[bytes]:
    record = json.loads(lines[2])
    record["entry"]["details"]["range"] = "bytes=0-"
    lines[2] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    return lines


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "says"),
    [
        (alter_entry, f"entry seq {BASE + 7} (line 3) is not proven included"),
        (lambda lines: lines[:3] + lines[4:], "the file holds 7: entries were removed"),
        (lambda lines: [lines[1], lines[0], *lines[2:]], "out of order"),
        (lambda lines: [*lines[:2], lines[2], *lines[2:]], "out of order or repeated"),
    ],
    ids=["altered", "removed", "reordered", "duplicated"],
)
def test_the_verifier_catches_altered_removed_and_reordered_entries(exported, change, says) -> None:
    rewrite_lines(exported["jsonl"], change)
    code, output = verdict(exported)
    assert code == 1 and output.startswith("FAILED"), output
    assert says in output
    assert "is none of the manifest's files" in output


@pytest.mark.django_db
def test_the_verifier_catches_a_genuine_entry_inserted_from_another_export(
    auditor, exported, tmp_path
) -> None:
    everything = export(auditor, tmp_path, name="all")
    outsider = everything["jsonl"].read_bytes().splitlines(keepends=True)[BASE + 1]  # not the case's
    rewrite_lines(exported["jsonl"], lambda lines: [lines[0], outsider, *lines[1:]])
    code, output = verdict(exported)
    assert code == 1
    assert f"entry seq {BASE + 2} (line 2) is not proven included" in output  # against another head


@pytest.mark.django_db
def test_the_verifier_catches_a_forged_head_and_a_swapped_one(auditor, exported, tmp_path) -> None:
    manifest = json.loads(exported["manifest"].read_text())
    forged = dict(manifest, head=dict(manifest["head"], tree_size=manifest["head"]["tree_size"] - 1))
    exported["manifest"].write_text(json.dumps(forged))
    code, output = verdict(exported)
    assert code == 1 and "forged head" in output and "manifest's signature does not verify" in output

    later = export(auditor, tmp_path, name="later", case_id=str(CASE))  # a genuine, newer head
    swapped = dict(manifest, head=json.loads(later["manifest"].read_text())["head"])
    exported["manifest"].write_text(json.dumps(swapped))
    code, output = verdict(exported)
    assert code == 1 and "not proven included" in output and "manifest's signature does not verify" in output


@pytest.mark.django_db
def test_a_manifest_re_signed_with_another_key_or_for_other_files_fails(exported) -> None:
    manifest = json.loads(exported["manifest"].read_text())
    impostor = Ed25519PrivateKey.generate()
    manifest["count"] = 6
    manifest["signature"] = base64.b64encode(impostor.sign(manifest_message(manifest))).decode()
    exported["manifest"].write_text(json.dumps(manifest))
    code, output = verdict(exported)
    assert code == 1 and "manifest's signature does not verify" in output and "counts 6" in output


@pytest.mark.django_db
def test_a_csv_cell_a_spreadsheet_would_run_is_defused_and_still_verifies(exported) -> None:
    assert b",'=1+2" not in exported["csv"].read_bytes()  # the case's entries have no such note
    text = exported["csv"].read_text()
    assert text.splitlines()[0].startswith("seq,recorded_at,actor_kind")
    code, output = verdict(exported, "csv")
    assert code == 0, output
    exported["csv"].write_text(text.replace("officer0", "officer9", 1))
    code, output = verdict(exported, "csv")
    assert code == 1 and "not proven included" in output


@pytest.mark.django_db
def test_the_verifier_says_why_it_cannot_start(exported, tmp_path) -> None:
    missing = tmp_path / "nope.pem"
    result = run_verifier(exported["jsonl"], exported["manifest"], missing)
    assert result.returncode == 2 and "cannot read the public key" in result.stderr


@pytest.mark.django_db
def test_tampering_in_the_database_is_caught_by_the_verifier_of_an_export_covering_it(
    auditor, tmp_path
) -> None:
    fill_ledger()
    behind_the_triggers_back(
        "UPDATE audit_ledgerentry SET actor_label = %s WHERE seq = %s", ["someone-else", BASE + 4]
    )  # a superuser hides who played the recording
    files = export(auditor, tmp_path, case_id=str(CASE))
    code, output = verdict(files)
    assert code == 1 and f"entry seq {BASE + 4} (line 2) is not proven included" in output


@pytest.mark.django_db
def test_a_download_of_an_export_whose_ledger_was_rewritten_is_refused(auditor, tmp_path) -> None:
    fill_ledger()
    response = auditor.post("/api/v1/audit/exports", {"action": "recording.played"}, format="json")
    jsonl = response.json()["links"]["jsonl"]
    behind_the_triggers_back(
        "UPDATE audit_ledgerentry SET leaf_hash = %s WHERE seq = 2",
        [b"\x00" * 32],  # type: ignore[list-item]
    )
    tamper_tile_hash(level=0, index=0, position=1, new=b"\x00" * 32)
    refused = auditor.get(jsonl)
    assert refused.status_code == 500 and refused.json()["error"] == "ledger_inconsistent"
    again = auditor.post("/api/v1/audit/exports", {}, format="json")
    assert again.status_code == 500 and again.json()["error"] == "ledger_inconsistent"


@pytest.mark.django_db
def test_filters_select_by_time_actor_action_and_recording(auditor, tmp_path) -> None:
    fill_ledger()
    body = auditor.post(
        "/api/v1/audit/exports", {"actor": "officer1", "recording_id": str(RECORDING)}, format="json"
    ).json()
    assert body["count"] == 3  # n = 3, 9, 15
    assert (
        auditor.post("/api/v1/audit/exports", {"action": "recording.ingested"}, format="json").json()["count"]
        == 13
    )
    future = auditor.post("/api/v1/audit/exports", {"since": "2999-01-01T00:00:00Z"}, format="json").json()
    assert future["count"] == 0
    files = export(auditor, tmp_path, until="2999-01-01T00:00:00Z", action="recording.played")
    assert verdict(files)[0] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"since": "yesterday"},
        {"case_id": "not-a-uuid"},
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"action": "x" * 65},
        {"since": "0999-12-31T00:00:00Z"},  # was created, then its files answered 500
        {"since": "0001-01-01T00:00:00+01:00"},  # before the year 1 in UTC
        {"until": "1999-12-31T23:59:59Z"},
        {"until": "9999-12-31T23:00:00-05:00"},  # after the year 9999 in UTC
        {"since": "2026-02-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"},
    ],
)
def test_bad_filters_get_a_json_error_and_no_ledger_event(auditor, body) -> None:
    response = auditor.post("/api/v1/audit/exports", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and response.json()["detail"]
    assert not LedgerEntry.objects.filter(action="ledger.exported").exists()
    assert not LedgerExport.objects.exists()


@pytest.mark.django_db
def test_an_export_from_the_earliest_to_the_latest_date_accepted_downloads_and_verifies(
    auditor, tmp_path
) -> None:
    """Its filters are stored as text and parsed again for every download, so each accepted date
    must come back from that text (a year under 1000 was stored unpadded, and downloads failed)."""
    fill_ledger()
    files = export(auditor, tmp_path, since="2000-01-01T00:00:00Z", until="9999-12-31T00:00:00Z")
    assert verdict(files)[0] == 0 and verdict(files, "csv")[0] == 0


@pytest.mark.django_db
def test_an_export_stored_before_the_dates_rule_with_a_year_under_1000_still_downloads(
    auditor, tmp_path
) -> None:
    """Such an export was created, and its filters kept with the year unpadded, as strftime spells
    it; every download of its files answered 500."""
    fill_ledger()
    response = auditor.post("/api/v1/audit/exports", {"since": "2000-01-01T00:00:00Z"}, format="json")
    export_row = LedgerExport.objects.get(id=response.json()["id"])
    export_row.filters = {**export_row.filters, "since": "999-12-31T00:00:00.000000Z"}  # as it was stored
    export_row.save(update_fields=["filters"])
    files = {}
    for kind in ("jsonl", "csv", "manifest"):
        download = auditor.get(response.json()["links"][kind])
        assert download.status_code == 200, download.content
        body = b"".join(download.streaming_content) if download.streaming else download.content
        files[kind] = tmp_path / kind
        files[kind].write_bytes(body)
    files["key"] = tmp_path / "ledger.pub"
    files["key"].write_text(auditor.get("/api/v1/audit/public-key").json()["public_key_pem"])
    assert json.loads(files["manifest"].read_text())["filters"]["since"] == "999-12-31T00:00:00.000000Z"
    assert verdict(files)[0] == 0 and verdict(files, "csv")[0] == 0
    assert len(files["jsonl"].read_bytes().splitlines()) == BASE + 21


@pytest.mark.django_db
# A fixed unknown id, not a new uuid4() at collection: every pytest-xdist worker must collect alike.
@pytest.mark.parametrize("export_id", ["-" * 36, "0" * 36, "5b3d8a52-0c1e-4f4e-9a57-2f6c1d0e7b11"])
def test_a_file_of_a_malformed_or_unknown_export_is_a_json_404(auditor, export_id: str) -> None:
    """The fuzzer's find: 36 hex digits and dashes that are no UUID answered 500."""
    response = auditor.get(f"/api/v1/audit/exports/{export_id}/entries.jsonl")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] and response.json()["detail"]


@pytest.mark.django_db
def test_only_auditors_export(client, operator) -> None:
    assert operator.post("/api/v1/audit/exports", {}, format="json").status_code == 403
    assert client.post("/api/v1/audit/exports", {}, content_type="application/json").status_code in (401, 403)
    assert not LedgerEntry.objects.filter(action="ledger.exported").exists()


@pytest.mark.django_db
def test_a_later_export_proves_the_ledger_only_grew_since_an_earlier_one(auditor, tmp_path) -> None:
    fill_ledger()
    earlier = export(auditor, tmp_path, name="january", case_id=str(CASE))
    earlier_size = json.loads(earlier["manifest"].read_text())["head"]["tree_size"]
    record_event(action="recording.played", actor=Actor.job("later"), case_id=CASE)
    later = export(auditor, tmp_path, name="february", case_id=str(CASE), since_head=str(earlier_size))
    result = run_verifier(later["jsonl"], later["manifest"], later["key"], "--earlier", earlier["manifest"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"consistent with the earlier export's head of {earlier_size} entries" in result.stdout

    unrelated = export(auditor, tmp_path, name="march", case_id=str(CASE))  # proves from the latest head
    result = run_verifier(
        unrelated["jsonl"], unrelated["manifest"], unrelated["key"], "--earlier", earlier["manifest"]
    )
    assert result.returncode == 1 and f"export again with since_head={earlier_size}" in result.stdout


@pytest.mark.django_db
def test_since_head_must_name_a_signed_head(auditor) -> None:
    fill_ledger()
    response = auditor.post("/api/v1/audit/exports", {"since_head": 7}, format="json")
    assert response.status_code == 400 and "No signed tree head" in response.json()["detail"]


@pytest.mark.django_db
def test_an_export_answers_the_shape_the_schema_documents(auditor) -> None:
    """Its filters and file digests included: every key the auditor gets is documented."""
    schema = published_schema()
    fill_ledger()
    created = auditor.post(
        "/api/v1/audit/exports", {"case_id": str(CASE), "actor": "officer1"}, format="json"
    )
    assert created.status_code == 201, created.content
    assert_documented(schema, "create_ledger_export", created)
    assert created.json()["filters"]["case_id"] == str(CASE) and created.json()["filters"]["since"] is None
    again = auditor.get(f"/api/v1/audit/exports/{created.json()['id']}")
    assert again.status_code == 200
    assert_documented(schema, "ledger_export", again)
    assert again.json() == created.json()
