"""On PostgreSQL the ledger table refuses UPDATE, DELETE and TRUNCATE at the database level.

UPDATE and DELETE are refused for every role, superusers included. TRUNCATE is refused for
every role except superusers: a superuser can disable or drop the trigger anyway, so this grants
nothing new, and it lets the test suite flush its throw-away database between tests (Django's
flush uses TRUNCATE). The production application role must therefore be neither superuser nor
the table's owner (owners may disable triggers); migrations run as the owner.
On SQLite (the embedded default) there is no trigger: the guarantee is PostgreSQL's.
"""

from django.db import migrations

INSTALL = """
CREATE OR REPLACE FUNCTION audit_ledger_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit ledger is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_ledger_append_only
    BEFORE UPDATE OR DELETE ON audit_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION audit_ledger_refuse_change();

CREATE TRIGGER audit_ledger_no_truncate
    BEFORE TRUNCATE ON audit_ledgerentry
    FOR EACH STATEMENT EXECUTE FUNCTION audit_ledger_refuse_change();
"""

REMOVE = """
DROP TRIGGER IF EXISTS audit_ledger_no_truncate ON audit_ledgerentry;
DROP TRIGGER IF EXISTS audit_ledger_append_only ON audit_ledgerentry;
DROP FUNCTION IF EXISTS audit_ledger_refuse_change();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_ledger_entry")]
    operations = [migrations.RunPython(install, remove)]
