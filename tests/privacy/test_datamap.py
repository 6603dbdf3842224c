"""The data map covers every field that can hold personal data, and docs/PRIVACY.md is its print."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

from django.apps import apps
from django.core.management import call_command
from django.db import models

from privacy import datamap

ROOT = Path(__file__).resolve().parent.parent.parent


def _fields_that_may_hold_personal_data() -> set[tuple[str, str]]:
    return {
        (model._meta.label, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if datamap.may_hold_personal_data(field)
    }


def test_every_field_that_can_hold_personal_data_is_declared() -> None:
    missing = _fields_that_may_hold_personal_data() - set(datamap.declared())
    assert not missing, f"declare these in privacy/datamap.py: {sorted(missing)}"


def test_every_declaration_names_a_field_that_exists() -> None:
    stale = set(datamap.declared()) - _fields_that_may_hold_personal_data()
    assert not stale, f"declared, but no such free-text field: {sorted(stale)}"


def test_a_new_free_text_field_would_be_caught() -> None:
    assert datamap.may_hold_personal_data(models.TextField(name="notes"))
    assert datamap.may_hold_personal_data(models.GenericIPAddressField(name="address"))
    assert not datamap.may_hold_personal_data(models.CharField(name="state", choices=[("a", "A")]))
    assert not datamap.may_hold_personal_data(models.DateTimeField(name="at"))


def test_every_personal_datum_has_an_end_and_a_reason() -> None:
    for datum in datamap.DATA_MAP:
        assert datum.what and datum.why, datum
        if datum.end in (datamap.End.PSEUDONYMISED, datamap.End.REDACTED, datamap.End.DELETED):
            assert datum.after, f"{datum.model}.{datum.field} ends, but says not when"


def test_privacy_map_prints_json_and_markdown() -> None:
    out = StringIO()
    call_command("privacy_map", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert {"model": "recorder.Session", "field": "customer_ref"}.items() <= printed[0].items() or any(
        row["model"] == "recorder.Session" and row["field"] == "customer_ref" for row in printed
    )
    out = StringIO()
    call_command("privacy_map", stdout=out)
    assert "| `recorder.Session` | `customer_ref` |" in out.getvalue()


def test_docs_privacy_md_is_the_maps_print() -> None:
    assert (ROOT / "docs" / "PRIVACY.md").read_text() == datamap.as_markdown(), (
        "regenerate: .venv/bin/python manage.py privacy_map > docs/PRIVACY.md"
    )
