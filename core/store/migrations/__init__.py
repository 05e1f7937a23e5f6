"""Alembic migrations of the relational database; applied by `core.store.relational.migrate`.

Domains add their tables as further revisions in `versions/` (`NNNN_<what>.py`, each with
`down_revision` set to the previous head). Migrations spell out their DDL instead of importing
models, so an old revision keeps meaning what it meant when it was written.
"""
