"""Audit log: an HMAC per entry under the audit key from the secrets store.

Existing entries get their MAC here, under the key of the settings that run the migration
(`migrate(settings)` attaches them to the engine). That vouches for the old entries only from
the moment of this migration: whatever was altered before it gets a valid MAC too, which is why
docs/audit.md says to run `dijkwacht audit verify` before upgrading. The append-only guard
triggers are switched off for this one UPDATE and restored in the same transaction.

Revision ID: 0005_audit_mac
Revises: breach02
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core.audit import entry_mac
from core.store.relational import engine_settings

revision: str = "0005_audit_mac"
down_revision: str | None = "breach02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As created by migration 0001 (kept verbatim: a migration must not depend on later code).
_SQLITE_TRIGGERS = {
    "audit_log_no_update": """
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END
    """,
    "audit_log_no_delete": """
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END
    """,
}
_BATCH = 1000


def _mac_existing_entries() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT seq, hash FROM audit_log ORDER BY seq")).all()
    if not rows:
        return
    settings = engine_settings(bind)
    if settings is None:
        raise RuntimeError(
            "audit_key: the audit log has entries to MAC but this migration runs without "
            "settings; run it through `dijkwacht db upgrade` (core.store.relational.migrate)"
        )
    key = settings.secret("audit_key").encode("utf-8")
    dialect = bind.dialect.name
    if dialect == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    statement = sa.text("UPDATE audit_log SET mac = :mac WHERE seq = :seq")
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        bind.execute(statement, [{"seq": seq, "mac": entry_mac(key, h)} for seq, h in batch])
    if dialect == "sqlite":
        for ddl in _SQLITE_TRIGGERS.values():
            op.execute(ddl)
    elif dialect == "postgresql":
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def upgrade() -> None:
    # A plain ADD COLUMN, not batch mode: rebuilding the table on SQLite would drop its triggers.
    op.add_column("audit_log", sa.Column("mac", sa.String(64), nullable=True))
    _mac_existing_entries()


def downgrade() -> None:
    op.execute("ALTER TABLE audit_log DROP COLUMN mac")
