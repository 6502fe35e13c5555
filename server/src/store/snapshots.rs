//! The `snapshots` table: frozen share snapshots as the page sent them
//! (`crate::snapshots` decides who may store, list and delete what). Plain
//! values in and out; the caller's clock stamps `created_at`.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};

/// What one owner and the whole server keep now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotUsage {
    /// The owner's snapshots.
    pub count: u64,
    /// The owner's bytes.
    pub owner_bytes: u64,
    /// Everyone's bytes.
    pub all_bytes: u64,
}

/// A snapshot to keep: the encoded text and what the list shows of it.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    pub id: String,
    /// RFC 3339, milliseconds, UTC: sorts as text.
    pub created_at: String,
    pub privacy: String,
    pub description: String,
    pub body: String,
    pub owner: String,
}

/// One row of a list (without the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    pub id: String,
    pub created_at: String,
    pub privacy: String,
    pub description: String,
    pub bytes: u64,
    /// Stored by the owner the list was asked for.
    pub mine: bool,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// The snapshot exists but is someone else's, and the asker may not manage all.
    NotOwner,
    NotFound,
}

fn usage(c: &rusqlite::Connection, owner: &str) -> Result<SnapshotUsage, rusqlite::Error> {
    c.query_row(
        "SELECT COUNT(*) FILTER (WHERE owner = ?1),
                COALESCE(SUM(length(body)) FILTER (WHERE owner = ?1), 0),
                COALESCE(SUM(length(body)), 0)
         FROM snapshots",
        [owner],
        |r| {
            Ok(SnapshotUsage {
                count: r.get::<_, i64>(0)?.max(0) as u64,
                owner_bytes: r.get::<_, i64>(1)?.max(0) as u64,
                all_bytes: r.get::<_, i64>(2)?.max(0) as u64,
            })
        },
    )
}

impl Store {
    /// What `owner` and everyone keep now.
    pub fn snapshot_usage(&self, owner: &str) -> Result<SnapshotUsage, StoreError> {
        Ok(usage(&self.conn(), owner)?)
    }

    /// Keeps `s` unless `refuse` (asked with the usage read in the same write
    /// transaction, so two posts at once cannot both fit the last slot) gives
    /// a reason not to; that reason is returned and nothing is written.
    pub fn insert_snapshot<R>(
        &self,
        s: &NewSnapshot,
        refuse: impl FnOnce(SnapshotUsage) -> Option<R>,
    ) -> Result<Option<R>, StoreError> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction()?;
        if let Some(why) = refuse(usage(&tx, &s.owner)?) {
            return Ok(Some(why));
        }
        tx.execute(
            "INSERT INTO snapshots (id, created_at, privacy, description, body, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![s.id, s.created_at, s.privacy, s.description, s.body, s.owner],
        )?;
        tx.commit()?;
        Ok(None)
    }

    /// The stored text of one snapshot.
    pub fn snapshot_body(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT body FROM snapshots WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?)
    }

    /// `owner`'s snapshots (everyone's when `all`), newest first.
    pub fn snapshots(&self, owner: &str, all: bool) -> Result<Vec<StoredSnapshot>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, created_at, privacy, description, length(body), owner = ?1 FROM snapshots
             WHERE ?2 OR owner = ?1
             ORDER BY created_at DESC, rowid DESC",
        )?;
        let rows = stmt
            .query_map(params![owner, all], |r| {
                Ok(StoredSnapshot {
                    id: r.get(0)?,
                    created_at: r.get(1)?,
                    privacy: r.get(2)?,
                    description: r.get(3)?,
                    bytes: r.get::<_, i64>(4)?.max(0) as u64,
                    mine: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Deletes snapshot `id` if `owner` stored it, or any when `all`.
    pub fn delete_snapshot(&self, id: &str, owner: &str, all: bool) -> Result<Deleted, StoreError> {
        let conn = self.conn();
        let n = conn.execute(
            "DELETE FROM snapshots WHERE id = ?1 AND (?3 OR owner = ?2)",
            params![id, owner, all],
        )?;
        if n > 0 {
            return Ok(Deleted::Deleted);
        }
        let exists = conn
            .query_row("SELECT 1 FROM snapshots WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some();
        Ok(if exists {
            Deleted::NotOwner
        } else {
            Deleted::NotFound
        })
    }
}
