"""Sign-in throttling beyond one user name from one address (staff/signin_throttle.py): one
password sprayed over many user names from one address, and guesses at one user name spread over
many addresses, are paused; an office behind one address is not paused by its staff's typos; a
success clears only its own user name's failures from its own address; every pause looks alike."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from staff.signin_throttle import PAUSED
from tests.conftest import run_under_settings
from tests.staff import add_staff, sign_in

pytestmark = pytest.mark.django_db
WRONG = "guess-" + "x" * 12
ATTACKER = "203.0.113.9"
OFFICE = "198.51.100.20"  # a NAT address many staff share


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    # What is tested is counting failures; dozens of sign-ins need not each cost a slow hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_at(address: str) -> Client:
    """A browser whose requests come from `address` (TRUSTED_PROXY_COUNT is 0: the socket's)."""
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=address)


def is_signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def elsewhere(number: int) -> str:
    """The `number`th of many addresses (a botnet's), none of them the attacker's or the office's."""
    return f"192.0.2.{number}" if number < 200 else f"2001:db8::{number:x}"


def test_spraying_one_password_over_many_user_names_from_one_address_is_paused(settings) -> None:
    add_staff("ada", "auditor")
    add_staff("grace", "compliance_officer")
    limit = settings.SIGNIN_ADDRESS_FAILURE_LIMIT
    attacker = client_at(ATTACKER)
    # Each name is tried once, far below the per-name limit; names without an account count alike.
    names = ["ada", *(f"staff-{n}" for n in range(limit - 1))]
    answers = [sign_in(attacker, name, WRONG).status_code for name in names]
    assert answers == [200] * (limit - 1) + [429]
    # Now not even another account's right password gets in from that address.
    refused = sign_in(attacker, "grace")
    assert refused.status_code == 429 and b"Too many failed sign-ins" in refused.content
    assert not is_signed_in(attacker)
    # The names themselves are not paused: their owners sign in from their office.
    for name in ("ada", "grace"):
        assert sign_in(client_at(OFFICE), name).status_code == 302


def test_spraying_from_a_new_ipv6_address_of_one_64_each_time_is_paused(settings) -> None:
    """A subscriber's /64 holds 2**64 addresses: one per guess would never reach the address limit."""
    limit = settings.SIGNIN_ADDRESS_FAILURE_LIMIT
    answers = [
        sign_in(client_at(f"2001:db8:0:7::{n + 1:x}"), f"staff-{n}", WRONG).status_code for n in range(limit)
    ]
    assert answers == [200] * (limit - 1) + [429]
    assert sign_in(client_at("2001:db8:0:7:ffff::1"), "staff-new", WRONG).status_code == 429
    add_staff("ada", "auditor")
    assert sign_in(client_at("2001:db8:0:8::1"), "ada").status_code == 302  # the next /64 is another


def test_guessing_at_one_user_name_from_many_addresses_is_paused(settings) -> None:
    add_staff("dpo-on-call", "data_protection_officer")
    add_staff("ada", "auditor")
    limit = settings.SIGNIN_USERNAME_FAILURE_LIMIT
    # One guess from each address, far below the per-address limit, IPv4 and IPv6 alike.
    addresses = [elsewhere(n) for n in range(1, limit)] + [elsewhere(300)]
    answers = [sign_in(client_at(address), "dpo-on-call", WRONG).status_code for address in addresses]
    assert answers == [200] * (limit - 1) + [429]
    # Now not even the right password gets in, from an address that never failed before.
    fresh = client_at(elsewhere(150))
    assert sign_in(fresh, "dpo-on-call").status_code == 429
    assert not is_signed_in(fresh)
    # The addresses are not paused for other names.
    assert sign_in(client_at(elsewhere(1)), "ada").status_code == 302


def test_an_office_behind_one_address_is_paused_only_at_its_own_higher_limit(settings) -> None:
    limit = settings.SIGNIN_ADDRESS_FAILURE_LIMIT
    assert limit > 2 * settings.AXES_FAILURE_LIMIT  # the README's defaults: 20 and 5
    # Colleagues each mistype once or twice: one typo fewer than the address limit in all.
    typos = [2] * ((limit - 1) // 2) + [1] * ((limit - 1) % 2)
    colleagues = [f"colleague-{n}" for n in range(len(typos))]
    for name in [*colleagues, "late-starter"]:
        add_staff(name, "compliance_officer")
    for name, count in zip(colleagues, typos, strict=True):
        for _ in range(count):
            assert sign_in(client_at(OFFICE), name, WRONG).status_code == 200
    # Nobody is paused: a colleague who did not mistype signs in, and so does one who did.
    assert sign_in(client_at(OFFICE), "late-starter").status_code == 302
    assert sign_in(client_at(OFFICE), colleagues[-1]).status_code == 302
    # That sign-in cleared its own typos only; one more typo, and the limit pauses the address.
    extra = typos[-1] + 1
    answers = [sign_in(client_at(OFFICE), colleagues[0], WRONG).status_code for _ in range(extra)]
    assert answers == [200] * (extra - 1) + [429]
    assert sign_in(client_at(OFFICE), colleagues[1]).status_code == 429


def test_signing_into_ones_own_account_does_not_clear_a_spray_from_that_address(settings) -> None:
    add_staff("mallory", "auditor")
    limit = settings.SIGNIN_ADDRESS_FAILURE_LIMIT
    for n in range(limit - 2):
        assert sign_in(client_at(ATTACKER), f"staff-{n}", WRONG).status_code == 200
    assert sign_in(client_at(ATTACKER), "mallory", WRONG).status_code == 200  # one failure short
    assert sign_in(client_at(ATTACKER), "mallory").status_code == 302  # clears mallory's own only
    assert sign_in(client_at(ATTACKER), "staff-x", WRONG).status_code == 200
    assert sign_in(client_at(ATTACKER), "staff-y", WRONG).status_code == 429


def test_a_users_sign_in_clears_their_own_typos_but_not_guesses_at_their_name_from_elsewhere(
    settings,
) -> None:
    add_staff("dpo-on-call", "data_protection_officer")
    limit, pair_limit = settings.SIGNIN_USERNAME_FAILURE_LIMIT, settings.AXES_FAILURE_LIMIT
    assert limit > pair_limit  # the README's defaults: 10 and 5
    guesses = limit - pair_limit
    for n in range(1, guesses + 1):
        assert sign_in(client_at(elsewhere(n)), "dpo-on-call", WRONG).status_code == 200
    # The officer mistypes at the office, one failure short of every limit, then signs in.
    for _ in range(pair_limit - 1):
        assert sign_in(client_at(OFFICE), "dpo-on-call", WRONG).status_code == 200
    assert sign_in(client_at(OFFICE), "dpo-on-call").status_code == 302
    # Those typos are cleared: as many again pause nothing...
    for _ in range(pair_limit - 1):
        assert sign_in(client_at(OFFICE), "dpo-on-call", WRONG).status_code == 200
    # ...but the guesses from elsewhere still count: one more reaches the per-name limit.
    assert sign_in(client_at(elsewhere(guesses + 1)), "dpo-on-call", WRONG).status_code == 429
    assert sign_in(client_at(elsewhere(guesses + 2)), "dpo-on-call").status_code == 429


def test_guesses_at_a_name_from_elsewhere_do_not_keep_its_owner_out_where_they_signed_in_before(
    settings,
) -> None:
    """Anyone who knows a user name can pause it from anywhere; not at the owner's usual desk."""
    add_staff("dpo-on-call", "data_protection_officer")
    assert sign_in(client_at(OFFICE), "dpo-on-call").status_code == 302
    for n in range(1, settings.SIGNIN_USERNAME_FAILURE_LIMIT + 3):
        sign_in(client_at(elsewhere(n)), "dpo-on-call", WRONG)
    assert sign_in(client_at(elsewhere(150)), "dpo-on-call").status_code == 429
    at_the_office = client_at(OFFICE)
    assert sign_in(at_the_office, "dpo-on-call").status_code == 302 and is_signed_in(at_the_office)
    # The pair's own limit still holds there: guessing from the office itself is paused.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = sign_in(client_at(OFFICE), "dpo-on-call", WRONG)
    assert answer.status_code == 429


def test_every_pause_looks_alike_and_tells_nothing_of_whether_the_user_name_exists(settings) -> None:
    add_staff("ada", "auditor")
    add_staff("grace", "compliance_officer")
    pauses = {}
    # By user name, for a name with an account and for one without, from many addresses.
    for name in ("ada", "nobody-by-this-name"):
        answers = [
            sign_in(client_at(elsewhere(n)), name, WRONG)
            for n in range(1, settings.SIGNIN_USERNAME_FAILURE_LIMIT + 1)
        ]
        assert [answer.status_code for answer in answers[:-1]] == [200] * (len(answers) - 1)
        pauses[f"username {name}"] = answers[-1]
    # By address, over many names; and the pair limit, as before.
    for n in range(settings.SIGNIN_ADDRESS_FAILURE_LIMIT):
        answer = sign_in(client_at(ATTACKER), f"staff-{n}", WRONG)
    pauses["address"] = answer
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = sign_in(client_at(OFFICE), "grace", WRONG)
    pauses["pair"] = answer
    assert {rule: answer.status_code for rule, answer in pauses.items()} == dict.fromkeys(pauses, 429)
    assert len({answer.content for answer in pauses.values()}) == 1
    assert len({answer["Content-Type"] for answer in pauses.values()}) == 1


def test_a_pause_asked_for_by_a_script_is_one_json_error_whoever_was_tried(settings) -> None:
    """A sign-in posted by script gets the service's error shape, the same for every rule and
    name: axes' own answer echoed the user name sent, told the pair's limit and let any origin
    read it (`Access-Control-Allow-Origin: *`)."""
    add_staff("ada", "auditor")

    def post(address: str, name: str) -> Any:
        client = client_at(address)
        client.get("/accounts/login/")
        answer = client.post(
            "/accounts/login/",
            {"username": name, "password": WRONG, "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
            headers={"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"},
        )
        assert answer.status_code in (200, 429)
        return answer

    pauses = {}
    for name in ("ada", "nobody-by-this-name"):
        for n in range(1, settings.SIGNIN_USERNAME_FAILURE_LIMIT + 1):
            pauses[name] = post(elsewhere(n), name)
    for n in range(settings.SIGNIN_ADDRESS_FAILURE_LIMIT):
        pauses["address"] = post(ATTACKER, f"staff-{n}")
    for answer in pauses.values():
        assert answer.status_code == 429
        assert answer.json() == {"error": "signin_paused", "detail": PAUSED}
        assert answer["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)
        assert "Access-Control-Allow-Origin" not in answer


def test_a_pause_shown_to_a_person_is_the_page(settings) -> None:
    browser = client_at(ATTACKER)
    browser.get("/accounts/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        answer = browser.post(
            "/accounts/login/",
            {
                "username": "someone",
                "password": WRONG,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"].value,
            },
            headers={"Accept": "text/html,application/xhtml+xml"},
        )
    assert answer.status_code == 429 and answer["Content-Type"].startswith("text/html")
    assert b"<h1>Sign-in paused</h1>" in answer.content and PAUSED.encode() in answer.content
    assert answer["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)


def throttle_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """config.settings loaded in a fresh interpreter under `env`; prints the four numbers."""
    names = ("AXES_FAILURE_LIMIT", "SIGNIN_ADDRESS_FAILURE_LIMIT", "SIGNIN_USERNAME_FAILURE_LIMIT")
    script = (
        "from django.conf import settings; "
        f"print(*(getattr(settings, name) for name in {names!r}), settings.AXES_COOLOFF_TIME)"
    )
    return run_under_settings(
        script, tmp_path, without=[key for key in os.environ if key.startswith("SIGNIN_")], check=False, **env
    )


def test_the_limits_come_from_the_environment_and_none_below_one_is_accepted(tmp_path: Path) -> None:
    defaults = throttle_settings(tmp_path)
    assert defaults.stdout.split()[-4:] == ["5", "20", "10", "0:15:00"]
    chosen = throttle_settings(
        tmp_path,
        SIGNIN_FAILURE_LIMIT="3",
        SIGNIN_ADDRESS_FAILURE_LIMIT="50",
        SIGNIN_USERNAME_FAILURE_LIMIT="8",
        SIGNIN_LOCKOUT_MINUTES="30",
    )
    assert chosen.stdout.split()[-4:] == ["3", "50", "8", "0:30:00"]
    # A limit of 0 would pause every sign-in, a cool-off of 0 none: the service does not start.
    for name in ("SIGNIN_FAILURE_LIMIT", "SIGNIN_ADDRESS_FAILURE_LIMIT", "SIGNIN_USERNAME_FAILURE_LIMIT"):
        refused = throttle_settings(tmp_path, **{name: "0"})
        assert refused.returncode != 0 and f"{name} must be at least 1" in refused.stderr
    refused = throttle_settings(tmp_path, SIGNIN_LOCKOUT_MINUTES="0")
    assert refused.returncode != 0 and "SIGNIN_LOCKOUT_MINUTES must be at least 1" in refused.stderr
