"""One token model: collector tokens become source-bound `ingest` API tokens.

`collector_tokens` rows are copied into `api_tokens` with scope `ingest`, their source in the
new `source` column and no user (a collector acts for no account). Both tables stored the
SHA-256 hex of the whole token, so the old `dwi_...` secrets keep working unchanged; then
`collector_tokens` is dropped.

Revision ID: tokens01
Revises: ldv01
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "tokens01"
down_revision: str | None = "ldv01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What `core.accounts.tokens` recognises as a migrated collector token.
LEGACY_PREFIX = "dwi_"
MIGRATED_BY = "migration tokens01 (collector token)"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("source", sa.String(64), nullable=True))
        batch.create_index("ix_api_tokens_source", ["source"])
    # In SQL, so the stored times and hashes move as they are; a JSON literal needs a cast on
    # PostgreSQL, while SQLite stores JSON as text (a CAST there would make it a number).
    scopes = "'[\"ingest\"]'"
    if op.get_bind().dialect.name == "postgresql":
        scopes = f"CAST({scopes} AS JSON)"
    op.execute(
        "INSERT INTO api_tokens (user_id, name, prefix, token_hash, scopes, source, created_at, "
        "created_by, revoked_at) "
        f"SELECT NULL, 'collector ' || source, '{LEGACY_PREFIX}', token_sha256, {scopes}, "
        f"source, created_at, '{MIGRATED_BY}', revoked_at FROM collector_tokens ORDER BY id"
    )
    op.drop_index("ix_collector_tokens_source", table_name="collector_tokens")
    op.drop_table("collector_tokens")


def downgrade() -> None:
    op.create_table(
        "collector_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("token_sha256", name="uq_collector_tokens_token_sha256"),
    )
    op.create_index("ix_collector_tokens_source", "collector_tokens", ["source"])
    # User-less tokens are the collector tokens; tokens of users keep their rows (the source
    # binding is lost, which only widens what an ingest token of a user may post to).
    op.execute(
        "INSERT INTO collector_tokens (source, token_sha256, created_at, revoked_at) "
        "SELECT source, token_hash, created_at, revoked_at FROM api_tokens "
        "WHERE user_id IS NULL AND source IS NOT NULL"
    )
    op.execute("DELETE FROM api_tokens WHERE user_id IS NULL")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_source")
        batch.drop_column("source")
        batch.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
