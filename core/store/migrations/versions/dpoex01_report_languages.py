"""The exercise report in two full versions: English beside the Dutch one.

Revision ID: dpoex01
Revises: cases03
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "dpoex01"
down_revision: str | None = "cases03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The existing html/pdf/public_html columns hold the Dutch version; older reports have no
    # English one until they are built again.
    with op.batch_alter_table("drill_reports") as batch:
        batch.add_column(sa.Column("html_en", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pdf_en", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("public_html_en", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("drill_reports") as batch:
        batch.drop_column("public_html_en")
        batch.drop_column("pdf_en")
        batch.drop_column("html_en")
