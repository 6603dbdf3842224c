"""`audit_append` (0006) commits the queued entry, then takes the ledger lock and moves it: two
commits, two WAL flushes, for every playback and denial. When no other appender holds the lock
there is nobody to share a flush with, so the entry is now queued and moved in one transaction:
`pg_try_advisory_xact_lock` either takes the lock at once (one commit) or fails at once, and the
appender goes the queued way of 0006 (commit, wait for the lock, move). Every move still happens
under the lock, so seq stays gapless; entries queued by others are moved along, as before.
"""

import importlib

from django.db import migrations

INSTALL = """
CREATE OR REPLACE PROCEDURE audit_append(
    lock_key bigint, p_recorded_at timestamptz, p_actor_kind text, p_actor_id text,
    p_actor_label text, p_action text, p_recording_id uuid, p_session_id uuid, p_case_id uuid,
    p_details jsonb, p_before bytea, p_after bytea
) AS $$
DECLARE
    queued bigint;
BEGIN
    INSERT INTO audit_pendingentry (
        recorded_at, actor_kind, actor_id, actor_label, action, recording_id, session_id,
        case_id, details, canonical_before_seq, canonical_after_seq
    ) VALUES (
        p_recorded_at, p_actor_kind, p_actor_id, p_actor_label, p_action, p_recording_id,
        p_session_id, p_case_id, p_details, p_before, p_after
    ) RETURNING id INTO queued;
    IF pg_try_advisory_xact_lock(lock_key) THEN
        -- Nobody else is appending: move it now; CALL's own commit is the only one.
        PERFORM audit_sequence_pending(lock_key, queued);
        RETURN;
    END IF;
    COMMIT;  -- queued and durable, no lock held: concurrent appenders share WAL flushes
    PERFORM audit_sequence_pending(lock_key, queued);
END;
$$ LANGUAGE plpgsql;
"""


def _previous_procedure() -> str:
    """0006's audit_append, as it created it (its INSTALL ends with the procedure)."""
    previous = importlib.import_module("audit.migrations.0006_pending_sequencer").INSTALL
    return str(previous[previous.index("CREATE OR REPLACE PROCEDURE audit_append") :])


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_previous_procedure(), params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_pending_sequencer")]
    operations = [migrations.RunPython(install, remove)]
