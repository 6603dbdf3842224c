"""Every URL the service serves answers every principal as the README's roles table says.

tests/complaints/test_authorisation.py walks the complaint API and test_pages.py the complaint
pages; this file walks the rest (the pages' forms, the DPO's decision, step-up, sign-in, audit,
operations, purge runs, the recorder API called with a staff session, the schema, /metrics and
the admin) and checks that no route Django serves is left without a row in one of the three.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import uuid4

import pytest
from axes.models import AccessFailureLog
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from audit.exports import ExportFilters
from audit.models import LedgerEntry
from audit.services import create_export
from tests.complaints import test_pages
from tests.complaints.test_authorisation import (
    ENDPOINTS,
    PRINCIPALS,
    REFUSED_UNAUTHENTICATED,
    client_for,
    complaint_world,
    expect,
    fill,
)
from tests.factories import SessionPayload, controlled_session, iso
from tests.staff import PASSWORD, Staff

# The complaint tests' world: staff of every role, sessions recorded through the API, local store.
pytestmark = [pytest.mark.django_db, pytest.mark.local_store]

STAFF = PRINCIPALS[2:]
NO_SESSION = ("anonymous", "recorder_token")
SENT_TO_SIGN_IN = {"anonymous": 302, "recorder_token": 302}  # pages: login_required
LOG_UNAUTHENTICATED = {"anonymous": 401, "recorder_token": 401}  # the ledger's log: a read token


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(PRINCIPALS, status)


def only(allowed: dict[str, int], *, others: int, base: dict[str, int]) -> dict[str, int]:
    """`allowed` for the principals named, `others` for the rest of the staff."""
    return expect(base, **{**dict.fromkeys(STAFF, others), **allowed})


AUDITORS = {"auditor": 200, "superuser": 200}  # audit.view_ledgerentry: the role, or Django's superuser


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str  # formatted with the world's ids
    expected: dict[str, int]
    state: str = "open"  # "open" | "pending" | "exported": how far the world has come
    body: Any = None  # dict: form or JSON (see `kind`); bytes: a raw upload
    kind: str = "form"  # "form" | "json" | "raw"
    remote_addr: str = ""
    effect: str = ""  # the ledger action each success writes, and only a success

    def successes(self) -> int:
        """Callers whose answer is the action done (a 3xx to a caller with no session is sign-in)."""
        return sum(
            1
            for principal, status in self.expected.items()
            if status < 300 or (status < 400 and principal not in NO_SESSION)
        )


ROWS = [
    # --- the staff home and sign-in ---
    Row("home", "GET", "/", expect(SENT_TO_SIGN_IN, **dict.fromkeys(STAFF, 200))),
    Row("sign-in page", "GET", "/accounts/login/", expect({}, anonymous=200, recorder_token=200,
        **dict.fromkeys(STAFF, 302))),
    # Anyone may sign in (302 to the home page); a signed-in user is sent on without a form.
    Row("sign in", "POST", "/accounts/login/", everyone(302),
        body={"username": "olivia", "password": PASSWORD}),
    # Django's form view answers PUT as POST, but a PUT body is not parsed: the form is shown again.
    Row("sign in with PUT", "PUT", "/accounts/login/", expect({}, anonymous=200, recorder_token=200,
        **dict.fromkeys(STAFF, 302)), body={"username": "olivia", "password": PASSWORD}),
    Row("sign out", "POST", "/accounts/logout/", everyone(302)),
    # The password alone steps up the roles without a second factor; officers and DPOs need a code
    # too (tests/staff_accounts/test_second_factor.py), so the password alone is refused (400).
    Row("step-up", "POST", "/accounts/step-up/",
        expect(everyone(302), officer=400, other_officer=400, dpo=400),
        body={"password": PASSWORD, "next": "/"}, effect="auth.stepped_up"),
    # The owner's authenticator (officers and DPOs): the page shows a new secret until confirmed;
    # a POST without a code shows it again.
    Row("second factor page", "GET", "/accounts/second-factor/",
        only({"officer": 200, "other_officer": 200, "dpo": 200}, others=403, base=SENT_TO_SIGN_IN)),
    Row("second factor enrolment", "POST", "/accounts/second-factor/",
        only({"officer": 200, "other_officer": 200, "dpo": 200}, others=403, base=SENT_TO_SIGN_IN),
        body={"code": ""}),
    # The owner's own password, for every role and a superuser: a wrong
    # old password shows the form again; a PUT body is not parsed, so the form is shown again.
    Row("password change page", "GET", "/accounts/password/",
        only(dict.fromkeys(STAFF, 200), others=403, base=SENT_TO_SIGN_IN)),
    Row("password change", "POST", "/accounts/password/",
        only(dict.fromkeys(STAFF, 200), others=403, base=SENT_TO_SIGN_IN),
        body={"old_password": "not it", "new_password1": "x", "new_password2": "x"}),
    Row("password change with PUT", "PUT", "/accounts/password/",
        only(dict.fromkeys(STAFF, 200), others=403, base=SENT_TO_SIGN_IN),
        body={"old_password": "not it"}),
    Row("password changed page", "GET", "/accounts/password/done/",
        only(dict.fromkeys(STAFF, 200), others=403, base=SENT_TO_SIGN_IN)),
    # Notification preferences: every signed-in staff member, a superuser without a role too (the
    # language only); not a ledgered change (tests/notifications/test_preferences.py).
    Row("notification preferences page", "GET", "/accounts/notifications/",
        only(dict.fromkeys(STAFF, 200), others=403, base=SENT_TO_SIGN_IN)),
    Row("notification preferences", "POST", "/accounts/notifications/",
        only(dict.fromkeys(STAFF, 302), others=403, base=SENT_TO_SIGN_IN), body={"language": "de"}),
    # The header's language switch (Django's set_language), for everyone, signed in or not: the
    # choice goes into the language cookie and the reader returns to `next` (302). A GET changes
    # nothing and sends the reader on as well.
    Row("language switch", "POST", "/i18n/setlang/", everyone(302), body={"language": "de", "next": "/"}),
    Row("language switch opened directly", "GET", "/i18n/setlang/?next=/", everyone(302)),
    # --- complaint pages' forms (their GETs are in test_pages.py) ---
    Row("open a case (page)", "POST", "/cases/new/",
        only({"officer": 302, "other_officer": 302}, others=403, base=SENT_TO_SIGN_IN),
        body={"action": "open", "customer_ref": "CUST-4711", "channel": "phone", "complaint": "Again.",
              "sessions": ["{spare}"]}, effect="case.opened"),
    Row("request access (page)", "POST", "/cases/{case}/request-access/",
        only({"officer": 302, "other_officer": 404}, others=403, base=SENT_TO_SIGN_IN),
        body={"justification": "The customer names this session."}, effect="case.access_requested"),
    Row("close a case (page)", "POST", "/cases/{case}/close/",
        only({"officer": 302, "other_officer": 404}, others=403, base=SENT_TO_SIGN_IN),
        body={"outcome": "withdrawn", "summary": "The customer withdrew."}, effect="case.closed"),
    Row("decide (page)", "POST", "/cases/approvals/{request}/decide/",
        only({"dpo": 302}, others=403, base=SENT_TO_SIGN_IN),
        state="pending", body={"decision": "approve", "reason": "Justified."}, effect="case.access_approved"),
    # --- operations and audit pages ---
    Row("operations dashboard", "GET", "/operations/",
        only({"operator": 200, "superuser": 200}, others=403, base=SENT_TO_SIGN_IN)),
    Row("audit ledger page", "GET", "/audit/", only(AUDITORS, others=403, base=SENT_TO_SIGN_IN)),
    Row("export (page)", "POST", "/audit/exports/",
        only({"auditor": 302, "superuser": 302}, others=403, base=SENT_TO_SIGN_IN), effect="ledger.exported"),
    Row("export page", "GET", "/audit/exports/{export}/",
        only(AUDITORS, others=403, base=SENT_TO_SIGN_IN), state="exported"),
    # --- data-subject requests: data protection officers only ---
    Row("subject requests page", "GET", "/privacy/", only({"dpo": 200}, others=403, base=SENT_TO_SIGN_IN)),
    Row("access report (page)", "POST", "/privacy/", only({"dpo": 200}, others=403, base=SENT_TO_SIGN_IN),
        body={"customer_ref": "CUST-4711"}, effect="subject.access_reported"),
    Row("access report download", "POST", "/privacy/access-report.json",
        only({"dpo": 200}, others=403, base=SENT_TO_SIGN_IN), body={"customer_ref": "CUST-4711"},
        effect="subject.access_reported"),
    Row("erasure (page)", "POST", "/privacy/erasure/", only({"dpo": 302}, others=403, base=SENT_TO_SIGN_IN),
        body={"customer_ref": "CUST-NOBODY", "ground": "objection"}, effect="subject.erased"),
    Row("access report (API)", "POST", "/api/v1/subject-requests/access-report",
        only({"dpo": 200}, others=403, base=REFUSED_UNAUTHENTICATED), body={"customer_ref": "CUST-4711"},
        kind="json", effect="subject.access_reported"),
    Row("erasure (API)", "POST", "/api/v1/subject-requests/erasure",
        only({"dpo": 200}, others=403, base=REFUSED_UNAUTHENTICATED),
        body={"customer_ref": "CUST-NOBODY", "ground": "objection"}, kind="json", effect="subject.erased"),
    # --- machines: metrics and the schema ---
    # /metrics opens by address or bearer token, never by a staff session.
    Row("metrics from the monitoring address", "GET", "/metrics", everyone(200)),
    Row("metrics from elsewhere", "GET", "/metrics", everyone(403), remote_addr="203.0.113.9"),
    Row("OpenAPI schema", "GET", "/api/v1/schema", everyone(200)),
    # --- the recorder API: the token only; a staff session is no credential here ---
    Row("register a session", "POST", "/api/v1/sessions", expect(everyone(401), recorder_token=201),
        body=SessionPayload(), kind="json", effect="session.registered"),
    Row("session detail", "GET", "/api/v1/sessions/{spare}", expect(everyone(401), recorder_token=200)),
    Row("session event", "POST", "/api/v1/sessions/{spare}/events",
        expect(everyone(401), recorder_token=201),
        body={"type": "scope_changed", "at": "{now}", "view": True, "control": False}, kind="json",
        effect="session.rights_changed"),
    Row("upload a recording", "PUT", "/api/v1/sessions/{fresh}/recording",
        expect(everyone(401), recorder_token=201), body=b"\x1aE\xdf\xa3" + bytes(2000), kind="raw",
        effect="recording.ingested"),
    # --- staff API outside the complaint workflow ---
    Row("purge runs", "GET", "/api/v1/purge-runs",
        only({"auditor": 200, "operator": 200, "superuser": 200}, others=403, base=REFUSED_UNAUTHENTICATED)),
    Row("ledger public key", "GET", "/api/v1/audit/public-key", everyone(200)),
    Row("ledger head", "GET", "/api/v1/audit/head",
        only(AUDITORS, others=403, base=REFUSED_UNAUTHENTICATED), state="exported"),
    Row("export (API)", "POST", "/api/v1/audit/exports",
        only({"auditor": 201, "superuser": 201}, others=403, base=REFUSED_UNAUTHENTICATED),
        body={"action": "case.opened"}, kind="json", effect="ledger.exported"),
    Row("export detail", "GET", "/api/v1/audit/exports/{export}",
        only(AUDITORS, others=403, base=REFUSED_UNAUTHENTICATED), state="exported"),
    Row("export manifest", "GET", "/api/v1/audit/exports/{export}/manifest.json",
        only(AUDITORS, others=403, base=REFUSED_UNAUTHENTICATED), state="exported"),
    Row("export entries.jsonl", "GET", "/api/v1/audit/exports/{export}/entries.jsonl",
        only(AUDITORS, others=403, base=REFUSED_UNAUTHENTICATED), state="exported"),
    Row("export texts.json", "GET", "/api/v1/audit/exports/{export}/texts.json",
        only(AUDITORS, others=403, base=REFUSED_UNAUTHENTICATED), state="exported"),
    Row("export entries.csv", "GET", "/api/v1/audit/exports/{export}/entries.csv",
        only(AUDITORS, others=403, base=REFUSED_UNAUTHENTICATED), state="exported"),
    # The transparency-log reads: auditors or LEDGER_READ_TOKEN (tests/audit/test_checkpoint.py);
    # any other bearer token, a recorder's included, is refused as a wrong read token (401).
    Row("ledger checkpoint", "GET", "/api/v1/audit/checkpoint",
        only(AUDITORS, others=403, base=LOG_UNAUTHENTICATED), state="exported"),
    Row("ledger tile", "GET", "/api/v1/audit/tile/0/000.p/1",
        only(AUDITORS, others=403, base=LOG_UNAUTHENTICATED), state="exported"),
    Row("ledger inclusion proof", "GET", "/api/v1/audit/proofs/inclusion?seq=1",
        only(AUDITORS, others=403, base=LOG_UNAUTHENTICATED), state="exported"),
    Row("ledger consistency proof", "GET", "/api/v1/audit/proofs/consistency?first=0",
        only(AUDITORS, others=403, base=LOG_UNAUTHENTICATED), state="exported"),
]  # fmt: skip


def route_world(staff: Staff, make_session, recorder_client, state: str) -> dict[str, str]:
    ids = complaint_world(staff, make_session, "pending" if state == "pending" else "open")
    ids["fresh"] = controlled_session(recorder_client[0], external_id="fresh", customer_ref="CUST-4711")
    ids["now"] = iso(datetime.now(UTC))
    if state == "exported":
        ids["export"] = str(create_export(user=staff.auditor, filters=ExportFilters()).id)
    return ids


def send(client: Client, method: str, path: str, body: Any, kind: str, **extra: Any) -> Any:
    if method == "GET":
        return client.get(path, **extra)
    if kind == "raw":
        data, content_type = body, "video/webm"
    elif kind == "json":
        data, content_type = json.dumps(body), "application/json"
    else:
        data, content_type = urlencode(body or {}, doseq=True), "application/x-www-form-urlencoded"
    csrf = client.cookies["csrftoken"].value if "csrftoken" in client.cookies else ""
    return client.generic(method, path, data, content_type=content_type, HTTP_X_CSRFTOKEN=csrf, **extra)


def refusals_first(expected: dict[str, int]) -> list[str]:
    """Principals refused come first: a refusal must change nothing the allowed caller then needs."""
    return sorted(PRINCIPALS, key=lambda principal: expected[principal] < 400)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_every_route_answers_every_principal_as_the_roles_table_says(
    row: Row, staff, make_session, recorder_client
) -> None:
    # One world per row and all eight principals in it: a world per (row, principal) is a few
    # minutes of sealing, and the whole answer table reads better in a failure than one cell.
    # No refusal here is an `access.denied` entry: only the complaint workflow writes those
    # (test_authorisation.py checks them); the ledger check below is the effect of a success.
    ids = route_world(staff, make_session, recorder_client, row.state)
    extra = {"REMOTE_ADDR": row.remote_addr} if row.remote_addr else {}
    done = 0
    answers = {}
    for principal in refusals_first(row.expected):
        # Signing officers and DPOs in steps them up (auth.stepped_up): not the row's effect.
        client = client_for(principal, staff, recorder_client)
        done_before = LedgerEntry.objects.filter(action=row.effect).count()
        answer = send(client, row.method, fill(row.path, ids), fill(row.body, ids), row.kind, **extra)
        done += LedgerEntry.objects.filter(action=row.effect).count() - done_before
        answers[principal] = answer.status_code
        if row.path.startswith("/api/") and answer.status_code >= 400:
            body = answer.json()
            assert set(body) == {"error", "detail"} and body["detail"], (principal, body)
    assert answers == row.expected
    if row.effect:  # the successes did it, and no refusal did
        assert done == row.successes(), f"{row.effect}: {done} entries"


# --- the admin: rows made from its registry ---------------------------------------------------

ADMIN_STAFF = ("operator", "superuser")  # add_staff makes only operators is_staff
# What an operator's role lets them read in the admin: sessions and recordings, metadata only.
OPERATOR_READS = {"recorder.session", "recorder.recording"}
# Nobody adds, changes or deletes through the admin (ReadOnlyAdmin), except a superuser managing
# accounts (auth.user; every change of someone's role is a ledger entry) and sign-in lockouts
# (axes: deleting an attempt lifts a lockout; none is added). Role groups follow staff.roles.
SUPERUSER_ADDS = {"auth.user"}
SUPERUSER_DELETES = SUPERUSER_ADDS | {"axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}


@dataclass(frozen=True)
class AdminRow:
    kind: str
    path: str  # formatted with the world's admin ids
    method: str = "GET"
    model: str = ""  # "app_label.model_name"
    apps: frozenset[str] = field(default_factory=frozenset)  # for the app index: the app's models


def admin_rows() -> list[AdminRow]:
    rows = [
        AdminRow("index", "/admin/"),
        AdminRow("login", "/admin/login/"),
        AdminRow("logout", "/admin/logout/", method="POST"),
        AdminRow("password_change", "/admin/password_change/"),
        AdminRow("password_change_done", "/admin/password_change/done/"),
        AdminRow("autocomplete", "/admin/autocomplete/"),
        AdminRow("jsi18n", "/admin/jsi18n/"),
        AdminRow("view_on_site", "/admin/r/{content_type}/{recorder_session}/"),
        AdminRow("catch_all", "/admin/no-such-page/"),
    ]
    apps: dict[str, set[str]] = {}
    for model in admin.site._registry:
        opts = model._meta
        label, key = f"{opts.app_label}.{opts.model_name}", f"{opts.app_label}_{opts.model_name}"
        apps.setdefault(opts.app_label, set()).add(label)
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        rows += [
            AdminRow("changelist", base, model=label),
            AdminRow("add", base + "add/", model=label),
            AdminRow("history", base + f"{{{key}}}/history/", model=label),
            AdminRow("delete", base + f"{{{key}}}/delete/", model=label),
            AdminRow("change", base + f"{{{key}}}/change/", model=label),
            AdminRow("object", base + f"{{{key}}}/", model=label),
        ]
        if label == "auth.user":
            rows.append(AdminRow("password", base + f"{{{key}}}/password/", model=label))
    rows += [AdminRow("app_index", f"/admin/{app}/", apps=frozenset(labels)) for app, labels in apps.items()]
    return rows


def admin_expected(row: AdminRow, principal: str) -> int:
    if principal not in ADMIN_STAFF:
        return 200 if row.kind == "login" else 302  # to the admin's sign-in
    superuser = principal == "superuser"
    reads = superuser or row.model in OPERATOR_READS
    statuses = {
        "index": 200, "login": 302, "logout": 302, "password_change": 200, "password_change_done": 200,
        "jsi18n": 200, "catch_all": 404,
        "autocomplete": 403,  # no field to complete: refused, whoever asks
        "view_on_site": 404,  # no model has a public page
        "app_index": 200 if superuser or row.apps & OPERATOR_READS else 404,
        "changelist": 200 if reads else 403,
        "history": 200 if reads else 403,
        "change": 200 if reads else 403,  # read-only forms
        "object": 302,  # to the change page, which decides
        "add": 200 if superuser and row.model in SUPERUSER_ADDS else 403,
        "delete": 200 if superuser and row.model in SUPERUSER_DELETES else 403,
        "password": 200 if superuser else 403,
    }  # fmt: skip
    return statuses[row.kind]


def admin_world(staff: Staff, make_session, recorder_client) -> dict[str, str]:
    complaint_world(staff, make_session, "granted")
    # A sign-in, then a failed one (a success clears the failures): the sign-in throttle's (axes)
    # rows for its admin pages. Its failure log is off by default; one row stands in for it.
    Client().post("/accounts/login/", {"username": "olivia", "password": PASSWORD})
    Client().post("/accounts/login/", {"username": "olivia", "password": "wrong"})
    AccessFailureLog.objects.create(username="olivia", ip_address="127.0.0.1", user_agent="", path_info="/")
    ids = {}
    for model in admin.site._registry:
        first = model._default_manager.order_by("pk").first()
        assert first is not None, f"no {model._meta.label} row for the admin's object pages"
        ids[f"{model._meta.app_label}_{model._meta.model_name}"] = str(first.pk)
    ids["content_type"] = str(ContentType.objects.get(app_label="recorder", model="session").id)
    return ids


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_admin_page_answers_as_the_roles_table_says(
    principal: str, staff, make_session, recorder_client
) -> None:
    ids = admin_world(staff, make_session, recorder_client)
    rows = sorted(admin_rows(), key=lambda row: row.kind == "logout")  # signing out last
    client = client_for(principal, staff, recorder_client)
    answers, expected = {}, {}
    for row in rows:
        answer = send(client, row.method, fill(row.path, ids), None, "form")
        answers[row.path], expected[row.path] = answer.status_code, admin_expected(row, principal)
    assert answers == expected


# --- no route without a row ------------------------------------------------------------------


def served_routes(
    patterns: list[URLPattern | URLResolver] | None = None, prefix: str = ""
) -> Iterator[tuple[str, Callable[..., Any]]]:
    """(route, view) for every URL pattern, spelled as `resolve(path).route` spells it."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern).removeprefix("^")
        if isinstance(pattern, URLResolver):
            yield from served_routes(pattern.url_patterns, route)
        else:
            yield route, pattern.callback


def accepted_methods(route: str, view: Callable[..., Any]) -> set[str]:
    """The methods a route's view handles. HEAD (GET's) and OPTIONS (the framework's) are left out."""
    if route.startswith("admin/"):
        # The admin's forms post behind the same permission checks as their GETs: a GET row each
        # says who reaches them. Sign-out is POST only.
        return {"POST"} if route == "admin/logout/" else {"GET"}
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return {
            method.upper()
            for method in view_class.http_method_names
            if method not in ("head", "options") and hasattr(view_class, method)
        }
    wrapper: Any = view
    while wrapper is not None:  # require_http_methods keeps its list in the closure
        cells = dict(zip(wrapper.__code__.co_freevars, wrapper.__closure__ or (), strict=True))
        if "request_method_list" in cells:
            return set(cells["request_method_list"].cell_contents)
        wrapper = getattr(wrapper, "__wrapped__", None)
    # No method decorator: the view answers GET, and POST when it reads a posted form.
    return {"GET", "POST"} if "request.POST" in inspect.getsource(inspect.unwrap(view)) else {"GET"}


PLACEHOLDERS = {"case": str(uuid4()), "recording": str(uuid4()), "request": str(uuid4()),
                "spare": str(uuid4()), "fresh": str(uuid4()), "export": str(uuid4()), "now": ""}  # fmt: skip
# test_pages.py names its pages; their paths, to find their routes.
PAGE_PATHS = {
    "case-list": "/cases/",
    "case-new": "/cases/new/",
    "case-detail": "/cases/{case}/",
    "request-access": "/cases/{case}/request-access/",
    "case-close": "/cases/{case}/close/",
    "player": "/cases/{case}/recordings/{recording}/play/",
    "approval-queue": "/cases/approvals/",
}


def route_of(path: str) -> str:
    return str(resolve(urlsplit(path).path).route)


def rows_by_route() -> set[tuple[str, str]]:
    assert set(PAGE_PATHS) == set(test_pages.EXPECTED)
    admin_ids = {
        key: "1" for model in admin.site._registry for key in [model._meta.label_lower.replace(".", "_")]
    }
    rows = [(row.method, row.path.format(**PLACEHOLDERS)) for row in ROWS]
    rows += [(endpoint.method, endpoint.path.format(**PLACEHOLDERS)) for endpoint in ENDPOINTS]
    rows += [("GET", path.format(**PLACEHOLDERS)) for path in PAGE_PATHS.values()]
    rows += [(row.method, row.path.format(content_type="1", **admin_ids)) for row in admin_rows()]
    return {(route_of(path), method) for method, path in rows}


def test_every_route_django_serves_has_a_row() -> None:
    served = {(route, method) for route, view in served_routes() for method in accepted_methods(route, view)}
    covered = rows_by_route()
    missing = sorted(served - covered)
    assert not missing, f"routes without a row in a roles table (route, method): {missing}"
    assert not covered - served, f"rows for routes or methods nobody serves: {sorted(covered - served)}"
