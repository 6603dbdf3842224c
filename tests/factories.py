"""factory_boy factories for API payloads and model rows used across the tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class ConsentPayload(factory.DictFactory):
    granted_at = factory.LazyFunction(lambda: iso(datetime.now(UTC) - timedelta(minutes=10)))
    view = True
    control = True


class SessionPayload(factory.DictFactory):
    """A valid `POST /api/v1/sessions` body: customer-initiated, consent before the start."""

    external_id = factory.Sequence(lambda n: f"ticket-{n:05d}")
    customer_ref = factory.Sequence(lambda n: f"CUST-{n:06d}")
    agent_ref = factory.Sequence(lambda n: f"agent-{n:03d}")
    initiated_by = "customer"
    started_at = factory.LazyFunction(lambda: iso(datetime.now(UTC) - timedelta(minutes=5)))
    consent = factory.SubFactory(ConsentPayload)


def controlled_session(client: object, *, external_id: str, customer_ref: str) -> str:
    """The id of a session registered for `client`, started 5 minutes ago with the customer's
    consent to view and control: one that may have a recording."""
    from recorder.services import register_session

    now = datetime.now(UTC)
    session = register_session(
        client=client, external_id=external_id, customer_ref=customer_ref, agent_ref="agent-1",
        initiated_by="customer", started_at=now - timedelta(minutes=5),
        consent_granted_at=now - timedelta(minutes=6), consent_view=True, consent_control=True,
    )  # fmt: skip
    return str(session.id)
