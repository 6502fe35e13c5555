//! The engine alone, natively: core's CSV parser and `metrics::compute` per
//! row count, and the polars computation of the same figures (the oracle of
//! tests/oracle) from the same parsed rows, as a reference.
//!
//! Row counts: SCOREBOARD_BENCH_ROWS (comma-separated), default 10000,100000,1000000.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use scoreboard_bench::generate;
use scoreboard_core::{compute, parse, ReportOptions, WindowSpec};
use scoreboard_oracle::oracle;

fn rows_to_run() -> Vec<u64> {
    std::env::var("SCOREBOARD_BENCH_ROWS")
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000])
}

/// The load average now (the machine is shared: BENCHMARKS.md says under what load).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where criterion writes this group (`report::criterion_results` reads it).
fn run_file() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion/engine/run.json")
}

fn engine(c: &mut Criterion) {
    let started = loadavg();
    let mut g = c.benchmark_group("engine");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in rows_to_run() {
        let (csv, _) = generate::usage_csv(n);
        let opts = parse::ImportOptions::default();
        g.throughput(Throughput::Elements(n));
        // Parse + fold: the records folded straight into a table's columns.
        g.bench_with_input(BenchmarkId::new("parse", n), &csv, |b, csv| {
            b.iter(|| parse::import_table("usage.csv", csv, &opts).unwrap())
        });
        // The same file read into rows of `DayRow` (`Import::rows`), as before issue 12's fold.
        g.bench_with_input(BenchmarkId::new("parse-rows", n), &csv, |b, csv| {
            b.iter(|| parse::import("usage.csv", csv, &opts).unwrap())
        });
        let (_, table) = parse::import_table("usage.csv", &csv, &opts).unwrap();
        assert_eq!(table.day_count() as u64, n, "every generated row is read");
        let coverage = table.coverage();
        let days: Vec<_> = table.day_rows().collect();
        // The page's default view (8 weeks) and the whole year.
        for (name, window) in [
            ("compute-8w", WindowSpec::LastWeeks { weeks: 8 }),
            ("compute-all", WindowSpec::All),
        ] {
            let ro = ReportOptions {
                as_of: generate::as_of(),
                window,
                team: None,
            };
            g.bench_with_input(BenchmarkId::new(name, n), &table, |b, t| {
                b.iter(|| compute(t, None, &ro))
            });
            let input = oracle::Input {
                rows: &days,
                coverage: &coverage,
                roster: None,
                as_of: generate::as_of(),
                window,
                team: None,
            };
            let polars_name = name.replace("compute", "polars");
            g.bench_with_input(BenchmarkId::new(polars_name, n), &input, |b, i| {
                b.iter(|| oracle::compute(i).unwrap())
            });
        }
    }
    g.finish();
    let run = serde_json::json!({ "loadavg_at_start": started, "loadavg_at_end": loadavg() });
    let _ = std::fs::write(run_file(), run.to_string());
}

criterion_group!(benches, engine);
criterion_main!(benches);
