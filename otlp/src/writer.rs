//! Group commit: one thread owns the write connection and stores decoded
//! requests in groups, one transaction per group.
//!
//! Claude Code sends small batches (4–5 points each), so one transaction
//! (and one WAL sync) per request was what bounded ingest. The thread
//! waits for a request, then takes every request that queued up meanwhile
//! (at most `max_group`): while one commit runs the next group gathers, so
//! groups grow with the load and a lone request is not held back by a
//! timer. A request that fails is rolled back alone and answered with its
//! error, the others of its group are kept: a group is stored without
//! savepoints, and only when one of its requests fails is it stored again
//! with a savepoint per request (see [`commit`]). Every request of a group
//! is answered only after the group's COMMIT returned, with its own
//! outcome; if the group cannot begin or commit (the database is locked
//! past the busy timeout, the disk failed), every request of it is answered
//! with that error and nothing of it is stored.
//!
//! The queue in front of the thread is bounded: when it is full a request
//! is refused at once ([`OtlpError::QueueFull`], 503 + Retry-After), so
//! waiting requests (and the memory they hold) cannot pile up.

use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, LastPrune, Outcome, Request, Tally};
use crate::OtlpError;

type Answer = oneshot::Sender<Result<Outcome, OtlpError>>;

struct Job {
    request: Request,
    answer: Answer,
}

pub(crate) struct Writer {
    /// `None` once closing: the thread sees the queue end and stops.
    queue: Option<mpsc::Sender<Job>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(crate) fn start(
        conn: Connection,
        busy_timeout: Duration,
        queue_capacity: usize,
        max_group: usize,
    ) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel(queue_capacity.max(1));
        let max_group = max_group.max(1);
        let thread = std::thread::Builder::new()
            .name("otlp-writer".into())
            .spawn(move || run(conn, rx, busy_timeout, max_group))?;
        Ok(Writer {
            queue: Some(tx),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `request` for the next group and waits for that group's commit.
    pub(crate) async fn store(&self, request: Request) -> Result<Outcome, OtlpError> {
        let queue = self.queue.as_ref().ok_or(OtlpError::WriterStopped)?;
        let (answer, answered) = oneshot::channel();
        queue
            .try_send(Job { request, answer })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => OtlpError::QueueFull,
                mpsc::error::TrySendError::Closed(_) => OtlpError::WriterStopped,
            })?;
        // A dropped answer means the thread is gone (it never drops one otherwise).
        answered.await.unwrap_or(Err(OtlpError::WriterStopped))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once the groups already queued
        // are committed and answered; waiting for it means the connection
        // is closed when the receiver is gone (a restart reopens the file).
        self.queue = None;
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

fn run(mut conn: Connection, mut queue: mpsc::Receiver<Job>, busy: Duration, max_group: usize) {
    let mut last_prune: LastPrune = None;
    let mut group: Vec<Job> = Vec::with_capacity(max_group);
    while let Some(first) = queue.blocking_recv() {
        group.push(first);
        while group.len() < max_group {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        match commit(&mut conn, &group, &mut last_prune) {
            Ok(outcomes) => {
                for (job, outcome) in group.drain(..).zip(outcomes) {
                    let _ = job
                        .answer
                        .send(outcome.map_err(|e| store::map_err(busy, e)));
                }
            }
            Err(e) => {
                let shared = store::map_err(busy, e);
                for job in group.drain(..) {
                    let _ = job.answer.send(Err(copy(&shared)));
                }
            }
        }
    }
}

/// The group's error, for each of its requests (`rusqlite::Error` cannot be cloned).
fn copy(e: &OtlpError) -> OtlpError {
    match e {
        OtlpError::Busy(d) => OtlpError::Busy(*d),
        other => OtlpError::Write(other.to_string()),
    }
}

type Outcomes = Vec<Result<Outcome, rusqlite::Error>>;

/// One transaction for the whole group. Nearly every group stores without
/// an error, so it is first run with no savepoint at all; if a request
/// fails, that transaction is rolled back whole and the group is run again
/// with a savepoint per request, where a failing request is undone alone.
/// The outer error fails them all (nothing was stored).
///
/// Why not a savepoint per request always: SQLite copies every page a
/// savepoint's statements first touch into its sub-journal, about ten pages
/// a request, and past 64 KiB the sub-journal is a temporary file (created,
/// written twice a page, deleted): the profile of the ingest bench showed
/// half the groups doing so, on the thread every request waits for
/// (BENCHMARKS.md §5).
fn commit(
    conn: &mut Connection,
    group: &[Job],
    last_prune: &mut LastPrune,
) -> Result<Outcomes, rusqlite::Error> {
    match run_group(conn, group, last_prune, false)? {
        Some(outcomes) => Ok(outcomes),
        // A request failed: nothing of the group was kept; again, each alone
        // (with savepoints `run_group` always gives the outcomes).
        None => run_group(conn, group, last_prune, true).map(Option::unwrap_or_default),
    }
}

/// Stores the group in one IMMEDIATE transaction and commits it.
/// `savepoints`: each request in its own savepoint (a failing one is rolled
/// back alone and answered with its error); without them, the first
/// failing request rolls the whole transaction back and `None` is returned.
fn run_group(
    conn: &mut Connection,
    group: &[Job],
    last_prune: &mut LastPrune,
    savepoints: bool,
) -> Result<Option<Outcomes>, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut tally = Tally::default();
    let mut outcomes = Vec::with_capacity(group.len());
    let mut latest = None;
    let legacy_until = store::legacy_keys_until(&tx)?;
    // The savepoint statements are prepared once and kept, like the
    // others: rusqlite's `savepoint()` parsed `SAVEPOINT`/`RELEASE` anew
    // for every request.
    let run = |sql: &str| tx.prepare_cached(sql)?.execute([]).map(|_| ());
    for job in group {
        let legacy = legacy_until.is_some_and(|t| job.request.now.timestamp_millis() < t);
        if savepoints {
            run("SAVEPOINT otlp_request")?;
        }
        match store::apply_one(&tx, &job.request, legacy, last_prune.as_ref()) {
            Ok((outcome, own)) => {
                if savepoints {
                    run("RELEASE otlp_request")?;
                }
                tally.add(own);
                outcomes.push(Ok(outcome));
            }
            Err(e) if savepoints => {
                // Undoes this request alone and releases its savepoint: the group goes on.
                run("ROLLBACK TO otlp_request")?;
                run("RELEASE otlp_request")?;
                outcomes.push(Err(e));
            }
            // Dropping the transaction rolls it back (if SQLite has not already).
            Err(_) => return Ok(None),
        }
        latest = latest.max(Some(job.request.now));
    }
    if let Some(now) = latest {
        store::finish_group(&tx, &tally, now, last_prune)?;
    }
    tx.commit()?;
    if let Some(m) = last_prune.as_mut() {
        m.committed(tally);
    }
    Ok(Some(outcomes))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! The group itself, on a real SQLite file and a captured Claude Code
    //! batch: what a group of one request or of many stores must be the same.
    use std::path::{Path, PathBuf};

    use chrono::Utc;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

    use super::*;
    use crate::extract;

    fn captured_metrics() -> Vec<Vec<u8>> {
        // `shared/` sits beside the repository clone.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/otlp/claude-code-2.1.330/write-json-delta/raw");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("-metrics.json"))
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    fn request(body: &[u8], digest_byte: u8) -> Request {
        let req: ExportMetricsServiceRequest = serde_json::from_slice(body).unwrap();
        Request::new(
            [digest_byte; 32],
            extract::metrics(&(&req).into(), None, &extract::Limits::default()),
            None,
            Utc::now(),
        )
    }

    fn job(request: Request) -> (Job, oneshot::Receiver<Result<Outcome, OtlpError>>) {
        let (answer, answered) = oneshot::channel();
        (Job { request, answer }, answered)
    }

    fn open(dir: &Path) -> Connection {
        let db = dir.join("scoreboard.db");
        // Creates the tables, then hands over a write connection.
        drop(store::Store::open(&db, Duration::from_secs(5), 8, 8).unwrap());
        store::connect(&db, Duration::from_secs(5)).unwrap()
    }

    fn figures(conn: &Connection) -> (i64, i64, i64, i64) {
        conn.query_row(
            "SELECT (SELECT COALESCE(SUM(lines_added), 0) FROM otlp_days),
                    (SELECT COALESCE(SUM(commits), 0) FROM otlp_days),
                    (SELECT COALESCE(SUM(cost_micros), 0) FROM otlp_usage),
                    (SELECT COUNT(*) FROM otlp_batches)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    }

    fn meta(conn: &Connection, key: &str) -> i64 {
        conn.query_row(
            "SELECT COALESCE((SELECT value FROM otlp_meta WHERE key = ?1), 0)",
            [key],
            |r| r.get(0),
        )
        .unwrap()
    }

    /// Each export in a group of its own, in a new file: what must be stored.
    fn stored_in_a_fresh_file(bodies: &[Vec<u8>]) -> (i64, i64, i64, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        for (i, b) in bodies.iter().enumerate() {
            let (j, _) = job(request(b, 100 + i as u8));
            commit(&mut conn, &[j], &mut None).unwrap();
        }
        figures(&conn)
    }

    #[test]
    fn two_copies_of_a_retry_in_one_group_count_once() {
        let bodies = captured_metrics();
        assert!(bodies.len() >= 2, "the capture has several metrics exports");

        let want = stored_in_a_fresh_file(&bodies);
        assert!(
            want.0 > 0 && want.2 > 0,
            "the capture stores lines and cost"
        );

        // All of them in one group, each sent twice (a client's retry of a
        // batch whose answer it did not get), the copy right after it.
        let grouped = tempfile::tempdir().unwrap();
        let mut conn = open(grouped.path());
        let mut jobs = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            jobs.push(job(request(b, i as u8)).0);
            jobs.push(job(request(b, i as u8)).0);
        }
        let outcomes = commit(&mut conn, &jobs, &mut None).unwrap();
        let duplicates: Vec<bool> = outcomes
            .iter()
            .map(|o| o.as_ref().unwrap().duplicate)
            .collect();
        let expected: Vec<bool> = (0..jobs.len()).map(|i| i % 2 == 1).collect();
        assert_eq!(
            duplicates, expected,
            "the second copy of each is recognised"
        );
        assert_eq!(figures(&conn), want);
        assert_eq!(meta(&conn, "batches_received"), bodies.len() as i64);
        assert_eq!(meta(&conn, "duplicate_batches"), bodies.len() as i64);
    }

    #[test]
    fn a_request_that_fails_is_rolled_back_alone_and_its_group_is_kept() {
        let bodies = captured_metrics();
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        // The database refuses one request's batch row, after its points
        // and aggregates were already written inside the transaction.
        conn.execute_batch(
            "CREATE TEMP TRIGGER refuse_one BEFORE INSERT ON otlp_batches
             WHEN NEW.digest = zeroblob(32)
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
        let mut jobs = Vec::new();
        let mut answers = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            // The first export with the refused digest (all zero), the rest kept.
            let (j, a) = job(request(b, if i == 0 { 0 } else { i as u8 + 1 }));
            jobs.push(j);
            answers.push(a);
        }
        let outcomes = commit(&mut conn, &jobs, &mut None).unwrap();
        assert!(
            outcomes[0].is_err(),
            "the refused request reports its error"
        );
        assert!(outcomes[1..].iter().all(Result::is_ok), "{outcomes:?}");

        // Exactly what the other requests store on their own.
        assert_eq!(figures(&conn), stored_in_a_fresh_file(&bodies[1..]));
        assert_eq!(meta(&conn, "batches_received"), bodies.len() as i64 - 1);

        // Sent again once the database takes it, the refused one is stored
        // in full (none of its points was kept as "seen").
        conn.execute_batch("DROP TRIGGER refuse_one").unwrap();
        let (j, _) = job(request(&bodies[0], 0));
        let again = commit(&mut conn, &[j], &mut None).unwrap();
        assert!(!again[0].as_ref().unwrap().duplicate);
        assert_eq!(figures(&conn), stored_in_a_fresh_file(&bodies));
    }

    #[test]
    fn who_was_heard_from_moves_once_a_minute_or_at_once_for_a_new_version() {
        let bodies = captured_metrics();
        assert!(bodies.len() >= 3);
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(dir.path());
        let mut memory = None;
        let heard = |conn: &Connection| -> (i64, Option<String>, i64) {
            conn.query_row(
                "SELECT max(last_seen), max(version), (SELECT max(last_seen) FROM otlp_persons)
                 FROM otlp_clients",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
        };
        let t0 = Utc::now();
        let at = |i: usize, secs: i64| {
            let mut r = request(&bodies[i], 50 + i as u8);
            r.now = t0 + chrono::TimeDelta::seconds(secs);
            r
        };
        let ms = |secs: i64| (t0 + chrono::TimeDelta::seconds(secs)).timestamp_millis();

        commit(&mut conn, &[job(at(0, 0)).0], &mut memory).unwrap();
        let (last, version, person) = heard(&conn);
        assert_eq!((last, person), (ms(0), ms(0)));

        // Ten seconds later: stored, but "last heard from" is not rewritten.
        commit(&mut conn, &[job(at(1, 10)).0], &mut memory).unwrap();
        assert_eq!(heard(&conn), (ms(0), version.clone(), ms(0)));

        // A new Claude Code version is written at once.
        let mut upgraded = at(2, 20);
        for v in upgraded.ex.seen.values_mut() {
            *v = Some("9.9.9".into());
        }
        commit(&mut conn, &[job(upgraded).0], &mut memory).unwrap();
        assert_eq!(heard(&conn), (ms(20), Some("9.9.9".into()), ms(20)));

        // And a minute after the last write, the time moves again.
        let mut later = request(&bodies[0], 60);
        later.now = t0 + chrono::TimeDelta::seconds(81);
        for v in later.ex.seen.values_mut() {
            *v = Some("9.9.9".into());
        }
        commit(&mut conn, &[job(later).0], &mut memory).unwrap();
        assert_eq!(heard(&conn), (ms(81), Some("9.9.9".into()), ms(81)));
    }

    #[tokio::test]
    async fn every_request_of_a_group_is_answered_after_the_commit() {
        let bodies = captured_metrics();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("scoreboard.db");
        let store = store::Store::open(&db, Duration::from_secs(5), 64, 64).unwrap();
        // Hold the write lock so the requests queue up behind it.
        let mut blocker = store::connect(&db, Duration::from_secs(5)).unwrap();
        let lock = blocker
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        let store = std::sync::Arc::new(store);
        let mut waiting = Vec::new();
        for (i, b) in bodies.iter().enumerate() {
            let r = request(b, i as u8);
            let s = store.clone();
            waiting.push(tokio::spawn(async move {
                s.apply(r.digest, r.ex, r.token, r.now).await
            }));
        }
        tokio::task::yield_now().await;
        let reader = store::connect(&db, Duration::from_secs(5)).unwrap();
        assert_eq!(
            figures(&reader).3,
            0,
            "nothing is stored while the lock is held"
        );
        assert!(
            waiting.iter().all(|w| !w.is_finished()),
            "nothing is answered yet"
        );
        lock.rollback().unwrap();
        for w in waiting {
            assert!(!w.await.unwrap().unwrap().duplicate);
        }
        // Answered means committed: another connection sees every batch.
        assert_eq!(figures(&reader).3, bodies.len() as i64);
    }
}
