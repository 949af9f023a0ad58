//! The SQLite schema, its forward migrations (`PRAGMA user_version`) and connection
//! settings. Owns table layouts only; no other module issues DDL.
//!
//! Every column that could identify a patient or carry clinical meaning is a ciphertext;
//! ids are random, and the clear columns are listed in ARCHITECTURE.md, "The project file".

use rusqlite::Connection;

/// Migrations in order: index `i` takes a file from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;

-- Data keys by id; only the current one has grants. Counts encryptions for rotation.
CREATE TABLE keys (
    key_id      TEXT PRIMARY KEY,
    created_ms  INTEGER NOT NULL,
    encryptions INTEGER NOT NULL
) STRICT;

-- One per user (and one for the recovery code): the KEK-wrapped user secrets.
CREATE TABLE slots (
    user_id  BLOB PRIMARY KEY,
    name_tag INTEGER NOT NULL,
    kdf      TEXT NOT NULL,
    m_kib    INTEGER NOT NULL,
    t_cost   INTEGER NOT NULL,
    p_lanes  INTEGER NOT NULL,
    salt     BLOB NOT NULL,
    nonce    BLOB NOT NULL,
    wrapped  BLOB NOT NULL,
    checksum BLOB NOT NULL
) STRICT;
CREATE INDEX slots_by_tag ON slots(name_tag);

-- The PDK sealed to each member's X25519 public key.
CREATE TABLE grants (
    user_id BLOB NOT NULL,
    key_id  TEXT NOT NULL,
    eph_pk  BLOB NOT NULL,
    nonce   BLOB NOT NULL,
    ct      BLOB NOT NULL,
    PRIMARY KEY (user_id, key_id)
) STRICT;

-- Admin-signed membership records (append-only; the name is re-encrypted on rotation).
CREATE TABLE members (
    record_id BLOB PRIMARY KEY,
    user_id   BLOB NOT NULL,
    action    TEXT NOT NULL,
    role      TEXT NOT NULL,
    sign_pk   BLOB NOT NULL,
    box_pk    BLOB NOT NULL,
    key_id    TEXT NOT NULL,
    name_nonce BLOB NOT NULL,
    name_ct   BLOB NOT NULL,
    signer_id BLOB NOT NULL,
    time_ms   INTEGER NOT NULL,
    signature BLOB NOT NULL
) STRICT;

-- The history: never updated, never deleted (triggers below).
CREATE TABLE events (
    event_id   BLOB PRIMARY KEY,
    author_id  BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    prev_hash  BLOB NOT NULL,
    parents    BLOB NOT NULL,
    hlc        INTEGER NOT NULL,
    op         TEXT NOT NULL,
    target     BLOB NOT NULL,
    commitment BLOB NOT NULL,
    event_hash BLOB NOT NULL,
    signature  BLOB NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_by_author ON events(author_id, seq);
CREATE INDEX events_by_hlc ON events(hlc, event_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- Event payload ciphertexts, chunked; rewritten only by a data-key rotation.
CREATE TABLE event_payloads (
    event_id BLOB NOT NULL,
    chunk    INTEGER NOT NULL,
    key_id   TEXT NOT NULL,
    nonce    BLOB NOT NULL,
    ct       BLOB NOT NULL,
    PRIMARY KEY (event_id, chunk)
) STRICT;

-- Per author: the last sequence number and hash, signed (detects a truncated tail).
CREATE TABLE tips (
    author_id  BLOB PRIMARY KEY,
    seq        INTEGER NOT NULL,
    event_hash BLOB NOT NULL,
    signature  BLOB NOT NULL
) STRICT;

-- Events no other event names as a parent (the next event's parents).
CREATE TABLE heads (
    event_id BLOB PRIMARY KEY
) STRICT;

-- The current annotations: a cache that always equals the replay of `events`.
CREATE TABLE annotations (
    annotation_id BLOB PRIMARY KEY,
    image_bidx    BLOB NOT NULL,
    event_id      BLOB NOT NULL,
    key_id        TEXT NOT NULL,
    nonce         BLOB NOT NULL,
    ct            BLOB NOT NULL
) STRICT;
CREATE INDEX annotations_by_image ON annotations(image_bidx);

-- The audit log: per-actor chains, signed; `chain` = NIL for unauthenticated entries.
CREATE TABLE audit (
    entry_id   BLOB PRIMARY KEY,
    chain      BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    prev_hash  BLOB NOT NULL,
    time_ms    INTEGER NOT NULL,
    action     TEXT NOT NULL,
    outcome    INTEGER NOT NULL,
    subject    BLOB,
    key_id     TEXT,
    obj_nonce  BLOB,
    obj_ct     BLOB,
    obj_commit BLOB,
    witness    BLOB NOT NULL,
    entry_hash BLOB NOT NULL,
    signature  BLOB
) STRICT;
CREATE UNIQUE INDEX audit_by_chain ON audit(chain, seq);
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    // 2: sync. An author's line may fork (the same person edited two copies), so (author,
    // seq) is no longer unique and there is one signed tip per leaf; events are found by
    // annotation for re-materialising; the cache holds multi-value registers (`merge`), so
    // the old cache is dropped and rebuilt at the next unlock (`cache_rebuild`).
    r#"
DROP INDEX events_by_author;
CREATE INDEX events_by_author ON events(author_id, seq);
CREATE INDEX events_by_target ON events(target, hlc);
CREATE TABLE tips_v2 (
    author_id  BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    event_hash BLOB NOT NULL,
    signature  BLOB NOT NULL,
    PRIMARY KEY (author_id, event_hash)
) STRICT;
INSERT INTO tips_v2 SELECT author_id, seq, event_hash, signature FROM tips;
DROP TABLE tips;
ALTER TABLE tips_v2 RENAME TO tips;
DELETE FROM annotations;
INSERT OR REPLACE INTO meta (name, value) VALUES ('cache_rebuild', X'01');
"#,
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Why the schema cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "project format version {found} is newer than this Tessera supports ({LATEST}); update Tessera"
    )]
    TooNew { found: i64 },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Durable, private settings for every connection: WAL, FULL sync, temp data in memory,
/// deleted content overwritten.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Plans never depend on bound values: without this, binding a new value to a
    // statement whose plan could depend on it recompiles the statement at its next
    // step (a third of a commit's CPU time once went to re-parsing).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// The file's schema version.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the schema forward to [`LATEST`], one transaction per step.
pub fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let found = version(conn)?;
    if found > LATEST {
        return Err(SchemaError::TooNew { found });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;

    #[test]
    fn migrates_and_refuses_newer_files() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        assert_eq!(version(&c).unwrap(), LATEST);
        migrate(&mut c).unwrap();
        c.pragma_update(None, "user_version", LATEST + 1).unwrap();
        assert!(matches!(migrate(&mut c), Err(SchemaError::TooNew { .. })));
        let sqlite = rusqlite::version_number();
        assert!(
            sqlite >= 3_051_003,
            "bundled SQLite {sqlite} has the WAL-reset bug"
        );
    }
}
