"""Every table of the SQLite store, created together by ``SqliteDatabase.create_schema`` (never on open).

Rules (``rules_meta`` + ``rules``), the ledger (with its ``events_seen`` marks), the budgets and the
reconciler's state live in one file, so one set-up step (``acr-sync rules apply`` or ``acr-sync tables
init``) makes a store every function can use.
"""

from __future__ import annotations

from acrsync.domain.ledger import FIELDS

_LEDGER_COLUMNS = ", ".join(f"{name} {'TEXT PRIMARY KEY' if name == 'claim_id' else ''}" for name in FIELDS)

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS rules_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        channels TEXT NOT NULL
    )""",
    "INSERT OR IGNORE INTO rules_meta (id, version, updated_at, channels) VALUES (1, 0, 0.0, '{}')",
    "CREATE TABLE IF NOT EXISTS rules (name TEXT PRIMARY KEY, position INTEGER NOT NULL, body TEXT NOT NULL)",
    f"CREATE TABLE IF NOT EXISTS ledger ({_LEDGER_COLUMNS})",
    "CREATE INDEX IF NOT EXISTS ledger_open ON ledger (state, next_check_at)",
    "CREATE INDEX IF NOT EXISTS ledger_task ON ledger (task_id)",
    "CREATE INDEX IF NOT EXISTS ledger_created ON ledger (created_at)",
    "CREATE TABLE IF NOT EXISTS budgets (key TEXT PRIMARY KEY, spent TEXT NOT NULL)",
    # The last completion event the watchers handled per source instance (SqliteLedger.note_events).
    "CREATE TABLE IF NOT EXISTS events_seen (instance TEXT PRIMARY KEY, at REAL NOT NULL)",
    # The reconciler's cursor and last pass (adapters.state_store).
    "CREATE TABLE IF NOT EXISTS reconcile_state "
    "(state_key TEXT PRIMARY KEY, doc TEXT NOT NULL, revision INTEGER NOT NULL)",
)


# Every table the statements above create: a set-up store missing one was made by an older acr-sync.
EXPECTED_TABLES = frozenset(
    statement.split("EXISTS", 1)[1].split("(", 1)[0].strip()
    for statement in SCHEMA
    if statement.lstrip().startswith("CREATE TABLE")
)
