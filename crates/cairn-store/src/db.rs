//! The store database: SQLite in WAL mode, schema version 1.
//!
//! ```sql
//! meta(key, value)                      -- schema_version = 1
//! objects(id, path, nar_hash, nar_size, addressing, permissions, metadata, listing)
//! refs(referrer -> objects.id ON DELETE CASCADE, reference -> objects.id ON DELETE RESTRICT)
//! roots(name, object -> objects.id ON DELETE RESTRICT)
//! ```
//! The foreign keys enforce the closure invariant inside SQLite itself: an object whose
//! references are not registered cannot be inserted, and an object something still
//! refers to (or a named root names) cannot be deleted.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{Result, StoreError};

pub(crate) const SCHEMA_VERSION: u32 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS objects (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    nar_hash    TEXT NOT NULL,
    nar_size    INTEGER NOT NULL,
    addressing  TEXT NOT NULL,
    permissions BLOB NOT NULL,
    metadata    BLOB NOT NULL,
    listing     BLOB NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS refs (
    referrer  INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    reference INTEGER NOT NULL REFERENCES objects(id) ON DELETE RESTRICT,
    PRIMARY KEY (referrer, reference)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refs_by_reference ON refs(reference);
CREATE TABLE IF NOT EXISTS roots (
    name   TEXT PRIMARY KEY,
    object INTEGER NOT NULL REFERENCES objects(id) ON DELETE RESTRICT
) STRICT;
";

/// Opens (creating if needed) the database and checks its schema version.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    // SQLite answers SQLITE_BUSY without consulting the busy handler in a few places
    // (WAL recovery, a WAL being checkpointed away by a closing connection, the switch
    // to WAL on a new database). Opening is safe to repeat, so retry with backoff for
    // as long as the busy timeout would have waited.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match open_once(path) {
            Err(StoreError::Database(rusqlite::Error::SqliteFailure(e, _)))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            result => return result,
        }
    }
}

/// How long store operations wait for each other.
const BUSY_TIMEOUT: Duration = Duration::from_mins(2);

fn open_once(path: &Path) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    // Several cairn processes share one store: wait for each other rather than fail.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // WAL + NORMAL is consistent after a crash; a lost last registration only leaves an
    // unregistered directory, which the next add or gc removes.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(SCHEMA)?;
    let found: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    match found {
        None => {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION.to_string()],
            )?;
        }
        Some(v) if v == SCHEMA_VERSION.to_string() => {}
        Some(found) => {
            return Err(StoreError::SchemaVersion {
                path: path.to_owned(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
    }
    tx.commit()?;
    Ok(conn)
}

/// The row id of a registered object.
pub(crate) fn object_id(conn: &Connection, path: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM objects WHERE path = ?1",
            params![path],
            |row| row.get(0),
        )
        .optional()?)
}
