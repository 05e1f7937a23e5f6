"""The spool file's SQL: its schema, the upgrade from schema 1, and the hot statements.

Kept apart from `collectors.spool` so that module holds the logic; see its docstring for what
each table guarantees. `idempotency_keys` belongs to HTTP ingest (`collectors.http_ingest`) and
`relp_unconfirmed` to RELP (`collectors.relp_store`): both are written in the same transaction
as the events they vouch for, which is why they live in this file.
"""

# `last` is the sequence number of the row's last event; the row holds `count` events as one
# JSON array. `spool_acked` has one row: every event up to `up_to` is stored downstream.
SCHEMA = """
CREATE TABLE IF NOT EXISTS spool_batches (
    last INTEGER PRIMARY KEY,
    count INTEGER NOT NULL CHECK (count > 0),
    source TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS spool_acked (
    only INTEGER PRIMARY KEY CHECK (only = 0),
    up_to INTEGER NOT NULL
);
INSERT OR IGNORE INTO spool_acked (only, up_to) VALUES (0, 0);
CREATE TABLE IF NOT EXISTS spool_dead (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    "offset" INTEGER,
    raw BLOB NOT NULL,
    raw_length INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at);
CREATE TABLE IF NOT EXISTS relp_unconfirmed (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    peer TEXT NOT NULL,
    session TEXT NOT NULL,
    digest BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS relp_unconfirmed_digest ON relp_unconfirmed (peer, digest);
CREATE TABLE IF NOT EXISTS source_counters (
    source TEXT PRIMARY KEY,
    received INTEGER NOT NULL DEFAULT 0,
    parsed INTEGER NOT NULL DEFAULT 0,
    dead_lettered INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER
);
"""

# Schema 1 -> 2: every unacknowledged event becomes a row of one, keeping its id as sequence
# number (ids were contiguous there too). The CREATE makes the step harmless for a second
# process that read version 1 before the first one upgraded the file.
FROM_VERSION_1 = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    body BLOB NOT NULL
);
INSERT INTO spool_batches (last, count, source, body)
    SELECT id, 1, source, CAST('[' || CAST(body AS TEXT) || ']' AS BLOB) FROM spool;
DROP TABLE spool;
"""

# The sequence number before the next row's first event: past every row and every ack.
HIGH_WATER = (
    "SELECT max(coalesce((SELECT max(last) FROM spool_batches), 0), "
    "(SELECT up_to FROM spool_acked))"
)
UNACKED = (
    "SELECT b.last, b.count, b.body, a.up_to FROM spool_batches AS b, spool_acked AS a "
    "WHERE b.last > a.up_to ORDER BY b.last"
)

BUMP = """
INSERT INTO source_counters (source, received, parsed, dead_lettered, dropped, last_seen)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (source) DO UPDATE SET
    received = received + excluded.received,
    parsed = parsed + excluded.parsed,
    dead_lettered = dead_lettered + excluded.dead_lettered,
    dropped = dropped + excluded.dropped,
    last_seen = coalesce(max(last_seen, excluded.last_seen), last_seen, excluded.last_seen)
"""
