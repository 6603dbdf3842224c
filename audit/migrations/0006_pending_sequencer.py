"""PostgreSQL's side of the queue (audit/services.py): pending entries refuse UPDATE as the ledger
does (0002), and `audit_sequence_pending()` moves every committed pending entry into the ledger.

The function runs inside the database so the ledger lock is held for no client round trip: it
takes the lock, reads the last seq, and in one statement deletes the pending rows its snapshot
sees and inserts them with consecutive seq in queue order, each leaf hash computed as
SHA-256(0x00 || canonical bytes) from the two halves the appender stored around the seq. A
PL/pgSQL function takes a new snapshot per statement (READ COMMITTED), so the move sees every
entry committed before the lock was granted. Rows committed later stay for the next call.
"""

from django.db import migrations

INSTALL = """
CREATE TRIGGER audit_pending_no_update
    BEFORE UPDATE ON audit_pendingentry
    FOR EACH ROW EXECUTE FUNCTION audit_ledger_refuse_change();

CREATE OR REPLACE FUNCTION audit_sequence_pending(lock_key bigint, queued_id bigint) RETURNS bigint AS $$
DECLARE
    last_seq bigint;
    moved bigint;
BEGIN
    -- Gone from the queue: a move that took it has committed. Looked at before the lock and
    -- again once it is granted: waiters queue behind a move that may be taking their entry.
    IF queued_id IS NOT NULL AND NOT EXISTS (SELECT FROM audit_pendingentry WHERE id = queued_id) THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(lock_key);
    IF queued_id IS NOT NULL AND NOT EXISTS (SELECT FROM audit_pendingentry WHERE id = queued_id) THEN
        RETURN 0;
    END IF;
    SELECT coalesce(max(seq), 0) INTO last_seq FROM audit_ledgerentry;
    WITH taken AS (
        DELETE FROM audit_pendingentry RETURNING *
    ), numbered AS (
        SELECT taken.*, last_seq + row_number() OVER (ORDER BY id) AS new_seq FROM taken
    )
    INSERT INTO audit_ledgerentry (
        seq, recorded_at, actor_kind, actor_id, actor_label, action,
        recording_id, session_id, case_id, details, leaf_hash
    )
    SELECT new_seq, recorded_at, actor_kind, actor_id, actor_label, action,
           recording_id, session_id, case_id, details,
           sha256('\\x00'::bytea || canonical_before_seq || convert_to(new_seq::text, 'UTF8')
                  || canonical_after_seq)
    FROM numbered ORDER BY new_seq;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END;
$$ LANGUAGE plpgsql VOLATILE;

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
    COMMIT;  -- queued and durable, no lock held: concurrent appenders share WAL flushes
    PERFORM audit_sequence_pending(lock_key, queued);
END;
$$ LANGUAGE plpgsql;
"""

REMOVE = """
DROP PROCEDURE IF EXISTS audit_append(bigint, timestamptz, text, text, text, text, uuid, uuid, uuid, jsonb, bytea, bytea);
DROP FUNCTION IF EXISTS audit_sequence_pending(bigint, bigint);
DROP TRIGGER IF EXISTS audit_pending_no_update ON audit_pendingentry;
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_pending_entries")]
    operations = [migrations.RunPython(install, remove)]
