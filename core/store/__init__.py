"""Storage behind small protocols: events and alerts (SQLite | Elasticsearch), relational records (SQLAlchemy)."""
