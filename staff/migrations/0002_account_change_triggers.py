# ruff: noqa: S608 - trigger definitions built from fixed table and column names only
"""Triggers that queue every change of a staff account in the transaction of the change
(staff.account_changes): auth_user, its groups and permissions, django-otp's devices and recovery
codes. The actor comes from the transaction: PostgreSQL's `vault.actor` setting, SQLite's
staff_accountactor row; empty means a change made outside Django ("direct database access")."""

from django.db import migrations

QUEUE = "INSERT INTO staff_accountchange (queued_at, user_id, username, change, fields, detail, actor)"
USER_FIELDS = (
    "password",
    "username",
    "first_name",
    "last_name",
    "email",
    "is_superuser",
    "is_staff",
    "is_active",
    "date_joined",
)
DEVICE_FIELDS = ("key", "user_id", "name", "step", "t0", "digits", "tolerance")


def _pg_fields(names, changed=True):
    return (
        "concat_ws(',', "
        + ", ".join(f"CASE WHEN NEW.{n} IS DISTINCT FROM OLD.{n} THEN '{n}' END" for n in names)
        + ")"
    )


PG_ACTOR = "coalesce(current_setting('vault.actor', true), '')"
PG_NAME = "coalesce((SELECT username FROM auth_user WHERE id = {}), '')"

PG = f"""
CREATE FUNCTION staff_queue_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE f text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    {QUEUE} VALUES (now(), NEW.id, NEW.username, 'created', concat_ws(',',
      CASE WHEN NEW.password <> '' AND NEW.password NOT LIKE '!%' THEN 'password' END,
      CASE WHEN NEW.is_superuser THEN 'is_superuser' END, CASE WHEN NEW.is_staff THEN 'is_staff' END,
      CASE WHEN NOT NEW.is_active THEN 'is_active' END), '', {PG_ACTOR});
  ELSIF TG_OP = 'DELETE' THEN
    {QUEUE} VALUES (now(), OLD.id, OLD.username, 'deleted', '', '', {PG_ACTOR});
  ELSE
    f := {_pg_fields(USER_FIELDS)};
    IF f <> '' THEN
      {QUEUE} VALUES (now(), NEW.id, NEW.username, 'updated', f, '', {PG_ACTOR});
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER staff_account_change AFTER INSERT OR UPDATE OR DELETE ON auth_user
  FOR EACH ROW EXECUTE FUNCTION staff_queue_user_change();

CREATE FUNCTION staff_queue_group_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  {QUEUE} VALUES (now(), r.user_id, {PG_NAME.format("r.user_id")},
    CASE TG_OP WHEN 'INSERT' THEN 'group_added' WHEN 'DELETE' THEN 'group_removed' ELSE 'group_changed' END,
    '', coalesce((SELECT name FROM auth_group WHERE id = r.group_id), ''), {PG_ACTOR});
  RETURN NULL;
END $$;
CREATE TRIGGER staff_account_change AFTER INSERT OR UPDATE OR DELETE ON auth_user_groups
  FOR EACH ROW EXECUTE FUNCTION staff_queue_group_change();

CREATE FUNCTION staff_queue_permission_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  {QUEUE} VALUES (now(), r.user_id, {PG_NAME.format("r.user_id")},
    CASE TG_OP WHEN 'INSERT' THEN 'permission_added' WHEN 'DELETE' THEN 'permission_removed'
      ELSE 'permission_changed' END,
    '', coalesce((SELECT ct.app_label || '.' || p.codename FROM auth_permission p
                  JOIN django_content_type ct ON ct.id = p.content_type_id WHERE p.id = r.permission_id), ''),
    {PG_ACTOR});
  RETURN NULL;
END $$;
CREATE TRIGGER staff_account_change AFTER INSERT OR UPDATE OR DELETE ON auth_user_user_permissions
  FOR EACH ROW EXECUTE FUNCTION staff_queue_permission_change();

CREATE FUNCTION staff_queue_totp_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE f text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    {QUEUE} VALUES (now(), NEW.user_id, {PG_NAME.format("NEW.user_id")}, 'second_factor_added',
      CASE WHEN NEW.confirmed THEN 'confirmed' ELSE '' END, 'totp', {PG_ACTOR});
  ELSIF TG_OP = 'DELETE' THEN
    {QUEUE} VALUES (now(), OLD.user_id, {PG_NAME.format("OLD.user_id")}, 'second_factor_removed', '', 'totp',
      {PG_ACTOR});
  ELSE
    f := concat_ws(',', {_pg_fields(DEVICE_FIELDS)[len("concat_ws(',', ") : -1]},
      CASE WHEN NEW.confirmed IS DISTINCT FROM OLD.confirmed THEN
        CASE WHEN NEW.confirmed THEN 'confirmed' ELSE 'unconfirmed' END END);
    IF f <> '' THEN
      {QUEUE} VALUES (now(), NEW.user_id, {PG_NAME.format("NEW.user_id")}, 'second_factor_changed', f, 'totp',
        {PG_ACTOR});
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER staff_account_change AFTER INSERT OR UPDATE OR DELETE ON otp_totp_totpdevice
  FOR EACH ROW EXECUTE FUNCTION staff_queue_totp_change();

CREATE FUNCTION staff_queue_static_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {QUEUE} VALUES (now(), NEW.user_id, {PG_NAME.format("NEW.user_id")}, 'recovery_codes_added', '', 'static',
      {PG_ACTOR});
  ELSIF TG_OP = 'DELETE' THEN
    {QUEUE} VALUES (now(), OLD.user_id, {PG_NAME.format("OLD.user_id")}, 'recovery_codes_removed', '', 'static',
      {PG_ACTOR});
  ELSIF NEW.user_id IS DISTINCT FROM OLD.user_id THEN
    {QUEUE} VALUES (now(), NEW.user_id, {PG_NAME.format("NEW.user_id")}, 'recovery_codes_added', 'user_id',
      'static', {PG_ACTOR});
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER staff_account_change AFTER INSERT OR UPDATE OR DELETE ON otp_static_staticdevice
  FOR EACH ROW EXECUTE FUNCTION staff_queue_static_change();

-- A recovery code added to a device is a credential; one used up (deleted at sign-in) is not a change.
CREATE FUNCTION staff_queue_static_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {QUEUE} SELECT now(), d.user_id, {PG_NAME.format("d.user_id")}, 'recovery_codes_added', '', 'static', {PG_ACTOR}
    FROM otp_static_staticdevice d WHERE d.id = NEW.device_id;
  RETURN NULL;
END $$;
CREATE TRIGGER staff_account_change AFTER INSERT OR UPDATE ON otp_static_statictoken
  FOR EACH ROW EXECUTE FUNCTION staff_queue_static_token();
"""

PG_DROP = """
DROP TRIGGER staff_account_change ON auth_user; DROP FUNCTION staff_queue_user_change();
DROP TRIGGER staff_account_change ON auth_user_groups; DROP FUNCTION staff_queue_group_change();
DROP TRIGGER staff_account_change ON auth_user_user_permissions; DROP FUNCTION staff_queue_permission_change();
DROP TRIGGER staff_account_change ON otp_totp_totpdevice; DROP FUNCTION staff_queue_totp_change();
DROP TRIGGER staff_account_change ON otp_static_staticdevice; DROP FUNCTION staff_queue_static_change();
DROP TRIGGER staff_account_change ON otp_static_statictoken; DROP FUNCTION staff_queue_static_token();
"""

SQ_ACTOR = "coalesce((SELECT label FROM staff_accountactor WHERE id = 1), '')"
SQ_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
SQ_NAME = "coalesce((SELECT username FROM auth_user WHERE id = {}), '')"


def _sq_fields(names):
    return (
        "rtrim("
        + " || ".join(f"CASE WHEN NEW.{n} IS NOT OLD.{n} THEN '{n},' ELSE '' END" for n in names)
        + ", ',')"
    )


def _sq(name, when, table, body, condition=""):
    where = f" WHEN {condition}" if condition else ""
    return f"CREATE TRIGGER staff_{name} AFTER {when} ON {table} FOR EACH ROW{where} BEGIN {body}; END;"


SQ_TOTP_CHANGED = (
    "rtrim("
    + " || ".join(f"CASE WHEN NEW.{n} IS NOT OLD.{n} THEN '{n},' ELSE '' END" for n in DEVICE_FIELDS)
    + " || CASE WHEN NEW.confirmed IS NOT OLD.confirmed THEN"
    " CASE WHEN NEW.confirmed THEN 'confirmed,' ELSE 'unconfirmed,' END ELSE '' END, ',')"
)
SQLITE = [
    _sq(
        "user_created",
        "INSERT",
        "auth_user",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.id, NEW.username, 'created', rtrim("
        "CASE WHEN NEW.password <> '' AND NEW.password NOT LIKE '!%' THEN 'password,' ELSE '' END || "
        "CASE WHEN NEW.is_superuser THEN 'is_superuser,' ELSE '' END || "
        "CASE WHEN NEW.is_staff THEN 'is_staff,' ELSE '' END || "
        f"CASE WHEN NOT NEW.is_active THEN 'is_active,' ELSE '' END, ','), '', {SQ_ACTOR})",
    ),
    _sq(
        "user_deleted",
        "DELETE",
        "auth_user",
        f"{QUEUE} VALUES ({SQ_NOW}, OLD.id, OLD.username, 'deleted', '', '', {SQ_ACTOR})",
    ),
    _sq(
        "user_updated",
        "UPDATE",
        "auth_user",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.id, NEW.username, 'updated', {_sq_fields(USER_FIELDS)}, '', {SQ_ACTOR})",
        f"{_sq_fields(USER_FIELDS)} <> ''",
    ),
    _sq(
        "group_added",
        "INSERT",
        "auth_user_groups",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.user_id, {SQ_NAME.format('NEW.user_id')}, 'group_added', '', "
        f"coalesce((SELECT name FROM auth_group WHERE id = NEW.group_id), ''), {SQ_ACTOR})",
    ),
    _sq(
        "group_removed",
        "DELETE",
        "auth_user_groups",
        f"{QUEUE} VALUES ({SQ_NOW}, OLD.user_id, {SQ_NAME.format('OLD.user_id')}, 'group_removed', '', "
        f"coalesce((SELECT name FROM auth_group WHERE id = OLD.group_id), ''), {SQ_ACTOR})",
    ),
    _sq(
        "group_changed",
        "UPDATE",
        "auth_user_groups",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.user_id, {SQ_NAME.format('NEW.user_id')}, 'group_changed', '', "
        f"coalesce((SELECT name FROM auth_group WHERE id = NEW.group_id), ''), {SQ_ACTOR})",
    ),
]
for op, row in (("added", "NEW"), ("removed", "OLD"), ("changed", "NEW")):
    when = {"added": "INSERT", "removed": "DELETE", "changed": "UPDATE"}[op]
    SQLITE.append(
        _sq(
            f"permission_{op}",
            when,
            "auth_user_user_permissions",
            f"{QUEUE} VALUES ({SQ_NOW}, {row}.user_id, {SQ_NAME.format(row + '.user_id')}, 'permission_{op}', '', "
            "coalesce((SELECT ct.app_label || '.' || p.codename FROM auth_permission p JOIN django_content_type ct "
            f"ON ct.id = p.content_type_id WHERE p.id = {row}.permission_id), ''), {SQ_ACTOR})",
        )
    )
SQLITE += [
    _sq(
        "totp_added",
        "INSERT",
        "otp_totp_totpdevice",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.user_id, {SQ_NAME.format('NEW.user_id')}, 'second_factor_added', "
        f"CASE WHEN NEW.confirmed THEN 'confirmed' ELSE '' END, 'totp', {SQ_ACTOR})",
    ),
    _sq(
        "totp_removed",
        "DELETE",
        "otp_totp_totpdevice",
        f"{QUEUE} VALUES ({SQ_NOW}, OLD.user_id, {SQ_NAME.format('OLD.user_id')}, 'second_factor_removed', '', "
        f"'totp', {SQ_ACTOR})",
    ),
    _sq(
        "totp_changed",
        "UPDATE",
        "otp_totp_totpdevice",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.user_id, {SQ_NAME.format('NEW.user_id')}, 'second_factor_changed', "
        f"{SQ_TOTP_CHANGED}, 'totp', {SQ_ACTOR})",
        f"{SQ_TOTP_CHANGED} <> ''",
    ),
    _sq(
        "static_added",
        "INSERT",
        "otp_static_staticdevice",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.user_id, {SQ_NAME.format('NEW.user_id')}, 'recovery_codes_added', '', "
        f"'static', {SQ_ACTOR})",
    ),
    _sq(
        "static_removed",
        "DELETE",
        "otp_static_staticdevice",
        f"{QUEUE} VALUES ({SQ_NOW}, OLD.user_id, {SQ_NAME.format('OLD.user_id')}, 'recovery_codes_removed', '', "
        f"'static', {SQ_ACTOR})",
    ),
    _sq(
        "static_moved",
        "UPDATE",
        "otp_static_staticdevice",
        f"{QUEUE} VALUES ({SQ_NOW}, NEW.user_id, {SQ_NAME.format('NEW.user_id')}, 'recovery_codes_added', "
        f"'user_id', 'static', {SQ_ACTOR})",
        "NEW.user_id IS NOT OLD.user_id",
    ),
    _sq(
        "static_token_added",
        "INSERT",
        "otp_static_statictoken",
        f"{QUEUE} SELECT {SQ_NOW}, d.user_id, {SQ_NAME.format('d.user_id')}, 'recovery_codes_added', '', "
        f"'static', {SQ_ACTOR} FROM otp_static_staticdevice d WHERE d.id = NEW.device_id",
    ),
    _sq(
        "static_token_changed",
        "UPDATE",
        "otp_static_statictoken",
        f"{QUEUE} SELECT {SQ_NOW}, d.user_id, {SQ_NAME.format('d.user_id')}, 'recovery_codes_added', '', "
        f"'static', {SQ_ACTOR} FROM otp_static_staticdevice d WHERE d.id = NEW.device_id",
    ),
]
SQLITE_NAMES = [statement.split()[2] for statement in SQLITE]


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(PG)  # no parameters: psycopg runs the statements as one simple query
    elif connection.vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(PG_DROP)
    elif connection.vendor == "sqlite":
        for name in SQLITE_NAMES:
            schema_editor.execute(f"DROP TRIGGER {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_account_changes_and_credentials"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(create, drop)]
