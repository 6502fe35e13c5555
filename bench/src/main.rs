//! `scoreboard-bench`: runs the benchmarks of issue 7 and writes
//! bench/results.json and BENCHMARKS.md. `make bench` builds everything it
//! needs first (the site, the server, the DuckDB page, the criterion run).
//!
//! scoreboard-bench [--only weight,browser,engine,ingest,backfill,rows1m,hostile] [--quick] [--render]
//!   --bin target/release/scoreboard --dist dist --duck bench/web/dist
//!   --work bench/data --criterion target/criterion
//!   --out bench/results.json --md BENCHMARKS.md
//!
//! `--render` runs nothing: it writes BENCHMARKS.md again from bench/results.json
//! as it is (after adding a recorded run to it by hand, e.g. `ingest_before`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use scoreboard_bench::{
    backfill, browser, generate, hostile, ingest, native, proc, report, rows1m, weight,
};
use serde_json::{json, Value};

struct Args {
    bin: PathBuf,
    dist: PathBuf,
    duck: PathBuf,
    work: PathBuf,
    criterion: PathBuf,
    out: PathBuf,
    md: PathBuf,
    only: Option<Vec<String>>,
    quick: bool,
    render: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        bin: "target/release/scoreboard".into(),
        dist: "dist".into(),
        duck: "bench/web/dist".into(),
        work: "bench/data".into(),
        criterion: "target/criterion".into(),
        out: "bench/results.json".into(),
        md: "BENCHMARKS.md".into(),
        only: None,
        quick: false,
        render: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--bin" => a.bin = val()?.into(),
            "--dist" => a.dist = val()?.into(),
            "--duck" => a.duck = val()?.into(),
            "--work" => a.work = val()?.into(),
            "--criterion" => a.criterion = val()?.into(),
            "--out" => a.out = val()?.into(),
            "--md" => a.md = val()?.into(),
            "--only" => a.only = Some(val()?.split(',').map(str::to_string).collect()),
            "--quick" => a.quick = true,
            "--render" => a.render = true,
            other => {
                return Err(format!(
                    "unknown argument {other}; see the top of bench/src/main.rs"
                ))
            }
        }
    }
    Ok(a)
}

fn part(r: Result<Value, String>) -> Value {
    r.unwrap_or_else(|e| {
        eprintln!("bench: part failed: {e}");
        json!({ "error": e })
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scoreboard-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let wants = |p: &str| a.only.as_ref().is_none_or(|o| o.iter().any(|x| x == p));
    let _ = std::fs::create_dir_all(&a.work);
    let started = Instant::now();
    // Earlier results stay for the parts not run now (`--only`).
    let mut results: Value = std::fs::read(&a.out)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    if a.render {
        return write_markdown(&a.md, &results);
    }
    results["date"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    results["machine"] = proc::machine();
    results["quick"] = json!(a.quick);

    if wants("weight") {
        eprintln!("bench: page weight");
        let data = tempfile::tempdir();
        let r = async {
            let data = data.map_err(|e| e.to_string())?;
            let server = proc::Server::start(&a.bin, data.path(), Some(&a.dist), |_| {})?;
            let w = weight::measure(&a.dist, Some(&server.url(""))).await?;
            serde_json::to_value(w).map_err(|e| e.to_string())
        }
        .await;
        results["page_weight"] = part(r);
    }
    if wants("browser") {
        let sizes: &[(u64, usize)] = if a.quick {
            &[(10_000, 2), (100_000, 2), (1_000_000, 1)]
        } else {
            &[(10_000, 5), (100_000, 5), (1_000_000, 3)]
        };
        // `BENCH_ROWS=100000`: only that size (exploratory runs, traces).
        let only_rows: Option<u64> = std::env::var("BENCH_ROWS")
            .ok()
            .and_then(|v| v.parse().ok());
        let r = async {
            let mut cases = Vec::new();
            for &(rows, runs) in sizes
                .iter()
                .filter(|(r, _)| only_rows.is_none_or(|o| o == *r))
            {
                let file = a.work.join(format!("usage-{rows}.csv"));
                let (csv, g) = generate::usage_csv(rows);
                std::fs::write(&file, &csv).map_err(|e| format!("{}: {e}", file.display()))?;
                eprintln!(
                    "bench: generated {} ({} rows, {} people, {} bytes)",
                    file.display(),
                    g.rows,
                    g.people,
                    g.bytes
                );
                cases.push(browser::Case { rows, file, runs });
            }
            browser::run(&a.bin, &a.dist, &a.duck, &cases, &a.work).await
        }
        .await;
        results["browser"] = part(r);
    }
    if wants("native") {
        eprintln!("bench: core natively (Instant)");
        results["native"] = part(native::run(&[(10_000, 5), (100_000, 5), (1_000_000, 3)]));
    }
    if wants("engine") {
        results["engine"] = part(report::criterion_results(&a.criterion));
    }
    if wants("ingest") {
        let s = if a.quick {
            ingest::Settings {
                users: 100,
                sessions: 2,
                concurrency: 32,
            }
        } else {
            // About 30 s per phase at the old rate, 3 s at the goal's.
            ingest::Settings {
                users: 1500,
                sessions: 4,
                concurrency: 32,
            }
        };
        let fixtures = ingest::fixtures_dir(&std::env::current_dir().unwrap_or_default());
        results["ingest"] = part(ingest::run(&a.bin, &fixtures, &s).await);
    }
    if wants("backfill") {
        let s = backfill::Settings {
            days: 90,
            people: 500,
            delay: Duration::from_millis(100),
            api_requests: if a.quick { 10 } else { 30 },
        };
        results["backfill"] = part(backfill::run(&a.bin, &s).await);
    }
    // 3,000 engineers × 365 days, a twelfth idle: ~1 M person-day rows.
    if wants("rows1m") {
        let s = rows1m::Settings {
            people: if a.quick { 300 } else { 3000 },
            days: 365,
            idle_every: 12,
        };
        results["rows1m"] = part(rows1m::run(&a.bin, &a.dist, &a.work, &s).await);
    }
    if wants("hostile") {
        let s = hostile::Settings {
            honest_clients: 8,
            honest_pause: Duration::from_millis(50),
            baseline: Duration::from_secs(if a.quick { 5 } else { 10 }),
            attack: Duration::from_secs(if a.quick { 15 } else { 30 }),
        };
        let fixtures = ingest::fixtures_dir(&std::env::current_dir().unwrap_or_default());
        results["hostile"] = part(hostile::run(&a.bin, &fixtures, &s).await);
    }
    results["run_seconds"] = json!(started.elapsed().as_secs_f64());
    let text = serde_json::to_string_pretty(&results).unwrap_or_default();
    if let Err(e) = std::fs::write(&a.out, text + "\n") {
        eprintln!("scoreboard-bench: {}: {e}", a.out.display());
        return ExitCode::FAILURE;
    }
    if write_markdown(&a.md, &results) != ExitCode::SUCCESS {
        return ExitCode::FAILURE;
    }
    eprintln!(
        "bench: wrote {} and {} in {:.0} s",
        a.out.display(),
        a.md.display(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

fn write_markdown(md: &std::path::Path, results: &Value) -> ExitCode {
    if let Err(e) = std::fs::write(md, report::markdown(results)) {
        eprintln!("scoreboard-bench: {}: {e}", md.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
