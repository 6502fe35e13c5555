//! The roster file the server was given (`roster`), read again whenever it
//! changes: the file stays the source of truth, and an alias the admin adds
//! (say, for an unattributed device) shows on the next request, without a
//! restart. A change is noticed by the file's modification time and size,
//! checked on each read (one `stat`); the parsed roster is kept until then.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use scoreboard_core::parse::{roster as roster_parse, ImportOptions};
use scoreboard_core::{Problem, Roster, RosterEntry};

use crate::store::{Store, StoreError};
use crate::sync::ADMIN_DIRECTORY;

/// The file as last read.
#[derive(Debug, Clone)]
pub struct RosterRead {
    /// The file's name (never its full path).
    pub name: String,
    pub entries: Vec<RosterEntry>,
    /// Lines that could not be read, or why the file could not be.
    pub problems: Vec<Problem>,
}

type Stamp = Option<(SystemTime, u64)>;

pub struct RosterFile {
    path: Option<PathBuf>,
    /// The stamp read with, and whether the file was missing then.
    cache: Mutex<Option<(Stamp, bool, Arc<RosterRead>)>>,
    /// Bumped each time the file is read again (part of the data version).
    generation: std::sync::atomic::AtomicU64,
}

impl RosterFile {
    pub fn new(path: Option<PathBuf>) -> RosterFile {
        RosterFile {
            path,
            cache: Mutex::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The file's roster, read again if it changed since the last call;
    /// `None` when no roster file is configured. Blocking (file I/O).
    pub fn read(&self) -> Option<Arc<RosterRead>> {
        let path = self.path.as_ref()?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "roster".into());
        let meta = std::fs::metadata(path);
        let missing = meta.is_err();
        let stamp: Stamp = meta.ok().and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((s, was_missing, r)) = cache.as_ref() {
            // A file still missing is not read again: each reading bumps the
            // data version, and a version that changes every second would
            // keep the page's answer from ever being made ahead.
            if (stamp.is_some() && *s == stamp) || (missing && *was_missing) {
                return Some(r.clone());
            }
        }
        let problem = |msg: String| RosterRead {
            name: name.clone(),
            entries: Vec::new(),
            problems: vec![Problem::new(&name, None, msg)],
        };
        let read = match std::fs::read(path) {
            Err(e) => problem(format!("cannot read the roster file: {e}")),
            Ok(bytes) => match roster_parse::parse(&name, &bytes, &ImportOptions::default()) {
                Ok(import) => RosterRead {
                    name: name.clone(),
                    entries: import.roster,
                    problems: import.problems,
                },
                Err(e) => problem(e.to_string()),
            },
        };
        let read = Arc::new(read);
        *cache = Some((stamp, missing, read.clone()));
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(read)
    }

    /// How many times the file was read: checks it first, so a change made
    /// since the last read counts. Blocking (one `stat`).
    pub fn generation(&self) -> u64 {
        let _ = self.read();
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The file's roster merged with the Admin API's users list, as the
    /// page gets it from `/api/roster`. Blocking.
    pub fn merged(&self, store: &Store) -> Result<Roster, StoreError> {
        let mut all = Vec::new();
        if let Some(r) = self.read() {
            all.extend(r.entries.iter().cloned());
        }
        if let Some((_, entries)) = store.directory(ADMIN_DIRECTORY)? {
            all.extend(entries);
        }
        Ok(Roster::new(all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoreboard_core::PersonKey;

    #[test]
    fn an_edited_roster_file_is_read_again_and_an_unchanged_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.csv");
        std::fs::write(&path, "email,aliases\nann@x.com,\n").unwrap();
        let f = RosterFile::new(Some(path.clone()));
        let first = f.read().unwrap();
        assert_eq!(first.entries.len(), 1);
        assert!(first.entries[0].aliases.is_empty());
        assert!(Arc::ptr_eq(&first, &f.read().unwrap()), "unchanged: kept");
        std::fs::write(&path, "email,aliases\nann@x.com,device:abc\nbob@x.com,\n").unwrap();
        let second = f.read().unwrap();
        assert_eq!(second.entries.len(), 2);
        assert_eq!(second.entries[0].aliases, vec![PersonKey::device("abc")]);
        std::fs::remove_file(&path).unwrap();
        let gone = f.read().unwrap();
        assert!(gone.entries.is_empty());
        assert!(gone.problems[0].to_string().contains("cannot read"));
    }
}
