"""One rule for "this grant is active": the database's filter and Python's check are made from the
same conditions (complaints.models), and agree on every grant around each boundary."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from complaints import selectors
from complaints.models import AccessGrant, AccessRequest, ComplaintCase

pytestmark = pytest.mark.django_db

OFFSETS = (timedelta(hours=-2), timedelta(microseconds=-1), timedelta(0), timedelta(microseconds=1))


def test_the_filter_and_the_check_agree_on_every_grant_around_each_boundary() -> None:
    officer = get_user_model().objects.create_user("officer")
    now = timezone.now().replace(microsecond=500_000)
    case = ComplaintCase.objects.create(
        customer_ref="CUST-1", customer_ref_hash="0" * 64, channel="phone", complaint="test",
        received_at=now, respond_by=now, opened_by=officer, opened_at=now,
    )  # fmt: skip
    grants = []
    for starts, ends, revoked in itertools.product(OFFSETS, (*OFFSETS, timedelta(hours=2)), (None, now)):
        if now + ends <= now + starts:
            continue  # the table refuses a grant that ends before it starts
        request = AccessRequest.objects.create(
            case=case, requester=officer, justification="test", requested_at=now, status="approved"
        )
        grants.append(
            AccessGrant.objects.create(
                case=case,
                request=request,
                grantee=officer,
                starts_at=now + starts,
                ends_at=now + ends,
                revoked_at=revoked,
            )
        )
    in_python = {grant.pk for grant in grants if grant.is_active(now)}
    in_the_database = set(AccessGrant.objects.active(now).values_list("pk", flat=True))
    assert in_python == in_the_database
    # Both kinds are present, so the comparison can fail: some active, some not.
    assert 0 < len(in_python) < len(grants)
    # The selector the pages use answers with an active grant exactly when one exists.
    found = selectors.active_grant(user=officer, case=case, at=now)
    assert found is not None and found.pk in in_python
