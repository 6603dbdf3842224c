"""Every text a person reads on a staff page, and every JSON error's `detail`, is marked for
translation: rendered in a pseudo-language (tests/i18n/pseudo.py) where each marked string comes
out as ⟦string⟧, nothing is left outside the markers but data the test's world created (user
names, references, ids), numbers, times (a `<time>` element) and a few symbols.

It walks every row of tests/test_every_url.py (its world, principals and answers) and the
complaint pages of tests/complaints/test_pages.py, each as every principal, plus the error pages.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from complaints.models import AccessRequest, ComplaintCase
from recorder.models import Recording, Session
from retention.models import LegalHold
from tests import test_every_url as walk
from tests.complaints.test_authorisation import PRINCIPALS, client_for, complaint_world, fill
from tests.i18n.pseudo import CLOSE, OPEN, PSEUDO, pseudo_language, unmarked
from tests.staff import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]

# Not words of any language a reader would need translated: white space and these symbols (the
# quotation marks, the breadcrumb's arrow, the dashes, the multiplication sign and the arrows,
# written as escapes for the linter) part words.
SEPARATORS = "\\s\u201c\u201d\u201e\u203a\u00b7\u2013\u2014\u2026\u2192\u2190\u00d7:;,.()\\[\\]/|#%+*=<>?!'\""
# Each language is named in itself on the switch, the same in every language.
AUTONYMS = {"English", "Deutsch", "Pseudo"}
# Parts of a page that are data, not text: times (their own test), ids and commands.
DATA_ELEMENTS = {"time", "code", "script", "style", "textarea"}
TOKEN = re.compile(f"[^{SEPARATORS}]+")


class VisibleText(HTMLParser):
    """The text a person reads: text nodes and the attributes that show, outside data: a data
    element, or one the page marks `translate="no"` (HTML's own mark for content that stays as it
    is in every language), with everything inside it, attributes included."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, data?) of each element not yet closed

    def in_data(self) -> bool:
        return any(data for _, data in self.open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        data = tag in DATA_ELEMENTS or values.get("translate") == "no"
        if not (data or self.in_data()):
            for name in ("title", "placeholder", "aria-label", "alt"):
                if values.get(name):
                    self.parts.append(f" {values[name]} ")
            if tag == "input" and values.get("type") in ("submit", "button", "reset") and values.get("value"):
                self.parts.append(f" {values['value']} ")
        if tag not in self.VOID:
            self.open.append((tag, data))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID or all(name != tag for name, _ in self.open):
            return  # `<br/>`, or a stray end tag
        while self.open.pop()[0] != tag:
            pass  # an element the page left unclosed (a <p> or <li>) ends with its parent

    def handle_data(self, data: str) -> None:
        self.parts.append(" ∅ " if self.in_data() else data)


def world_data() -> set[str]:
    """Every word the test's world itself wrote: user names, references, free texts, ids."""
    texts: list[str] = list(get_user_model().objects.values_list("username", flat=True))
    for session in Session.objects.all():
        texts += [
            str(session.id),
            session.external_id or "",
            session.customer_ref or "",
            session.agent_ref or "",
        ]
    for case in ComplaintCase.objects.all():
        texts += [str(case.id), case.customer_ref or "", case.complaint or "", case.summary or ""]
    for request in AccessRequest.objects.all():
        texts += [str(request.id), request.justification or "", request.reason or ""]
    texts += [str(recording_id) for recording_id in Recording.objects.values_list("id", flat=True)]
    texts += list(LegalHold.objects.filter(case_id=None).values_list("reason", flat=True))  # via the API
    texts += ["CUST-4711", "CUST-NOBODY"]  # references the walk posts
    return {token for text in texts for token in TOKEN.findall(text)}


def leftovers(text: str, data: set[str]) -> list[str]:
    """The words of `text` outside every marker that are neither data, numbers nor symbols."""
    rest = unmarked(text)
    assert OPEN not in rest and CLOSE not in rest, f"unbalanced markers in {text!r}"
    return [
        token
        for token in TOKEN.findall(rest)
        if token not in data and token not in AUTONYMS and token != "∅" and not token.isdigit()
        and not re.fullmatch(r"[0-9a-f]{6,}", token)
    ]  # fmt: skip


def page_leftovers(html: str, data: set[str]) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return leftovers(" ".join(parser.parts), data)


def check(answer: Any, path: str, data: set[str], where: str) -> list[str]:
    """Complaints about one answer: a page's unmarked words, or a JSON error's unmarked detail."""
    content_type = answer.get("Content-Type", "")
    if answer.status_code in (301, 302, 204) or getattr(answer, "streaming", False):
        return []
    if content_type.startswith("text/html"):
        found = page_leftovers(answer.content.decode(), data)
        assert f'lang="{PSEUDO}"' in answer.content.decode(), f"{where}: not rendered in the pseudo-language"
        return [f"{where}: {found}"] if found else []
    if content_type.startswith("application/json") and answer.status_code >= 400:
        detail = json.loads(answer.content)["detail"]
        found = leftovers(detail, data)
        return [f"{where}: detail {detail!r}"] if found else []
    return []


@pytest.fixture
def pseudo(tmp_path: Path):
    with pseudo_language(tmp_path / "locale"):
        yield


def pseudo_client(client: Client) -> Client:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = PSEUDO
    client.defaults["HTTP_ACCEPT"] = "text/html,application/xhtml+xml,*/*;q=0.8"
    return client


@pytest.mark.parametrize("state", ["open", "pending", "exported"])
def test_every_page_and_error_of_the_url_walk_is_marked(
    state: str, pseudo, staff, make_session, recorder_client
) -> None:
    ids = walk.route_world(staff, make_session, recorder_client, state)
    problems: list[str] = []
    for row in walk.ROWS:
        if row.state != state or row.effect.startswith("auth.stepped_up"):
            continue
        for principal in PRINCIPALS:
            client = pseudo_client(client_for(principal, staff, recorder_client))
            # Signing in steps officers up, in English: that request's message is shown on the
            # next page, so one page takes it before the row's.
            client.get("/")
            extra = {"REMOTE_ADDR": row.remote_addr} if row.remote_addr else {}
            path = fill(row.path, ids)
            answer = walk.send(client, row.method, path, fill(row.body, ids), row.kind, **extra)
            # The world as it is after the row: a row may have written data the page shows.
            problems += check(answer, path, world_data(), f"{row.method} {path} as {principal}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("state", ["open", "pending", "granted"])
def test_every_complaint_page_is_marked_for_every_principal(
    state: str, pseudo, staff, make_session, recorder_client
) -> None:
    """The officer's and the DPO's pages (tests/complaints/test_pages.py), with a case awaiting a
    request, awaiting approval, and approved (the player), as each principal."""
    ids = complaint_world(staff, make_session, state)
    data = world_data()
    problems: list[str] = []
    for principal in PRINCIPALS:
        client = pseudo_client(client_for(principal, staff, recorder_client))
        client.get("/")  # takes the (English) message of signing in and stepping up
        for path in (fill(path, ids) for path in walk.PAGE_PATHS.values()):
            problems += check(client.get(path), path, data, f"GET {path} as {principal}")
    assert not problems, "\n".join(problems)


def test_the_sign_in_error_pages_and_the_pause_are_marked(pseudo, staff, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    data = world_data()
    anonymous = pseudo_client(Client())
    answers = {
        "sign-in page": anonymous.get("/accounts/login/"),
        "wrong password": anonymous.post("/accounts/login/", {"username": "olivia", "password": "wrong"}),
        "not found": pseudo_client(Client()).get("/no-such-page/"),
    }
    answers["paused"] = anonymous.post("/accounts/login/", {"username": "olivia", "password": "wrong"})
    assert answers["paused"].status_code == 429
    json_client = Client(HTTP_ACCEPT_LANGUAGE=PSEUDO, HTTP_ACCEPT="application/json")
    answers["paused (JSON)"] = json_client.post(
        "/accounts/login/", {"username": "olivia", "password": PASSWORD}
    )
    answers["not found (JSON)"] = json_client.get("/api/v1/no-such-thing")
    answers["method not allowed (JSON)"] = json_client.get("/privacy/erasure/")
    dpo = pseudo_client(client_for("dpo", staff, None))
    dpo.get("/")  # takes the (English) message of signing in and stepping up
    answers["method not allowed (page)"] = dpo.get("/privacy/erasure/")
    assert answers["method not allowed (page)"].status_code == 405
    problems = [found for name, answer in answers.items() for found in check(answer, name, data, name)]
    assert not problems, "\n".join(problems)
