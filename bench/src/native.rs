//! A quick native timing of core's parse and compute with `Instant` (median of
//! a few runs), beside criterion's: it needs no polars build, so a parser
//! change can be compared before and after in a minute.

use std::time::Instant;

use scoreboard_core::{compute, parse, ReportOptions, UsageTable};
use serde_json::{json, Value};

use crate::stats::median;
use crate::{ctx, generate, Result};

pub fn run(sizes: &[(u64, usize)]) -> Result<Value> {
    let mut out = Vec::new();
    for &(n, runs) in sizes {
        let (csv, _) = generate::usage_csv(n);
        let opts = parse::ImportOptions::default();
        let mut parse_ms = Vec::new();
        let mut compute_ms = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let import = parse::import("usage.csv", &csv, &opts).map_err(ctx("parse"))?;
            parse_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            let mut table = UsageTable::new();
            table.insert_days(import.rows);
            let t = Instant::now();
            let report = compute(
                &table,
                None,
                &ReportOptions::last_weeks(generate::as_of(), 8),
            );
            compute_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(report);
        }
        let p = median(&parse_ms);
        out.push(json!({
            "rows": n,
            "runs": runs,
            "parse_ms": p,
            "parse_ns_per_row": p.map(|ms| ms * 1e6 / n as f64),
            "compute_8w_ms": median(&compute_ms),
        }));
    }
    Ok(json!({ "cases": out }))
}
