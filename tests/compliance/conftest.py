"""Fixtures for the compliance tests: the breach tests' settings, database, clock and DPO."""

from __future__ import annotations

from tests.playbooks.breach.conftest import clock, db, dpo, settings

__all__ = ["clock", "db", "dpo", "settings"]
