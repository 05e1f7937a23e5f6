"""Storage behind small protocols.

Events and alerts: SQLite | Elasticsearch. Relational records: SQLAlchemy.
"""
