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
