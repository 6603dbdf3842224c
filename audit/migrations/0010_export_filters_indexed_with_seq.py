"""Each column an export filters on is indexed together with seq (audit/models.py says why), built
online on PostgreSQL so that appends go on meanwhile; the single-column indexes they replace are
dropped afterwards."""

from django.db import migrations, models

from audit.online_index import AddIndexOnline


def with_seq(column: str, name: str) -> AddIndexOnline:
    return AddIndexOnline(model_name="ledgerentry", index=models.Index(fields=[column, "seq"], name=name))


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("audit", "0009_tiles_of_existing_ledgers"),
    ]

    operations = [
        with_seq("action", "audit_ledger_action_seq"),
        with_seq("case_id", "audit_ledger_case_seq"),
        with_seq("recording_id", "audit_ledger_recording_seq"),
        with_seq("actor_label", "audit_ledger_actor_seq"),
        migrations.AlterField(model_name="ledgerentry", name="action", field=models.CharField(max_length=64)),
        migrations.AlterField(
            model_name="ledgerentry", name="case_id", field=models.UUIDField(blank=True, null=True)
        ),
        migrations.AlterField(
            model_name="ledgerentry", name="recording_id", field=models.UUIDField(blank=True, null=True)
        ),
    ]
