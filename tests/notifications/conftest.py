"""A real SMTP server (aiosmtpd, in a thread of the test process, on a free port) that the
service's SMTP backend talks to, and Celery tasks run in the test process as the suite runs its
other tasks (eager: `.delay()` runs the task here, retries included, without the back-off wait)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from config.celery import app
from tests.conftest import free_port

# What the fixtures' complaint holds that no e-mail may carry (tests/complaints/conftest.py's world).
CUSTOMER_REF = "CUST-4711"
COMPLAINT = "The agent changed my settings."
JUSTIFICATION = "Needed."


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())


@dataclass
class Inbox:
    """aiosmtpd's handler: keeps what it accepts; answers 451 (try again later) to the next
    `refuse_next` messages."""

    received: list[Received] = field(default_factory=list)
    refuse_next: int = 0
    refused: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refused += 1
            return "451 4.3.0 Try again later"
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [message for message in self.received if address in message.recipients]

    def addressees(self) -> list[str]:
        return sorted(address for message in self.received for address in message.recipients)


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    settings.VAULT_PUBLIC_URL = "https://vault.example.org"
    settings.DEFAULT_FROM_EMAIL = "vault@example.org"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield inbox
    finally:
        app.conf.task_always_eager = eager
        controller.stop()


@pytest.fixture
def addressed(staff) -> Any:
    """The workflow's staff with e-mail addresses (the superuser's is root@example.org)."""
    people = (staff.officer, staff.other_officer, staff.dpo, staff.other_dpo, staff.auditor, staff.operator)
    for user in people:
        user.email = f"{user.username}@staff.example.org"
        user.save(update_fields=["email"])
    return staff


def assert_no_personal_data(inbox: Inbox, *secrets: str) -> None:
    """No message carries a customer reference, complaint or justification text, in any encoding."""
    for message in inbox.received:
        text = message.raw + message.body.encode() + message.subject.encode()
        for secret in (CUSTOMER_REF, COMPLAINT, JUSTIFICATION, *secrets):
            assert secret.encode() not in text, f"{secret!r} in a message to {message.recipients}"


@dataclass
class Case:
    case: Any
    session: Any  # recorder.Session: its external id and agent reference must not travel either
    recording_id: str

    @property
    def short(self) -> str:
        return str(self.case.id)[:8]

    def secrets(self) -> tuple[str, ...]:
        return (self.session.external_id, self.session.agent_ref, self.recording_id)


@pytest.fixture
def opened(addressed, make_session) -> Case:
    """A case of CUST-4711 opened by the officer on one recorded session (no request yet)."""
    from complaints import services
    from recorder.models import Session

    recorded = make_session(CUSTOMER_REF)
    case = services.open_case(
        officer=addressed.officer, customer_ref=CUSTOMER_REF, channel="phone",
        complaint=COMPLAINT, session_ids=[recorded.session_id],
    )  # fmt: skip
    return Case(case, Session.objects.get(id=recorded.session_id), str(recorded.recording_id))


def request_access(staff: Any, opened: Case, django_capture_on_commit_callbacks: Any) -> Any:
    """The officer's request, committed (its on-commit deliveries run)."""
    from complaints import services

    with django_capture_on_commit_callbacks(execute=True):
        return services.request_access(
            officer=staff.officer, case_id=opened.case.id, justification=JUSTIFICATION
        )
