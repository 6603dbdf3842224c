"""The client's address behind our load balancer: in the ledger and in sign-in throttling, the
address the balancer saw, never one the client wrote into X-Forwarded-For."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from core.clients import client_address, throttled_address
from tests.staff import add_staff, sign_in

pytestmark = pytest.mark.django_db
BALANCER = "10.0.0.2"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "203.0.113.9", BALANCER),  # no proxy of ours: the header is the client's to forge
        (1, None, BALANCER),  # a call that did not come through the balancer
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "203.0.113.9, 198.51.100.7", "198.51.100.7"),  # the left entry is the client's own
        (2, "203.0.113.9, 198.51.100.7, 192.0.2.1", "198.51.100.7"),
        (2, "198.51.100.7", BALANCER),  # shorter than the proxies in front
        (1, "203.0.113.9, not-an-address", BALANCER),
    ],
)
def test_the_client_is_the_entry_the_outermost_proxy_of_ours_wrote(
    settings, count, forwarded, expected
) -> None:
    settings.TRUSTED_PROXY_COUNT = count
    headers = {"REMOTE_ADDR": BALANCER} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {})
    assert client_address(RequestFactory().get("/", **headers)) == expected


@pytest.mark.parametrize(
    ("peer", "counted"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:0:1:aaaa:bbbb:cccc:dddd", "2001:db8:0:1::"),  # the /64 a subscriber is given
        ("2001:db8:0:1::1", "2001:db8:0:1::"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4 written as IPv6
    ],
)
def test_throttling_counts_an_ipv6_client_by_its_64_and_the_ledger_keeps_the_address(peer, counted) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR=peer)
    assert throttled_address(request) == counted
    assert client_address(request) == peer


def test_behind_the_balancer_one_persons_failures_do_not_lock_out_another(settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    add_staff("dpo-on-call", "data_protection_officer")
    attacker = Client(enforce_csrf_checks=True, REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, "dpo-on-call", "guess-" + "x" * 12)
    assert sign_in(attacker, "dpo-on-call").status_code == 429
    # The same forged header is not the attacker's way out: the balancer appends the real address.
    forged = Client(
        enforce_csrf_checks=True, REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9"
    )
    assert sign_in(forged, "dpo-on-call").status_code == 429
    colleague = Client(enforce_csrf_checks=True, REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert sign_in(colleague, "dpo-on-call").status_code == 302  # signed in
