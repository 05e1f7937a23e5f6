"""The migration history stays one straight line, so `migrate()` to head is always defined."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from core.store.relational import alembic_config


def test_exactly_one_head(settings) -> None:
    script = ScriptDirectory.from_config(alembic_config(settings, None))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations branch: heads {heads}; chain the newest on the previous"
