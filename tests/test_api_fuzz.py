"""schemathesis against the served OpenAPI schema (/api/v1/schema): every operation, each generated
request sent as every caller: a recorder client (valid token), an invalid token, no credentials at
all, and a signed-in member of each staff role (session cookie and CSRF token): compliance officer,
data protection officer, auditor, operator. For every answer: no 5xx; every error is JSON
`{"error", "detail"}`; a refused request leaves no state behind (no row in any of the vault's
tables, no object in the store; the ledger may only gain the refusal's own record).

Requests go to the Django WSGI application in-process (schemathesis's WSGI transport), on the test
database. The counts are printed at the end and quoted in docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from audit.models import LedgerEntry
from complaints.services import open_case, request_access
from staff.roles import ROLES
from tests.factories import SessionPayload
from tests.staff import make_staff, signed_in

# The local folder store: objects left behind are counted as files.
pytestmark = [pytest.mark.slow, pytest.mark.local_store]

VAULT_APPS = ("recorder", "complaints", "notifications", "retention", "audit")
# Ledger entries a refusal may write: denials are accesses too (DESIGN.md, "misuse of access is
# detectable"), and a refused upload is on record.
REFUSAL_ACTIONS = {"access.denied", "recording.rejected", "session.rejected", "session.event_rejected"}
STATS: Counter[str | tuple[str, str]] = Counter()
LAST_SNAPSHOT: dict[str, dict[str, int]] = {}
# Per operation and generation mode: about 310 cases, each sent as all seven callers, about 2,200
# requests: 11-13 s on SQLite, 16-24 s on PostgreSQL (three callers took 10 s and 18-20 s, before
# the database connection was kept open across requests).
EXAMPLES = 6


def summary(callers: list[str]) -> str:
    totals = {k: v for k, v in STATS.items() if isinstance(k, str)}
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(totals.items()) if k.startswith("status"))
    lines = [
        f"schemathesis: {STATS['operations']} operations, {STATS['cases']} generated cases, "
        f"{STATS['requests']} requests (each case as every caller); {statuses}; "
        f"5xx: {STATS['5xx']}, errors without JSON error/detail: {STATS['bad_error_body']}, "
        f"refusals that left state: {STATS['state_left']}",
        "caller                   requests  2xx  4xx  5xx  bad error body  refusals that left state",
    ]
    for caller in callers:
        lines.append(
            f"{caller:<24} {STATS[caller, 'requests']:>8} {STATS[caller, 'status 2xx']:>4} "
            f"{STATS[caller, 'status 4xx']:>4} {STATS[caller, '5xx']:>4} "
            f"{STATS[caller, 'bad_error_body']:>15} {STATS[caller, 'state_left']:>25}"
        )
    return "\n".join(lines)


def count(caller: str, what: str) -> None:
    """One more `what`, in all and for `caller`."""
    STATS[what] += 1
    STATS[caller, what] += 1


def snapshot() -> dict[str, int]:
    """Row counts of every table of the vault's apps, objects in the local store, ledger size.
    One query for all the tables: it runs after each of the ~2,000 requests."""
    models = [model for label in VAULT_APPS for model in apps.get_app_config(label).get_models()]
    quote = connection.ops.quote_name
    # The models' own table names, quoted: no outside input reaches this SQL.
    tables = ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in models)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + tables)
        row = cursor.fetchone()
    counts = {model._meta.label: int(n) for model, n in zip(models, row, strict=True)}
    store = Path(django_settings.LOCAL_STORE_DIR)
    counts["store objects"] = sum(1 for path in store.rglob("*") if path.is_file()) if store.exists() else 0
    return counts


@pytest.fixture
def one_connection() -> Iterator[None]:
    """Keep the database connection open across the fuzzer's requests, as Django's test client
    does: the WSGI transport calls the application directly, whose request signals would otherwise
    close the connection after every request (a new PostgreSQL connection each time: more than half
    of the run's time)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@dataclass(frozen=True)
class Caller:
    """What a caller adds to each request. Cookies go as cookies, not as a `Cookie` header: the WSGI
    transport's client replaces that header with its own cookie jar, so a session sent as a header
    never arrives (the officer was fuzzed as anonymous that way until this was found)."""

    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)


# For each role, a read it is allowed (200) and anonymous is not: proof that its session arrives.
ROLE_PROOF = {
    "compliance_officer": "/api/v1/cases",
    "data_protection_officer": "/api/v1/access-requests",
    "auditor": "/api/v1/purge-runs",
    "operator": "/api/v1/purge-runs",
}


def caller_signed_in_as(username: str, role: str) -> Caller:
    """A browser signed in as a new staff member of `role`: session cookie and CSRF token."""
    browser = signed_in(make_staff(username, role), csrf=True)
    cookies = {name: morsel.value for name, morsel in browser.cookies.items()}
    assert "csrftoken" in cookies and "sessionid" in cookies, f"{role} is not signed in: {cookies}"
    return Caller(headers={"X-CSRFToken": cookies["csrftoken"]}, cookies=cookies)


@pytest.fixture
def identities(api: Any, store: Any, age_keys: Any, settings: Any, transactional_db: None) -> dict[str, Any]:
    """Every caller, and a session with a recording, a case and an access request that the fuzzer's
    ids may hit."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LEDGER_SIGNING_KEY = ""  # the ledger's key, generated in the test's own folder
    settings.LEDGER_SIGNING_KEY_FILE = str(Path(settings.EMBEDDED_KEY_DIR) / "ledger-signing-key.pem")
    staff = {role: caller_signed_in_as(role.replace("_", "-"), role) for role in ROLES}
    payload = SessionPayload()
    session_id = api.post("/api/v1/sessions", payload, format="json").json()["id"]
    upload = api.put(f"/api/v1/sessions/{session_id}/recording", b"fuzz target", content_type="video/webm")
    recording_id = upload.json()["id"]
    officer = get_user_model().objects.get(username="compliance-officer")
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
        "recorder": Caller(headers={"Authorization": api._credentials["HTTP_AUTHORIZATION"]}),
        "invalid token": Caller(headers={"Authorization": "Bearer " + "x" * 40}),
        "anonymous": Caller(),
        **staff,
    }


def json_of(response: Any) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def send_as(case: Any, caller: Caller) -> Any:
    """`case` as `caller`: the generated headers without any credentials of their own, then the caller's."""
    sent = {k: v for k, v in (case.headers or {}).items() if k.lower() not in {"authorization", "cookie"}}
    return case.call(headers={**sent, **caller.headers}, cookies=caller.cookies)


def assert_each_role_is_recognised(operations: list[Any], identities: dict[str, Caller]) -> None:
    """Each staff caller is answered 200 on a read of its role, where anonymous is refused."""
    for role, path in ROLE_PROOF.items():
        [operation] = [op for op in operations if op.method.upper() == "GET" and op.path.endswith(path)]
        assert send_as(operation.Case(), identities[role]).status_code == 200, f"{role} is not signed in"
        assert send_as(operation.Case(), identities["anonymous"]).status_code in (401, 403)


def check_one_call(case: Any, caller: str, identity: Caller, findings: list[str]) -> None:
    before = LAST_SNAPSHOT.get("state") or snapshot()
    last_seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    response = send_as(case, identity)
    count(caller, "requests")
    status = response.status_code
    count(caller, f"status {status // 100}xx")
    where = f"{case.method} {case.formatted_path} as {caller}: {status}"
    after = LAST_SNAPSHOT["state"] = snapshot()
    if status >= 500:
        count(caller, "5xx")
        findings.append(f"{where} {response.content[:300]!r}")
        return
    if status < 400:
        return
    error = json_of(response)
    if not (isinstance(error, dict) and {"error", "detail"} <= set(error)):
        count(caller, "bad_error_body")
        findings.append(f"{where}: error body is not JSON error/detail: {response.content[:300]!r}")
    written = set(LedgerEntry.objects.filter(seq__gt=last_seq).values_list("action", flat=True))
    if {**after, "audit.LedgerEntry": 0} != {**before, "audit.LedgerEntry": 0} or written - REFUSAL_ACTIONS:
        count(caller, "state_left")
        changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        findings.append(f"{where}: refusal left state {changed} ledger {sorted(written)}")


def test_every_operation_with_every_caller(
    identities: dict[str, Any], one_connection: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from config.wsgi import application

    known_ids = identities.pop("known ids")
    LAST_SNAPSHOT.clear()
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/schema", application)
    findings: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20  # the whole API, not a schema that failed to load
    assert_each_role_is_recognised(operations, identities)
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
                for caller, identity in identities.items():
                    check_one_call(case, caller, identity, findings)

            try:
                run()
            except Unsatisfiable:
                STATS["strategies without cases"] += 1  # e.g. no input to make invalid
        STATS["operations"] += 1
    with capsys.disabled():
        print("\n" + summary(list(identities)))
    assert not findings, "\n".join(findings[:40])
