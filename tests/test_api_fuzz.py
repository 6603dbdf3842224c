"""schemathesis against the served OpenAPI schema (/api/v1/schema): every operation, each generated
request sent as a recorder client (valid token), with an invalid token, and as a signed-in
compliance officer (session cookie and CSRF token). For every answer: no 5xx; every error is JSON
`{"error", "detail"}`; a refused request leaves no state behind (no row in any of the vault's
tables, no object in the store; the ledger may only gain the refusal's own record).

Requests go to the Django WSGI application in-process (schemathesis's WSGI transport), on the test
database. The counts are printed at the end and quoted in docs/RELIABILITY.md.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from audit.models import LedgerEntry
from complaints.services import open_case, request_access
from tests.factories import SessionPayload

pytestmark = [pytest.mark.slow]

VAULT_APPS = ("recorder", "complaints", "retention", "audit")
PASSWORD = "correct horse battery staple"
# Ledger entries a refusal may write: denials are accesses too (DESIGN.md, "misuse of access is
# detectable"), and a refused upload is on record.
REFUSAL_ACTIONS = {"access.denied", "recording.rejected", "session.rejected", "session.event_rejected"}
STATS: Counter[str] = Counter()
LAST_SNAPSHOT: dict[str, dict[str, int]] = {}
EXAMPLES = 6  # per operation and generation mode: about 1,000 requests in all, under a minute


def summary() -> str:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(STATS.items()) if k.startswith("status"))
    return (
        f"schemathesis: {STATS['operations']} operations, {STATS['cases']} generated cases, "
        f"{STATS['requests']} requests (each case as every caller); {statuses}; "
        f"5xx: {STATS['5xx']}, errors without JSON error/detail: {STATS['bad_error_body']}, "
        f"refusals that left state: {STATS['state_left']}"
    )


def snapshot() -> dict[str, int]:
    """Row counts of every table of the vault's apps, objects in the local store, ledger size."""
    counts = {
        model._meta.label: model._default_manager.count()
        for label in VAULT_APPS
        for model in apps.get_app_config(label).get_models()
    }
    store = Path(django_settings.LOCAL_STORE_DIR)
    counts["store objects"] = sum(1 for path in store.rglob("*") if path.is_file()) if store.exists() else 0
    return counts


@pytest.fixture
def store_kind() -> str:
    """The local folder: objects left behind are counted as files."""
    return "local"


@pytest.fixture
def identities(api: Any, store: Any, age_keys: Any, settings: Any, transactional_db: None) -> dict[str, Any]:
    """Headers of the three callers, and a session with a recording the fuzzer's ids may hit."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LEDGER_SIGNING_KEY = ""  # the ledger's key, generated in the test's own folder
    settings.LEDGER_SIGNING_KEY_FILE = str(Path(settings.EMBEDDED_KEY_DIR) / "ledger-signing-key.pem")
    call_command(
        "add_staff", "olivia", "--role", "compliance_officer", "--password-stdin",
        stdin=io.StringIO(PASSWORD + "\n"), stdout=io.StringIO(),
    )  # fmt: skip
    payload = SessionPayload()
    session_id = api.post("/api/v1/sessions", payload, format="json").json()["id"]
    upload = api.put(f"/api/v1/sessions/{session_id}/recording", b"fuzz target", content_type="video/webm")
    recording_id = upload.json()["id"]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(get_user_model().objects.get(username="olivia"))
    browser.get("/")  # a page with a form: sets the CSRF cookie
    cookies = {name: morsel.value for name, morsel in browser.cookies.items()}
    token = api._credentials["HTTP_AUTHORIZATION"]
    officer = get_user_model().objects.get(username="olivia")
    case = open_case(
        officer=officer, customer_ref=payload["customer_ref"], channel="phone",
        complaint="Fuzzing.", session_ids=[session_id],
    )  # fmt: skip
    request = request_access(officer=officer, case_id=case.id, justification="Fuzzing.")
    return {
        "known ids": {
            "session_id": session_id,
            "case_id": str(case.id),
            "recording_id": recording_id,
            "request_id": str(request.id),
        },
        "recorder": {"Authorization": token},
        "invalid token": {"Authorization": "Bearer " + "x" * 40},
        "officer": {
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
            "X-CSRFToken": cookies["csrftoken"],
        },
    }


def body_of(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def check_one_call(case: Any, caller: str, headers: dict[str, str], findings: list[str]) -> None:
    sent = {k: v for k, v in (case.headers or {}).items() if k.lower() not in {"authorization", "cookie"}}
    before = LAST_SNAPSHOT.get("state") or snapshot()
    last_seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = case.call(headers={**sent, **headers})
    STATS["requests"] += 1
    status = response.status_code
    STATS[f"status {status // 100}xx"] += 1
    where = f"{case.method} {case.formatted_path} as {caller}: {status}"
    after = LAST_SNAPSHOT["state"] = snapshot()
    if status >= 500:
        STATS["5xx"] += 1
        findings.append(f"{where} {response.content[:300]!r}")
        return
    if status < 400:
        return
    error = body_of(response)
    if not (isinstance(error, dict) and {"error", "detail"} <= set(error)):
        STATS["bad_error_body"] += 1
        findings.append(f"{where}: error body is not JSON error/detail: {response.content[:300]!r}")
    written = set(LedgerEntry.objects.filter(seq__gt=last_seq).values_list("action", flat=True))
    if {**after, "audit.LedgerEntry": 0} != {**before, "audit.LedgerEntry": 0} or written - REFUSAL_ACTIONS:
        STATS["state_left"] += 1
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        findings.append(f"{where}: refusal left state {changed} ledger {sorted(written)}")


def test_every_operation_with_every_caller(
    identities: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from config.wsgi import application

    known_ids = identities.pop("known ids")
    LAST_SNAPSHOT.clear()
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/schema", application)
    findings: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20  # the whole API, not a schema that failed to load
    for operation in operations:
        known = {name: known_ids[name] for name in known_ids if f"{{{name}}}" in operation.path}
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),  # valid shapes, random ids
            operation.as_strategy(GenerationMode.NEGATIVE),  # invalid input of every kind
        ]
        if known:
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
        for strategy in strategies:

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                STATS["cases"] += 1
                for caller, headers in identities.items():
                    check_one_call(case, caller, headers, findings)

            try:
                run()
            except Unsatisfiable:
                STATS["strategies without cases"] += 1  # e.g. no input to make invalid
        STATS["operations"] += 1
    with capsys.disabled():
        print("\n" + summary())
    assert not findings, "\n".join(findings[:40])
