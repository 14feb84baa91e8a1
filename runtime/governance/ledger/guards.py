"""Database triggers that keep the audit tables append-only, on SQLite and Postgres.

Why every write path, not just UPDATE and DELETE: on SQLite `INSERT OR REPLACE` (and
`REPLACE INTO`) resolves a primary-key conflict by deleting the old row *without firing
DELETE triggers*, and an UPSERT's `DO UPDATE` is an update under another name; a head table
without triggers can simply be rewritten to match a shortened log. So:

- `audit_log`: UPDATE and DELETE are refused; an INSERT is refused unless it extends the
  chain head exactly (`seq = head.seq + 1` and `prev_hash = head.hash`) and its `seq` is
  not taken, which refuses REPLACE and UPSERT rewrites before SQLite resolves them.
- `audit_head`: DELETE is refused; INSERT only of the genesis row into an empty log; an
  UPDATE only advances the head by one, to the entry just appended after it (same hash,
  linking to the old head).
- Postgres additionally refuses TRUNCATE of both, and its trigger functions read the head
  from the table's own schema (`TG_TABLE_SCHEMA`), so a `search_path` trick cannot feed
  them another head.

What triggers cannot do: stop someone who may drop them (the SQLite file's owner, a table
owner or superuser on Postgres). That is what signed checkpoints and the cross-check are
for; the triggers stop everyone else and every accident.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["GENESIS", "TRIGGER_NAMES", "install_triggers"]

GENESIS = "0" * 64

_SQLITE = {
    "audit_log_no_update": "BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "audit_log_no_delete": "BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
    "audit_log_extend_only": "BEFORE INSERT ON audit_log WHEN "
    "EXISTS (SELECT 1 FROM audit_log WHERE seq = NEW.seq) "
    "OR NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1) "
    "OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head WHERE id = 1) "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: an insert must extend the chain "
    "head (REPLACE, UPSERT and out-of-order inserts refused)'); END",
    "audit_head_no_delete": "BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_head is append-only: DELETE refused'); END",
    "audit_head_genesis_only": "BEFORE INSERT ON audit_head WHEN "
    "EXISTS (SELECT 1 FROM audit_head) OR EXISTS (SELECT 1 FROM audit_log) "
    f"OR NEW.id IS NOT 1 OR NEW.seq IS NOT 0 OR NEW.hash IS NOT '{GENESIS}' "
    "BEGIN SELECT RAISE(ABORT, 'audit_head: only the genesis head of an empty log may be "
    "inserted (REPLACE refused)'); END",
    "audit_head_advance_only": "BEFORE UPDATE ON audit_head WHEN "
    "NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1 OR NOT EXISTS (SELECT 1 FROM "
    "audit_log WHERE seq = NEW.seq AND hash = NEW.hash AND prev_hash = OLD.hash) "
    "BEGIN SELECT RAISE(ABORT, 'audit_head may only advance by one, to the entry appended "
    "after it'); END",
}

_PG_FUNCTIONS = (
    """
CREATE OR REPLACE FUNCTION specops_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$
""",
    """
CREATE OR REPLACE FUNCTION specops_audit_extend_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE h_seq bigint; h_hash text;
BEGIN
  EXECUTE format('SELECT seq, hash FROM %I.audit_head WHERE id = 1', TG_TABLE_SCHEMA)
    INTO h_seq, h_hash;
  IF h_seq IS NULL OR NEW.seq <> h_seq + 1 OR NEW.prev_hash <> h_hash THEN
    RAISE EXCEPTION 'audit_log is append-only: entry % does not extend the chain head',
      NEW.seq;
  END IF;
  RETURN NEW;
END $$
""",
    f"""
CREATE OR REPLACE FUNCTION specops_audit_head_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    EXECUTE format('SELECT (SELECT count(*) FROM %I.audit_head)
                         + (SELECT count(*) FROM %I.audit_log)',
                   TG_TABLE_SCHEMA, TG_TABLE_SCHEMA) INTO n;
    IF n > 0 OR NEW.id <> 1 OR NEW.seq <> 0 OR NEW.hash <> '{GENESIS}' THEN
      RAISE EXCEPTION 'audit_head: only the genesis head of an empty log may be inserted';
    END IF;
    RETURN NEW;
  END IF;
  EXECUTE format('SELECT count(*) FROM %I.audit_log WHERE seq = $1 AND hash = $2
                  AND prev_hash = $3', TG_TABLE_SCHEMA)
    INTO n USING NEW.seq, NEW.hash, OLD.hash;
  IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 OR n <> 1 THEN
    RAISE EXCEPTION 'audit_head may only advance by one, to the entry appended after it';
  END IF;
  RETURN NEW;
END $$
""",
)
_PG_TRIGGERS = {
    "audit_log": {
        "audit_log_no_update": "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW "
                               "EXECUTE FUNCTION specops_audit_append_only()",
        "audit_log_no_truncate": "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
                                 "EXECUTE FUNCTION specops_audit_append_only()",
        "audit_log_extend_only": "BEFORE INSERT ON {t} FOR EACH ROW "
                                 "EXECUTE FUNCTION specops_audit_extend_only()",
    },
    "audit_head": {
        "audit_head_no_delete": "BEFORE DELETE ON {t} FOR EACH ROW "
                                "EXECUTE FUNCTION specops_audit_append_only()",
        "audit_head_no_truncate": "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
                                  "EXECUTE FUNCTION specops_audit_append_only()",
        "audit_head_advance_only": "BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW "
                                   "EXECUTE FUNCTION specops_audit_head_guard()",
    },
}
TRIGGER_NAMES = tuple(_SQLITE)


def install_triggers(conn: sa.Connection) -> None:
    """Install the append-only triggers on audit_log and audit_head (idempotent; existing
    stores get the newer ones on their next open)."""
    if conn.dialect.name == "sqlite":
        for name, body in _SQLITE.items():
            conn.exec_driver_sql(f"CREATE TRIGGER IF NOT EXISTS {name} {body}")
        return
    if conn.dialect.name != "postgresql":
        return
    for fn in _PG_FUNCTIONS:
        conn.execute(sa.text(fn))
    for table, triggers in _PG_TRIGGERS.items():
        have = {r[0] for r in conn.execute(sa.text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass)"),
            {"t": table})}
        for name, body in triggers.items():
            if name not in have:
                conn.exec_driver_sql(f"CREATE TRIGGER {name} {body.format(t=table)}")
