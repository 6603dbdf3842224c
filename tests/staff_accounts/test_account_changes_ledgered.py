"""Every change of a staff account is a ledger entry naming who made it and whose account it
was, committed with the change, whichever way it was made: the admin's pages, add_staff,
Django's createsuperuser and changepassword, the ORM's save(), update() and delete(), the
groups and permissions, raw SQL. A ledger that cannot be written blocks the change."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client

from audit.services import sequence_pending
from tests.staff import PASSWORD, account_changes, add_staff, admin_change_form

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def root_browser() -> Client:
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    client = Client()
    client.force_login(root)
    return client


def test_add_staff_creation_and_role_are_ledgered_by_the_command() -> None:
    add_staff("erin", "auditor")
    changes = account_changes("erin")
    assert [(c["actor"], c["change"]) for c in changes] == [
        ("add_staff", "created"),
        ("add_staff", "group_added"),
    ]
    assert changes[0]["fields"] == ["password"]
    assert changes[1]["target"] == "auditor"
    for change in changes:
        assert "pbkdf2" not in str(change) and PASSWORD not in str(change)


def test_the_admin_changing_flags_and_groups_is_ledgered_with_the_administrator(root_browser: Client) -> None:
    add_staff("frank", "auditor")
    frank = User.objects.get(username="frank")
    answer = admin_change_form(
        root_browser, frank, is_active="", groups=[Group.objects.get(name="operator").pk], is_staff="on"
    )
    assert answer.status_code == 302
    mine = [c for c in account_changes("frank") if c["actor"] == "root"]
    assert {"is_active", "is_staff"} <= {field for c in mine for field in c["fields"]}
    assert ("group_removed", "auditor") in {(c["change"], c.get("target")) for c in mine}
    assert ("group_added", "operator") in {(c["change"], c.get("target")) for c in mine}


def test_the_admin_setting_a_password_is_ledgered_without_the_hash(root_browser: Client) -> None:
    add_staff("gina", "auditor")
    gina = User.objects.get(username="gina")
    new = "another long passphrase 2026"
    answer = root_browser.post(
        f"/admin/auth/user/{gina.pk}/password/",
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert answer.status_code == 302
    last = account_changes("gina")[-1]
    assert (last["actor"], last["change"], last["fields"]) == ("root", "updated", ["password"])
    gina.refresh_from_db()
    assert gina.password not in str(last) and new not in str(last)


def test_the_admin_deleting_an_account_is_ledgered(root_browser: Client) -> None:
    add_staff("hal", "operator")
    hal = User.objects.get(username="hal")
    answer = root_browser.post(f"/admin/auth/user/{hal.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    assert not User.objects.filter(username="hal").exists()
    last = account_changes("hal")[-1]
    assert (last["actor"], last["change"], last["user"]) == ("root", "deleted", str(hal.pk))


def test_createsuperuser_is_ledgered_by_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command(
        "createsuperuser", "--noinput", "--username", "boss", "--email", "b@example.org", stdout=io.StringIO()
    )
    [created] = account_changes("boss")
    assert (created["actor"], created["actor_kind"], created["change"]) == (
        "createsuperuser",
        "job",
        "created",
    )
    assert {"password", "is_superuser", "is_staff"} <= set(created["fields"])


def test_changepassword_is_ledgered_by_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    add_staff("ivy", "auditor")
    from django.contrib.auth.management.commands import changepassword

    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": "a brand new passphrase 99")
    call_command("changepassword", "ivy", stdout=io.StringIO())
    last = account_changes("ivy")[-1]
    assert (last["actor"], last["change"], last["fields"]) == ("changepassword", "updated", ["password"])


def test_orm_save_update_delete_and_raw_sql_without_an_actor_are_direct_database_access() -> None:
    user = User.objects.create_user("jo", password=PASSWORD)
    user.email = "jo@example.org"
    user.save()
    User.objects.filter(pk=user.pk).update(is_superuser=True)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE auth_user SET is_active = %s WHERE id = %s", [False, user.pk])
    user.user_permissions.add(Permission.objects.get(codename="view_ledgerentry"))
    Group.objects.get(name="operator").user_set.add(user)
    User.objects.filter(pk=user.pk).delete()
    changes = account_changes("jo")
    assert {c["actor"] for c in changes} == {"direct database access"}
    assert [(c["change"], c["fields"], c.get("target")) for c in changes] == [
        ("created", ["password"], None),
        ("updated", ["email"], None),
        ("updated", ["is_superuser"], None),
        ("updated", ["is_active"], None),
        ("permission_added", [], "audit.view_ledgerentry"),
        ("group_added", [], "operator"),
        ("group_removed", [], "operator"),  # delete() empties the m2m tables first
        ("permission_removed", [], "audit.view_ledgerentry"),
        ("deleted", [], None),
    ]


def test_a_sign_in_is_not_an_account_change() -> None:
    add_staff("kim", "auditor")
    before = len(account_changes())
    User.objects.filter(username="kim").update(last_login="2026-01-01T00:00:00Z")
    assert len(account_changes()) == before


def test_a_change_made_outside_django_reaches_the_ledger_at_the_next_sequencing() -> None:
    """A psql or sqlite3 session runs no Django code: its change is queued by the trigger in its
    own transaction and moved into the ledger by the next sequencing (each signed head)."""
    add_staff("lee", "auditor")
    raw = connection.connection  # the driver's own connection: no Django wrapper
    cursor = raw.cursor()
    true = "true" if connection.vendor == "postgresql" else "1"
    cursor.execute(f"UPDATE auth_user SET is_staff = {true} WHERE username = 'lee'")  # noqa: S608
    cursor.close()
    assert account_changes("lee")[-1]["change"] == "group_added"  # not yet in the ledger
    sequence_pending()
    last = account_changes("lee")[-1]
    assert (last["actor"], last["change"], last["fields"]) == (
        "direct database access",
        "updated",
        ["is_staff"],
    )


def test_a_ledger_that_cannot_be_written_blocks_the_change(root_browser: Client) -> None:
    """The ledger's table refuses every insert (a trigger that raises): the admin's change of a
    password fails and the password is the old one; so does update() and raw SQL."""
    add_staff("max", "auditor")
    max_ = User.objects.get(username="max")
    old_hash = max_.password
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION 'ledger unavailable'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_ledgerentry "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_ledgerentry "
                "BEGIN SELECT RAISE(ABORT, 'ledger unavailable'); END"
            )
    # The ledger's COPY on PostgreSQL raises the driver's own error, not Django's.
    refused = (DatabaseError, connection.Database.Error)
    new = "another long passphrase 2026"
    with pytest.raises(refused), transaction.atomic():
        root_browser.post(
            f"/admin/auth/user/{max_.pk}/password/",
            {"password1": new, "password2": new, "usable_password": "true"},
        )
    with pytest.raises(refused), transaction.atomic():
        User.objects.filter(pk=max_.pk).update(is_superuser=True)
    with pytest.raises(refused), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth_user WHERE id = %s", [max_.pk])
    max_.refresh_from_db()
    assert max_.password == old_hash and not max_.is_superuser
