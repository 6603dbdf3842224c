"""On PostgreSQL signed tree heads are append-only too, with the ledger's trigger function (see
0002): a deleted head would take evidence of an earlier state of the ledger with it."""

from django.db import migrations

INSTALL = """
CREATE TRIGGER audit_heads_append_only
    BEFORE UPDATE OR DELETE ON audit_signedtreehead
    FOR EACH ROW EXECUTE FUNCTION audit_ledger_refuse_change();

CREATE TRIGGER audit_heads_no_truncate
    BEFORE TRUNCATE ON audit_signedtreehead
    FOR EACH STATEMENT EXECUTE FUNCTION audit_ledger_refuse_change();
"""

REMOVE = """
DROP TRIGGER IF EXISTS audit_heads_no_truncate ON audit_signedtreehead;
DROP TRIGGER IF EXISTS audit_heads_append_only ON audit_signedtreehead;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_signed_tree_heads_and_exports")]
    operations = [migrations.RunPython(install, remove)]
