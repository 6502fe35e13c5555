//! Opening the server's rows in the page's engine, natively: a compact
//! `/api/rows` body of the shape `make bench`'s rows1m part stores (3,000
//! engineers × 365 days, one in twelve person-days idle: 1,003,750
//! Admin API rows, each with one model and four tools), read into the
//! table the engine computes over, as `engine_state`'s `TakeLive` does.
//!
//! `cargo bench -p scoreboard-core --bench rows_open`; each figure is the
//! time for the whole body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use chrono::{Days, NaiveDate};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scoreboard_core::api::{rows_wire, RowsAnswer};
use scoreboard_core::parse::admin_api::{records_to_rows, UsageRecord};
use scoreboard_core::{DayRow, PersonKey, UsageTable};

const PEOPLE: u64 = 3_000;
const DAYS: u64 = 365;
const IDLE_EVERY: u64 = 12;

/// One Admin API record as the bench's fake upstream serves it
/// (`bench/src/backfill.rs`'s `record`), read by core's own reader.
fn template() -> DayRow {
    let record = serde_json::json!({
        "date": "2026-01-01T00:00:00Z",
        "actor": {"type": "user_actor", "email_address": "engineer0000@example.com"},
        "organization_id": "11111111-2222-3333-4444-555555555555",
        "customer_type": "api",
        "terminal_type": "vscode",
        "is_remote": false,
        "core_metrics": {
            "num_sessions": 3,
            "lines_of_code": {"added": 120, "removed": 12},
            "commits_by_claude_code": 1,
            "pull_requests_by_claude_code": 0
        },
        "tool_actions": {
            "edit_tool": {"accepted": 9, "rejected": 1},
            "write_tool": {"accepted": 1, "rejected": 0},
            "multi_edit_tool": {"accepted": 1, "rejected": 0},
            "notebook_edit_tool": {"accepted": 0, "rejected": 0}
        },
        "model_breakdown": [{
            "model": "claude-opus-5",
            "tokens": {"input": 1000, "output": 200, "cache_read": 5000, "cache_creation": 300},
            "estimated_cost": {"currency": "USD", "amount": 150.0}
        }]
    });
    let record: UsageRecord = serde_json::from_value(record).unwrap();
    let (mut rows, problems) = records_to_rows("bench", &[record]);
    assert!(problems.is_empty(), "{problems:?}");
    rows.remove(0)
}

/// The store's rows in the order it answers them: by day, then person.
fn rows() -> Vec<DayRow> {
    let template = template();
    let last = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    let persons: Vec<PersonKey> = (0..PEOPLE)
        .map(|p| PersonKey::email(&format!("engineer{p:04}@example.com")))
        .collect();
    let mut out = Vec::new();
    let mut n = 0u64;
    for back in (0..DAYS).rev() {
        for (p, person) in persons.iter().enumerate() {
            if (p as u64 + back).is_multiple_of(IDLE_EVERY) {
                continue;
            }
            n += 1;
            let mut r = template.clone();
            r.day = last - Days::new(back);
            r.person = person.clone();
            r.measures.sessions = 1 + n % 7;
            r.measures.lines_added = 40 + n % 300;
            r.measures.lines_removed = n % 40;
            r.measures.commits = n % 3;
            r.measures.edits_accepted = 10 + n % 9;
            r.measures.edits_rejected = n % 3;
            r.tools[0].accepted = 8 + n % 9;
            r.tools[0].rejected = n % 3;
            r.models[0].input_tokens = 1000 + n;
            r.measures.input_tokens = 1000 + n;
            out.push(r);
        }
    }
    out
}

fn body() -> Vec<u8> {
    let rows = rows();
    let (from, to) = (rows[0].day, rows[rows.len() - 1].day);
    let mut counts = BTreeMap::new();
    counts.insert(rows[0].source, rows.len());
    rows_wire::encode(&RowsAnswer {
        from,
        to,
        counts,
        rows,
        periods: Vec::new(),
        imported: BTreeMap::new(),
        coverage: Vec::new(),
        cursor: Some("c1.bench".into()),
        delta: None,
    })
}

fn open(c: &mut Criterion) {
    let body = body();
    let rows = rows_wire::decode(&body).unwrap().rows.len();
    eprintln!("{rows} rows, {} bytes", body.len());
    let mut g = c.benchmark_group("rows_open");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(rows as u64));
    // What the engine did before decoding into the table: every row a
    // `DayRow`, then inserted through the row index.
    // The table is dropped outside the timing: the engine drops the rows
    // it held only when the next answer replaces them.
    g.bench_function("decode, then insert_days", |b| {
        b.iter_with_large_drop(|| {
            let answer = rows_wire::decode(black_box(&body)).unwrap();
            let mut table = UsageTable::new();
            table.insert_days(answer.rows);
            table
        })
    });
    // What it does now: straight into the table's columns.
    g.bench_function("decode_table", |b| {
        b.iter_with_large_drop(|| rows_wire::decode_table(black_box(&body)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, open);
criterion_main!(benches);
