//! The exports folder (`serve --imports DIR`, `imports_dir`): every usage
//! export (CSV) and Admin / Enterprise API JSON dump saved in one folder,
//! read with core's parsers and served with the live sources. A Team-plan
//! admin who saves the weekly export into a shared folder gets a live
//! dashboard, digest and feeds without telemetry.
//!
//! Precedence is core's, the page's: files are inserted into one
//! [`UsageTable`] oldest first (by modification time, then name), so a later
//! file of the same source replaces the same person-day **measure by
//! measure** (metrics.md §1; [`UsageTable::merge`]), exactly as files
//! dropped on the page one after the other. Between sources the engine picks
//! the most authoritative row per person-day, as for every other row.
//!
//! A change is noticed by listing the folder and comparing each file's
//! modification time and size (as the roster file is, [`crate::roster_file`]),
//! on each read; only changed files are parsed again. Each change bumps
//! [`ImportsSnapshot::generation`], part of the server's data version.
//!
//! Bounds: at most [`MAX_FILES`] files, [`MAX_FILE_BYTES`] per file and
//! [`MAX_TOTAL_BYTES`] in all are read; hidden files, sub-folders and other
//! extensions are not read; a symbolic link is followed only when it points
//! inside the folder. A file that cannot be read is reported by name with the
//! reason, a bad line by name, line and reason; the other files and the
//! good rows of a bad file are kept.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use scoreboard_core::parse::{self, FileKind, ImportOptions};
use scoreboard_core::{DayRange, DayRow, PeriodRow, Source, SourceCoverage, UsageTable};

/// Files read from the folder at most (the first by name).
pub const MAX_FILES: usize = 1000;
/// Bytes read from one file at most.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Bytes read from the folder at most, all files together.
pub const MAX_TOTAL_BYTES: u64 = 512 * 1024 * 1024;
/// Problems listed per file in `/api/sources` (`problems_total` counts all).
pub const PROBLEMS_LISTED: usize = 20;

/// File name endings read (case-insensitive).
const EXTENSIONS: [&str; 4] = ["csv", "tsv", "txt", "json"];

pub use scoreboard_core::api::{ImportedFile, Skipped};

/// The folder as last read: what `/api/sources` shows of it (core's wire
/// type, [`ImportsSnapshot::wire`]) and the table of its files' rows.
#[derive(Debug, Clone, Default)]
pub struct ImportsSnapshot {
    pub wire: scoreboard_core::api::ImportsSnapshot,
    pub table: UsageTable,
}

impl ImportsSnapshot {
    /// What `/api/sources` shows of the folder: everything but the table.
    pub fn wire(&self) -> scoreboard_core::api::ImportsSnapshot {
        self.wire.clone()
    }

    /// The folder's person-day rows of `from..=to`.
    pub fn rows(&self, from: NaiveDate, to: NaiveDate) -> Vec<DayRow> {
        self.rows_in(from, to).collect()
    }

    /// The folder's person-day rows of `from..=to`, in the table's order,
    /// each made from its columns as it is asked for.
    pub fn rows_in(&self, from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = DayRow> + '_ {
        self.table
            .day_rows()
            .filter(move |r| r.day >= from && r.day <= to)
    }

    /// Period rows (exports or API dumps of a range) that overlap `from..=to`.
    pub fn periods(&self, from: NaiveDate, to: NaiveDate) -> Vec<PeriodRow> {
        self.table
            .periods()
            .iter()
            .filter(|p| p.end >= from && p.start <= to)
            .cloned()
            .collect()
    }

    /// The days each source of the folder covers, inside `from..=to`; no
    /// freshness (a file is not a sync).
    pub fn coverage(&self, from: NaiveDate, to: NaiveDate) -> Vec<SourceCoverage> {
        self.table
            .coverage()
            .into_iter()
            .map(|c| SourceCoverage {
                source: c.source,
                ranges: DayRange::clip(&c.ranges, from, to),
                freshness: None,
            })
            .filter(|c| !c.ranges.is_empty())
            .collect()
    }

    /// Rows the folder gives, per source.
    pub fn row_counts(&self) -> BTreeMap<Source, u64> {
        let mut out = self.table.day_counts();
        for p in self.table.periods() {
            *out.entry(p.source).or_default() += 1;
        }
        out
    }

    /// The folder in one or two sentences, for the source bar.
    pub fn status_text(&self) -> String {
        if let Some(e) = &self.wire.error {
            return format!("The exports folder cannot be read: {e}");
        }
        let used = self.wire.files.iter().filter(|f| f.error.is_none()).count();
        let bad = self.wire.files.len() - used;
        let rows: u64 = self.row_counts().values().sum();
        if self.wire.files.is_empty() {
            return "No usage export or API dump in the exports folder yet: save Claude Code CSV exports \
                    (or Admin / Enterprise API JSON) there and they are read within a minute."
                .to_string();
        }
        let mut s = format!(
            "{used} of {} read, {rows} rows.",
            plural(self.wire.files.len(), "file", "files")
        );
        let with_problems = self
            .wire
            .files
            .iter()
            .filter(|f| f.error.is_none() && f.problems_total > 0)
            .count();
        if bad > 0 {
            s.push_str(&format!(
                " {} could not be used.",
                plural(bad, "file", "files")
            ));
        }
        if with_problems > 0 {
            s.push_str(&format!(
                " {} had lines that could not be read (their other lines are used).",
                plural(with_problems, "file", "files")
            ));
        }
        s
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

type Stamp = (SystemTime, u64);

/// One file as parsed, kept until it changes.
struct Parsed {
    stamp: Stamp,
    file: ImportedFile,
    /// The file's rows, periods and coverage (core's table of the file alone).
    rows: Option<Arc<UsageTable>>,
}

#[derive(Default)]
struct State {
    parsed: BTreeMap<String, Parsed>,
    /// The names and stamps of the last listing, in the order applied.
    listing: Vec<(String, Stamp)>,
    skipped_names: Vec<(String, String)>,
    snapshot: Arc<ImportsSnapshot>,
    listed_once: bool,
    error: Option<String>,
}

/// The configured folder (or none).
pub struct ImportsDir {
    dir: Option<PathBuf>,
    state: Mutex<State>,
}

/// What the listing found: files to read (name, path, stamp), skipped ones.
struct Listing {
    files: Vec<(String, PathBuf, Stamp)>,
    skipped: Vec<(String, String)>,
}

fn list(dir: &Path) -> std::io::Result<Listing> {
    let canonical_dir = dir.canonicalize()?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name.starts_with('~') {
            continue; // hidden files, editors' and spreadsheets' lock files
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let meta = if meta.file_type().is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.starts_with(&canonical_dir) => {
                    match std::fs::metadata(&target) {
                        Ok(m) => m,
                        Err(_) => continue,
                    }
                }
                Ok(_) => {
                    skipped.push((
                        name,
                        "a link to a file outside the exports folder: not followed".to_string(),
                    ));
                    continue;
                }
                Err(_) => {
                    skipped.push((name, "a link to nothing: not followed".to_string()));
                    continue;
                }
            }
        } else {
            meta
        };
        if !meta.is_file() {
            continue; // sub-folders are not read
        }
        let ext = Path::new(&name)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if !EXTENSIONS.contains(&ext.as_str()) {
            skipped.push((
                name,
                "not a .csv, .tsv, .txt or .json file: not read".to_string(),
            ));
            continue;
        }
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        files.push((name, path, (modified, meta.len())));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if files.len() > MAX_FILES {
        for (name, _, _) in files.drain(MAX_FILES..) {
            skipped.push((
                name,
                format!("the exports folder holds more than {MAX_FILES} files; only the first {MAX_FILES} by name are read"),
            ));
        }
    }
    // Applied oldest first: a later file replaces an earlier one.
    files.sort_by(|a, b| (a.2 .0, &a.0).cmp(&(b.2 .0, &b.0)));
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Listing { files, skipped })
}

/// Reads at most `cap` bytes; `Err` with the reason when the file is larger.
fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let mut bytes = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "is larger than {} MiB, more than the exports folder reads; split the export",
            cap / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

fn parse_file(name: &str, path: &Path, stamp: Stamp, budget: &mut u64) -> Parsed {
    let mut file = ImportedFile {
        name: name.to_string(),
        kind: None,
        bytes: stamp.1,
        modified: Some(DateTime::<Utc>::from(stamp.0)),
        day_rows: 0,
        period_rows: 0,
        coverage: Vec::new(),
        error: None,
        problems: Vec::new(),
        problems_total: 0,
        warnings: Vec::new(),
    };
    let failed = |mut file: ImportedFile, why: String| {
        file.error = Some(why);
        Parsed {
            stamp,
            file,
            rows: None,
        }
    };
    let cap = MAX_FILE_BYTES.min(*budget);
    let bytes = match read_capped(path, cap) {
        Ok(b) => b,
        Err(why) if cap < MAX_FILE_BYTES => {
            return failed(
                file,
                format!(
                    "not read: the exports folder's files together are larger than {} MiB ({why})",
                    MAX_TOTAL_BYTES / (1024 * 1024)
                ),
            )
        }
        Err(why) => return failed(file, format!("{name} {why}")),
    };
    *budget = budget.saturating_sub(bytes.len() as u64);
    match parse::import_table(name, &bytes, &ImportOptions::default()) {
        Err(e) => failed(file, e.to_string()),
        Ok((import, _)) if import.kind == FileKind::Roster => failed(
            file,
            format!(
                "{name} is a roster, not usage: the server reads its roster from the `roster` setting"
            ),
        ),
        Ok((import, rows)) => {
            file.kind = Some(import.kind);
            file.day_rows = rows.day_count() as u64;
            file.period_rows = rows.periods().len() as u64;
            file.coverage = import.coverage.clone();
            file.problems_total = import.problems.len() as u64;
            file.problems = import.problems.iter().take(PROBLEMS_LISTED).cloned().collect();
            file.warnings = import.warnings.iter().map(ToString::to_string).collect();
            // The listed problems are kept with the file; the rows with the table.
            Parsed {
                stamp,
                file,
                rows: Some(Arc::new(rows)),
            }
        }
    }
}

impl ImportsDir {
    pub fn new(dir: Option<PathBuf>) -> ImportsDir {
        ImportsDir {
            dir,
            state: Mutex::new(State::default()),
        }
    }

    pub fn configured(&self) -> bool {
        self.dir.is_some()
    }

    /// The folder's name (its last component, never the full path).
    pub fn name(&self) -> Option<String> {
        self.dir.as_ref().map(|d| {
            d.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| d.display().to_string())
        })
    }

    /// The folder as it is now: listed again, changed files parsed again.
    /// `None` when no folder is configured. Blocking (file I/O).
    pub fn read(&self, now: DateTime<Utc>) -> Option<Arc<ImportsSnapshot>> {
        let dir = self.dir.as_ref()?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let listing = match list(dir) {
            Ok(l) => l,
            Err(e) => {
                // The folder's name only: the server's paths are not the viewers' business.
                let error = Some(format!("{}: {e}", self.name().unwrap_or_default()));
                if st.error != error || !st.listed_once {
                    // Once per error: the folder is listed every second
                    // (`rows::keep_warm`) and on every request.
                    tracing::warn!(folder = %dir.display(), error = %e, "cannot list the exports folder");
                    st.error = error.clone();
                    st.listed_once = true;
                    st.parsed.clear();
                    st.listing.clear();
                    let generation = st.snapshot.wire.generation + 1;
                    st.snapshot = Arc::new(ImportsSnapshot {
                        wire: scoreboard_core::api::ImportsSnapshot {
                            generation,
                            read_at: Some(now),
                            error,
                            ..Default::default()
                        },
                        table: UsageTable::new(),
                    });
                }
                return Some(st.snapshot.clone());
            }
        };
        let names: Vec<(String, Stamp)> = listing
            .files
            .iter()
            .map(|(n, _, s)| (n.clone(), *s))
            .collect();
        if st.listed_once
            && st.error.is_none()
            && names == st.listing
            && listing.skipped == st.skipped_names
        {
            return Some(st.snapshot.clone());
        }
        let mut budget = MAX_TOTAL_BYTES;
        let mut parsed = BTreeMap::new();
        for (name, path, stamp) in &listing.files {
            let kept = st
                .parsed
                .remove(name)
                .filter(|p| p.stamp == *stamp && p.file.error.is_none());
            let p = match kept {
                Some(p) => {
                    budget = budget.saturating_sub(p.stamp.1);
                    p
                }
                None => parse_file(name, path, *stamp, &mut budget),
            };
            parsed.insert(name.clone(), p);
        }
        let mut table = UsageTable::new();
        let mut files = Vec::new();
        for (name, _) in &names {
            let Some(p) = parsed.get(name) else { continue };
            if let Some(rows) = &p.rows {
                table.merge(UsageTable::clone(rows));
            }
            files.push(p.file.clone());
        }
        let generation = st.snapshot.wire.generation + 1;
        st.snapshot = Arc::new(ImportsSnapshot {
            wire: scoreboard_core::api::ImportsSnapshot {
                generation,
                read_at: Some(now),
                files,
                skipped: listing
                    .skipped
                    .iter()
                    .map(|(name, reason)| Skipped {
                        name: name.clone(),
                        reason: reason.clone(),
                    })
                    .collect(),
                error: None,
            },
            table,
        });
        st.parsed = parsed;
        st.listing = names;
        st.skipped_names = listing.skipped;
        st.listed_once = true;
        st.error = None;
        tracing::info!(
            files = st.snapshot.wire.files.len(),
            generation,
            "exports folder read"
        );
        Some(st.snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_named_without_its_path_and_read_once_it_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("exports");
        let f = ImportsDir::new(Some(dir.clone()));
        let now = Utc::now();
        let missing = f.read(now).unwrap();
        let error = missing.wire.error.clone().unwrap();
        assert!(error.starts_with("exports: "), "{error}");
        assert!(
            !error.contains(&tmp.path().display().to_string()),
            "{error}"
        );
        assert!(missing.status_text().contains("cannot be read"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("u.csv"),
            "Date,Email,Sessions\n2026-11-16,a@x.com,2\n",
        )
        .unwrap();
        let read = f.read(now).unwrap();
        assert!(read.wire.error.is_none());
        assert!(read.wire.generation > missing.wire.generation);
        assert_eq!(read.row_counts().get(&Source::Csv), Some(&1));
        // Unchanged: the same snapshot, no new generation.
        assert!(Arc::ptr_eq(&read, &f.read(now).unwrap()));
    }
}
