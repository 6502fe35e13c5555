//! bench/results.json → BENCHMARKS.md, and criterion's estimates → results.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{json, Value};

use crate::Result;

/// Median time per iteration (ms) of every `engine/<function>/<rows>` criterion ran.
pub fn criterion_results(dir: &Path) -> Result<Value> {
    let group = dir.join("engine");
    let mut out = serde_json::Map::new();
    let entries = std::fs::read_dir(&group).map_err(|e| {
        format!("{}: {e} (run `cargo bench -p scoreboard-bench --bench engine` first; `make bench` does)", group.display())
    })?;
    for f in entries.flatten() {
        let name = f.file_name().to_string_lossy().to_string();
        if name == "run.json" {
            let run = std::fs::read(f.path()).ok();
            let run = run.and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            out.insert("run".into(), run.unwrap_or(Value::Null));
            continue;
        }
        if name == "report" || !f.path().is_dir() {
            continue;
        }
        let mut per = serde_json::Map::new();
        for r in std::fs::read_dir(f.path()).into_iter().flatten().flatten() {
            let rows = r.file_name().to_string_lossy().to_string();
            let est = r.path().join("new/estimates.json");
            let Ok(bytes) = std::fs::read(&est) else {
                continue;
            };
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let ns = v["median"]["point_estimate"].as_f64();
            if let (Some(ns), Ok(n)) = (ns, rows.parse::<f64>()) {
                per.insert(rows, json!({ "median_ms": ns / 1e6, "ns_per_row": ns / n }));
            }
        }
        out.insert(name, Value::Object(per));
    }
    Ok(Value::Object(out))
}

fn f(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.digits$}"),
        None => "—".into(),
    }
}

fn kb(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{:.1} KB", x / 1000.0),
        None => "—".into(),
    }
}

fn mb(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{:.1} MB", x / 1e6),
        None => "—".into(),
    }
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

fn rows_label(n: u64) -> String {
    match n {
        n if n >= 1_000_000 => format!("{}M", n / 1_000_000),
        n if n >= 1000 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

/// The ingest phases of one run of section 5.
fn ingest_table(w: &mut String, ing: &Value) {
    let _ = writeln!(w, "| encoding | batches | points | seconds | points/s | ack p50 | ack p99 | max | 503 busy | failed | server CPU a batch | of which the writer thread |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // Runs from before the writer thread was measured show "—" there.
    let writer = |p: &Value| {
        if p["writer_cpu_us_per_batch"].is_number() {
            format!("{} µs", f(&p["writer_cpu_us_per_batch"], 0))
        } else {
            "—".to_string()
        }
    };
    for (name, p) in ing["phases"].as_object().cloned().unwrap_or_default() {
        let _ = writeln!(
            w,
            "| {name} | {} | {} | {} | **{}** | {} ms | **{} ms** | {} ms | {} | {} | {} µs | {} |",
            p["batches"],
            p["points"],
            f(&p["seconds"], 2),
            f(&p["points_per_second"], 0),
            f(&p["ack_p50_ms"], 1),
            f(&p["ack_p99_ms"], 1),
            f(&p["ack_max_ms"], 1),
            p["busy_503"],
            p["failed"],
            f(&p["server_cpu_us_per_batch"], 0),
            writer(&p)
        );
    }
    let _ = writeln!(
        w,
        "| both | {} points | | {} s | **{}** | {} ms | **{} ms** | | | {} | | |",
        ing["acked_points"],
        f(&ing["seconds"], 2),
        f(&ing["points_per_second"], 0),
        f(&ing["ack_p50_ms"], 1),
        f(&ing["ack_p99_ms"], 1),
        ing["failed_requests"]
    );
    let c = &ing["collector"];
    if c.is_object() {
        let _ = writeln!(
            w,
            "| through a collector (gzipped protobuf, about {} points a request; not part of the goal) | {} | {} | {} | {} | {} ms | {} ms | {} ms | {} | {} | {} µs ({} µs a point) | {} |",
            ing["collector_batch_points"],
            c["batches"],
            c["points"],
            f(&c["seconds"], 2),
            f(&c["points_per_second"], 0),
            f(&c["ack_p50_ms"], 1),
            f(&c["ack_p99_ms"], 1),
            f(&c["ack_max_ms"], 1),
            c["busy_503"],
            c["failed"],
            f(&c["server_cpu_us_per_batch"], 0),
            f(&c["server_cpu_us_per_point"], 1),
            writer(c)
        );
    }
}

/// The whole of BENCHMARKS.md.
pub fn markdown(r: &Value) -> String {
    let mut m = String::new();
    let w = &mut m;
    let _ = writeln!(w, "# Benchmarks\n");
    let _ = writeln!(w, "Written by `make bench` (bench/, issue 7) on {}; the same figures, and every sample, are in `bench/results.json`. Do not edit by hand: run `make bench` again.\n", r["date"].as_str().unwrap_or("?"));
    let mach = &r["machine"];
    let _ = writeln!(w, "**Machine:** {} × {}, {} GiB RAM, {}; {}; {}. Load average when the run started: {}. Whole run: {} s{}.\n",
        mach["cores"], mach["cpu"].as_str().unwrap_or("?"), mach["memory_gib"], mach["os"].as_str().unwrap_or("?"),
        mach["rustc"].as_str().unwrap_or("?"), mach["chromium"].as_str().unwrap_or("?"),
        mach["loadavg_at_start"].as_str().unwrap_or("?"), f(&r["run_seconds"], 0),
        if r["quick"] == true { " (quick mode: fewer runs)" } else { "" });
    let _ = writeln!(w, "{}\n", NOISE);

    // ---- goals ----
    let _ = writeln!(w, "## Goals\n");
    let _ = writeln!(w, "| # | goal | measured | verdict |\n|---|---|---|---|");
    let pw = &r["page_weight"];
    // Older results.json files carry no budget: the one of their time.
    let budget = pw["budget_bytes"].as_f64().unwrap_or(400_000.0);
    let br = pw["total_brotli"].as_f64();
    let gz = pw["total_gzip"].as_f64();
    let tr = pw["total_transferred"].as_f64();
    let _ = writeln!(w, "| 1 | first visit ≤ {:.0} KB brotli as served | {} brotli, {} gzip; **{} as served** by `scoreboard serve` | brotli {}, gzip {}, as served {} |",
        budget / 1000.0, kb(&pw["total_brotli"]), kb(&pw["total_gzip"]), kb(&pw["total_transferred"]),
        verdict(br.map(|x| x <= budget)), verdict(gz.map(|x| x <= budget)), verdict(tr.map(|x| x <= budget)));
    let cases = r["browser"]["cases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let case = |n: u64| {
        cases
            .iter()
            .find(|c| c["rows"].as_u64() == Some(n))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let c100 = case(100_000);
    let c1m = case(1_000_000);
    let _ = writeln!(
        w,
        "| 2 | 100 k rows: drop → dashboard < 0.3 s | {} ms | {} |",
        f(&c100["app"]["drop_to_rendered_ms"], 0),
        verdict(
            c100["app"]["drop_to_rendered_ms"]
                .as_f64()
                .map(|x| x < 300.0)
        )
    );
    let _ = writeln!(
        w,
        "| 2 | 1 M rows: drop → dashboard < 2 s | {} ms | {} |",
        f(&c1m["app"]["drop_to_rendered_ms"], 0),
        verdict(
            c1m["app"]["drop_to_rendered_ms"]
                .as_f64()
                .map(|x| x < 2000.0)
        )
    );
    let longest = cases
        .iter()
        .filter_map(|c| c["app"]["longest_task_ms_max"].as_f64())
        .reduce(f64::max);
    let _ = writeln!(
        w,
        "| 2 | no main-thread task over 200 ms (any size) | longest {} ms | {} |",
        longest.map_or("—".into(), |x| format!("{x:.0}")),
        verdict(longest.map(|x| x <= 200.0))
    );
    let heap = cases
        .iter()
        .filter_map(|c| c["app"]["heap_peak_bytes"].as_f64())
        .reduce(f64::max);
    let _ = writeln!(
        w,
        "| 2 | heap under 300 MB (JS heap + wasm memory) | {} | {} |",
        heap.map_or("—".into(), |x| format!("{:.0} MB", x / 1e6)),
        verdict(heap.map(|x| x < 300e6))
    );
    let ing = &r["ingest"];
    let _ = writeln!(
        w,
        "| 5 | telemetry ≥ 50,000 points/s | {} points/s | {} |",
        f(&ing["points_per_second"], 0),
        verdict(ing["points_per_second"].as_f64().map(|x| x >= 50_000.0))
    );
    let _ = writeln!(
        w,
        "| 5 | ack p99 < 50 ms | {} ms | {} |",
        f(&ing["ack_p99_ms"], 1),
        verdict(ing["ack_p99_ms"].as_f64().map(|x| x < 50.0))
    );
    let _ = writeln!(
        w,
        "| 5 | every acknowledged point stored | {} of {} users' rows exact | {} |",
        ing["verified_users"],
        ing["users_checked"],
        verdict(ing["all_stored"].as_bool())
    );
    let bf = &r["backfill"];
    let _ = writeln!(
        w,
        "| 6 | backfill 90 days × 500 people < 5 s | {} s | {} |",
        f(&bf["backfill_seconds"], 2),
        verdict(bf["backfill_seconds"].as_f64().map(|x| x < 5.0))
    );
    let _ = writeln!(w, "| 6 | page API from the store < 20 ms | `/api/rows` (90 days, {} rows) p50 {} ms; one week p50 {} ms | {} |",
        bf["api_rows"]["rows"], f(&bf["api_rows"]["p50_ms"], 1), f(&bf["api_rows_one_week"]["p50_ms"], 1),
        verdict(bf["api_rows"]["p50_ms"].as_f64().map(|x| x < 20.0)));
    let rw = &bf["rows_wire"];
    let per = |key: &str, sub: Option<&str>| {
        let v = match sub {
            Some(s) => &rw["wire"][s],
            None => &rw[key],
        };
        match (v.as_f64(), rw["rows"].as_f64()) {
            (Some(b), Some(n)) if n > 0.0 => Some(b / n),
            _ => None,
        }
    };
    let decode = per("compact_bytes", None);
    let br = per("", Some("compact_br"));
    let _ = writeln!(w, "| 6 | rows ≤ 64 B/row to decode, ≤ 16 B/row on the wire (issue 13) | compact {} B/row to decode, {} B/row brotli (JSON: {} and {}) | {} |",
        decode.map_or("—".into(), |x| format!("{x:.1}")),
        br.map_or("—".into(), |x| format!("{x:.1}")),
        per("json_bytes", None).map_or("—".into(), |x| format!("{x:.0}")),
        per("", Some("json_br")).map_or("—".into(), |x| format!("{x:.1}")),
        verdict(decode.zip(br).map(|(d, b)| d <= 64.0 && b <= 16.0)));
    let _ = writeln!(
        w,
        "| 6 | unchanged refresh ≤ 10 KB (issue 13) | {} B, HTTP {} | {} |",
        rw["unchanged_bytes"],
        rw["unchanged_status"],
        verdict(rw["unchanged_bytes"].as_f64().map(|x| x <= 10_240.0))
    );
    let rm = &r["rows1m"];
    let open_ms = rm["first_open"]["navigation_to_rendered_ms"].as_f64();
    let _ = writeln!(
        w,
        "| 6 | a 1 M-row store opens in the page in ≤ 2 s, figures correct (issue 13) | {} rows: first open {} s, reload {} s; WAE {} | {} |",
        rm["rows_stored"],
        f(&json!(open_ms.map(|x| x / 1000.0)), 1),
        f(&json!(rm["reload"]["navigation_to_rendered_ms"].as_f64().map(|x| x / 1000.0)), 1),
        if rm["agree"] == true { "as core's" } else { "**differs from core's**" },
        verdict(open_ms.map(|x| x <= 2000.0 && rm["agree"] == true))
    );
    let reload_bytes = &rm["reload"]["rows_transfer_bytes"];
    let _ = writeln!(
        w,
        "| 6 | unchanged refresh of the 1 M rows ≤ 10 KB (issue 13) | {} B on the reload ({}) | {} |",
        reload_bytes,
        rm["reload"]["rows_answer"]["kind"].as_str().unwrap_or("—"),
        verdict(reload_bytes.as_f64().map(|x| x <= 10_240.0))
    );
    let h = &r["hostile"];
    let _ = writeln!(
        w,
        "| 8 | worst requests of issue 11 at once: server RSS under the documented ceiling ({}) | peak {} | {} |",
        mb(&h["rss_ceiling_bytes"]),
        mb(&h["server_rss_peak_bytes"]),
        verdict(h["rss_within_ceiling"].as_bool())
    );
    let _ = writeln!(
        w,
        "| 8 | … and honest clients' ack p99 < 100 ms | {} ms (without the attack {} ms) | {} |",
        f(&h["under_attack"]["ack_p99_ms"], 1),
        f(&h["baseline"]["ack_p99_ms"], 1),
        verdict(h["p99_within_goal"].as_bool())
    );
    let eng = &r["engine"];
    let parse_1m = &eng["parse"]["1000000"]["ns_per_row"];
    let _ = writeln!(
        w,
        "| 12 | native parse + fold ≤ 0.2 µs/row (1 M rows, criterion) | {} µs/row | {} |",
        f(&parse_1m.as_f64().map(|x| x / 1000.0).into(), 2),
        verdict(parse_1m.as_f64().map(|x| x <= 200.0))
    );
    // Issue 12's page goals, from the browser part (one run beside DuckDB-WASM).
    let scoreboard_1m = c1m["app"]["drop_to_rendered_ms"].as_f64();
    let duck_1m = c1m["duckdb"]["read_and_query_ms"].as_f64();
    let _ = writeln!(
        w,
        "| 12 | 1 M rows: chosen → dashboard faster than DuckDB-WASM's read + query of the same file (its engine load not counted), toward 0.5 s | {} ms against DuckDB's {} ms | {} |",
        f(&scoreboard_1m.into(), 0),
        f(&duck_1m.into(), 0),
        verdict(scoreboard_1m.zip(duck_1m).map(|(a, d)| a < d))
    );
    let _ = writeln!(
        w,
        "| 12 | 100 k rows: chosen → dashboard ≤ 150 ms | {} ms | {} |",
        f(&c100["app"]["drop_to_rendered_ms"], 0),
        verdict(
            c100["app"]["drop_to_rendered_ms"]
                .as_f64()
                .map(|x| x <= 150.0)
        )
    );
    let _ = writeln!(
        w,
        "| 12 | no main-thread task over 50 ms (any size) | longest {} ms | {} |",
        longest.map_or("—".into(), |x| format!("{x:.0}")),
        verdict(longest.map(|x| x <= 50.0))
    );
    let _ = writeln!(
        w,
        "| 12 | peak memory at 1 M rows ≤ 250 MB (JS heap + the page's and the engine worker's wasm memory) | {} | {} |",
        c1m["app"]["heap_peak_bytes"].as_f64().map_or("—".into(), |x| format!("{:.0} MB", x / 1e6)),
        verdict(c1m["app"]["heap_peak_bytes"].as_f64().map(|x| x <= 250e6))
    );
    let open_1m = r["rows1m"]["first_open"]["navigation_to_rendered_ms"].as_f64();
    let reload_1m = r["rows1m"]["reload"]["navigation_to_rendered_ms"].as_f64();
    let _ = writeln!(
        w,
        "| 13 | a 1 M-row store opens in the page in ≤ 2 s | first open {} ms, reload {} ms | {} |",
        f(&open_1m.into(), 0),
        f(&reload_1m.into(), 0),
        verdict(open_1m.zip(reload_1m).map(|(a, b)| a.max(b) <= 2000.0))
    );
    let report_1m = &eng["compute-all"]["1000000"]["ns_per_row"];
    let _ = writeln!(
        w,
        "| 12 | native report ≤ 0.1 µs/row (1 M rows, all 52 weeks) | {} µs/row (8 weeks: {} µs/row) | {} |",
        f(&report_1m.as_f64().map(|x| x / 1000.0).into(), 2),
        f(&eng["compute-8w"]["1000000"]["ns_per_row"].as_f64().map(|x| x / 1000.0).into(), 2),
        verdict(report_1m.as_f64().map(|x| x <= 100.0))
    );
    let _ = writeln!(w);

    // ---- 1 ----
    let _ = writeln!(w, "## 1. Page weight\n");
    let _ = writeln!(w, "{}\n", WEIGHT_METHOD);
    let _ = writeln!(
        w,
        "| file | raw | gzip -9 | brotli -q 11 | as served (encoding) |\n|---|---:|---:|---:|---|"
    );
    for fl in pw["files"].as_array().cloned().unwrap_or_default() {
        let _ = writeln!(
            w,
            "| `{}` | {} | {} | {} | {} ({}) |",
            fl["path"].as_str().unwrap_or("?"),
            kb(&fl["raw"]),
            kb(&fl["gzip"]),
            kb(&fl["brotli"]),
            kb(&fl["transferred"]),
            fl["served_encoding"].as_str().unwrap_or("?")
        );
    }
    let _ = writeln!(
        w,
        "| **total** | **{}** | **{}** | **{}** | **{}** |\n",
        kb(&pw["total_raw"]),
        kb(&pw["total_gzip"]),
        kb(&pw["total_brotli"]),
        kb(&pw["total_transferred"])
    );
    if let Some(e) = pw["error"].as_str() {
        let _ = writeln!(w, "Not measured: {e}\n");
    }
    let lazy = pw["lazy"].as_array().cloned().unwrap_or_default();
    if !lazy.is_empty() {
        let _ = writeln!(w, "Not in the first visit: the page's lazily loaded wasm modules, each fetched the first time the view it holds is shown (scripts/wasm-split.sh; `chunk_*` modules hold code two or more views share and come with the first of them).\n");
        let _ = writeln!(w, "| lazily loaded module | raw | gzip -9 | brotli -q 11 | as served (encoding) |\n|---|---:|---:|---:|---|");
        for fl in &lazy {
            let _ = writeln!(
                w,
                "| `{}` | {} | {} | {} | {} ({}) |",
                fl["path"].as_str().unwrap_or("?"),
                kb(&fl["raw"]),
                kb(&fl["gzip"]),
                kb(&fl["brotli"]),
                kb(&fl["transferred"]),
                fl["served_encoding"].as_str().unwrap_or("?")
            );
        }
        let _ = writeln!(
            w,
            "| **all {} modules** | | | **{}** | **{}** |\n",
            lazy.len(),
            kb(&pw["lazy_total_brotli"]),
            kb(&pw["lazy_total_transferred"])
        );
    }
    let _ = writeln!(w, "{}\n", WEIGHT_NOTES);

    // ---- 2 + 3 ----
    let _ = writeln!(
        w,
        "## 2. Import to dashboard in headless Chromium, and 3. DuckDB-WASM beside it\n"
    );
    let _ = writeln!(w, "{}\n", BROWSER_METHOD);
    let _ = writeln!(w, "| rows | file | runs | drop → rendered | of which parse | compute | longest task (median / worst) | long tasks | JS heap peak | page wasm memory | engine worker's wasm memory |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for c in &cases {
        let a = &c["app"];
        let _ = writeln!(
            w,
            "| {} | {} | {} | **{} ms** | {} ms | {} ms | {} / {} ms | {} | {} | {} | {} |",
            rows_label(c["rows"].as_u64().unwrap_or(0)),
            mb(&c["file_bytes"]),
            a["ok_runs"],
            f(&a["drop_to_rendered_ms"], 0),
            f(&a["drop_to_parsed_ms"], 0),
            f(&a["compute_ms"], 0),
            f(&a["longest_task_ms"], 0),
            f(&a["longest_task_ms_max"], 0),
            f(&a["long_tasks"], 0),
            mb(&a["js_heap_peak_bytes"]),
            mb(&a["wasm_memory_bytes"]),
            mb(&a["engine_memory_bytes"])
        );
    }
    let _ = writeln!(
        w,
        "\nDuckDB-WASM {} in the same browser, same files:\n",
        DUCKDB_VERSION
    );
    let _ = writeln!(w, "| rows | load engine | read CSV | weekly query | read + query | Scoreboard drop → rendered | DuckDB job ÷ Scoreboard | incl. engine load ÷ Scoreboard | same weekly figures as core? |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for c in &cases {
        let d = &c["duckdb"];
        let ag = &d["agreement_with_core"];
        let _ = writeln!(
            w,
            "| {} | {} ms | {} ms | {} ms | **{} ms** | {} ms | {}× | {}× | {} |",
            rows_label(c["rows"].as_u64().unwrap_or(0)),
            f(&d["load_engine_ms"], 0),
            f(&d["read_csv_ms"], 0),
            f(&d["query_ms"], 0),
            f(&d["read_and_query_ms"], 0),
            f(&c["app"]["drop_to_rendered_ms"], 0),
            f(&c["ratio_duckdb_job_to_app"], 2),
            f(&c["ratio_duckdb_with_load_to_app"], 2),
            match ag["agree"].as_bool() {
                Some(true) => format!("yes, {} weeks", ag["weeks_compared"]),
                Some(false) => format!("NO: {}", ag["mismatches"]),
                None => "—".into(),
            }
        );
    }
    for c in &cases {
        for (who, e) in [
            ("app", &c["app"]["errors"]),
            ("duckdb", &c["duckdb"]["errors"]),
        ] {
            if let Some(errs) = e.as_array().filter(|a| !a.is_empty()) {
                let _ = writeln!(
                    w,
                    "\n{} rows, {who}: {} failed run(s): {}",
                    c["rows"],
                    errs.len(),
                    errs[0]
                );
            }
        }
    }
    if let Some(e) = r["browser"]["error"].as_str() {
        let _ = writeln!(w, "\nNot measured: {e}");
    }
    let _ = writeln!(w, "\n{}\n", BROWSER_NOTES);

    // ---- 4 ----
    let _ = writeln!(w, "## 4. The engine alone, natively (criterion)\n");
    let _ = writeln!(w, "{}\n", ENGINE_METHOD);
    let run = &eng["run"];
    if run.is_object() {
        let _ = writeln!(
            w,
            "This part's run: load average {} at its start and {} at its end (other sessions' builds share the 2 cores; compare figures within one run).\n",
            run["loadavg_at_start"].as_str().unwrap_or("?"),
            run["loadavg_at_end"].as_str().unwrap_or("?"),
        );
    }
    let _ = writeln!(w, "| rows | core parse | core compute (8 weeks) | core compute (all 52 weeks) | polars (8 weeks) | polars (all) | parse per row | compute (all) per row | parse to rows of `DayRow` per row |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in ["10000", "100000", "1000000"] {
        let g = |k: &str| eng[k][n]["median_ms"].clone();
        if eng["parse"][n].is_null() {
            continue;
        }
        let _ = writeln!(
            w,
            "| {} | {} ms | {} ms | {} ms | {} ms | {} ms | {} ns | {} ns | {} ns |",
            rows_label(n.parse().unwrap_or(0)),
            f(&g("parse"), 1),
            f(&g("compute-8w"), 1),
            f(&g("compute-all"), 1),
            f(&g("polars-8w"), 1),
            f(&g("polars-all"), 1),
            f(&eng["parse"][n]["ns_per_row"], 0),
            f(&eng["compute-all"][n]["ns_per_row"], 0),
            f(&eng["parse-rows"][n]["ns_per_row"], 0)
        );
    }
    if let Some(e) = eng["error"].as_str() {
        let _ = writeln!(w, "\nNot measured: {e}");
    }
    let _ = writeln!(w);

    // ---- 5 ----
    let _ = writeln!(w, "## 5. Telemetry ingest\n");
    let _ = writeln!(w, "{}\n", INGEST_METHOD);
    let _ = writeln!(
        w,
        "This run: {}, load average {} at its start and {} at its end.\n",
        ing["started_at"].as_str().unwrap_or("?"),
        ing["loadavg_at_start"].as_str().unwrap_or("?"),
        ing["loadavg_at_end"].as_str().unwrap_or("?"),
    );
    ingest_table(w, ing);
    // A run of the same bench against an earlier server, kept in
    // results.json by hand (`ingest_before`): what the change bought.
    let before = &r["ingest_before"];
    if before.is_object() {
        let _ = writeln!(
            w,
            "\n**Before: {}.** Same bench, run {}, load average {} at its start and {} at its end.\n",
            before["label"].as_str().unwrap_or("an earlier server"),
            before["started_at"].as_str().unwrap_or("?"),
            before["loadavg_at_start"].as_str().unwrap_or("?"),
            before["loadavg_at_end"].as_str().unwrap_or("?"),
        );
        ingest_table(w, before);
    }
    let _ = writeln!(w, "\n{} users, {} sessions each per encoding, {} concurrent clients; templates: {}. Verified: {} of {} users' stored rows equal the sum of their sessions{}.\n",
        ing["users"], ing["sessions_per_user_per_encoding"], ing["concurrency"], ing["templates"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
        ing["verified_users"], ing["users_checked"], ing["mismatches"].as_array().filter(|a| !a.is_empty()).map(|a| format!("; mismatches: {a:?}")).unwrap_or_default());
    if let Some(e) = ing["error"].as_str() {
        let _ = writeln!(w, "Not measured: {e}\n");
    }
    let _ = writeln!(w, "{}\n", INGEST_NOTES);

    // ---- 6 ----
    let _ = writeln!(w, "## 6. Admin API backfill and the page's API\n");
    let _ = writeln!(w, "{}\n", BACKFILL_METHOD);
    let _ = writeln!(w, "| figure | value |\n|---|---|");
    let _ = writeln!(
        w,
        "| backfill {} days × {} people ({} rows) | **{} s** |",
        bf["days"],
        bf["people"],
        bf["rows_stored"],
        f(&bf["backfill_seconds"], 2)
    );
    let _ = writeln!(
        w,
        "| requests made to the upstream | {} ({}) |",
        bf["requests"], bf["requests_by_path"]
    );
    let _ = writeln!(
        w,
        "| `/api/rows`, default range ({} rows, {}) | p50 **{} ms**, p99 {} ms |",
        bf["api_rows"]["rows"],
        mb(&bf["api_rows"]["bytes"]),
        f(&bf["api_rows"]["p50_ms"], 1),
        f(&bf["api_rows"]["p99_ms"], 1)
    );
    let _ = writeln!(
        w,
        "| `/api/rows`, one week | p50 {} ms, p99 {} ms |",
        f(&bf["api_rows_one_week"]["p50_ms"], 1),
        f(&bf["api_rows_one_week"]["p99_ms"], 1)
    );
    let _ = writeln!(
        w,
        "| `/api/sources` | p50 {} ms, p99 {} ms |",
        f(&bf["api_sources"]["p50_ms"], 1),
        f(&bf["api_sources"]["p99_ms"], 1)
    );
    let rw = &bf["rows_wire"];
    let per_row = |v: &Value| match (v.as_f64(), rw["rows"].as_f64()) {
        (Some(b), Some(n)) if n > 0.0 => format!("{:.1} B/row", b / n),
        _ => "—".to_string(),
    };
    for (name, key) in [("JSON", "json"), ("compact", "compact")] {
        let _ = writeln!(
            w,
            "| `/api/rows` {name}, per row: to decode / gzip / brotli (as served) | {} / {} / **{}** |",
            per_row(&rw[format!("{key}_bytes")]),
            per_row(&rw["wire"][format!("{key}_gzip")]),
            per_row(&rw["wire"][format!("{key}_br")]),
        );
    }
    let _ = writeln!(
        w,
        "| decoding the {} rows natively: JSON / compact | {} ms / **{} ms** |",
        rw["rows"],
        f(&rw["decode_json_ms"], 1),
        f(&rw["decode_compact_ms"], 1)
    );
    let _ = writeln!(
        w,
        "| unchanged refresh (`If-None-Match`): status, bytes on the wire (headers) | {} , **{} B** |",
        rw["unchanged_status"], rw["unchanged_bytes"]
    );
    let _ = writeln!(
        w,
        "| server RSS after backfill and the API calls | {} |\n",
        mb(&bf["server_rss_bytes"])
    );
    if let Some(e) = bf["error"].as_str() {
        let _ = writeln!(w, "Not measured: {e}\n");
    }
    rows1m_table(w, rm);
    let _ = writeln!(w, "{}\n", BACKFILL_NOTES);

    // ---- 7 ----
    let _ = writeln!(w, "## 7. Server at rest\n");
    let _ = writeln!(w, "| state | resident memory |\n|---|---:|");
    let _ = writeln!(
        w,
        "| idle (started, empty store, 2 s) | {} |",
        mb(&ing["server_rss_idle_bytes"])
    );
    let _ = writeln!(
        w,
        "| peak during the ingest run | {} |",
        mb(&ing["server_rss_peak_bytes"])
    );
    let _ = writeln!(
        w,
        "| after a day of {} users' telemetry (3 s after the load) | {} |",
        ing["users"],
        mb(&ing["server_rss_after_load_bytes"])
    );
    let _ = writeln!(
        w,
        "| SQLite file after that day | {} |\n",
        mb(&ing["db_bytes"])
    );
    let _ = writeln!(w, "{}\n", REST_NOTES);
    hostile(w, &r["hostile"]);
    let _ = writeln!(
        w,
        "## Improvements made while measuring\n\n{}\n",
        IMPROVEMENTS
    );
    m
}

/// Section 8: memory and latency under the attacks of issue 11.
fn hostile(w: &mut String, h: &Value) {
    let _ = writeln!(w, "## 8. Hostile clients (issue 11)\n");
    let _ = writeln!(w, "{}\n", HOSTILE_METHOD);
    if let Some(e) = h["error"].as_str() {
        let _ = writeln!(w, "Not measured: {e}\n");
        return;
    }
    let _ = writeln!(
        w,
        "| honest clients | seconds | batches acknowledged | ack p50 | ack p99 | max | shed (503) | failed |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (name, p) in [
        ("alone", &h["baseline"]),
        ("under attack", &h["under_attack"]),
    ] {
        let _ = writeln!(
            w,
            "| {name} | {} | {} | {} ms | {} ms | {} ms | {} | {} |",
            f(&p["seconds"], 0),
            p["acked"],
            f(&p["ack_p50_ms"], 1),
            f(&p["ack_p99_ms"], 1),
            f(&p["ack_max_ms"], 1),
            p["shed_503"],
            p["failed"]
        );
    }
    let _ = writeln!(w, "\n| attacker | answers |\n|---|---|");
    if let Some(a) = h["attackers"].as_object() {
        for (who, answers) in a {
            let list: Vec<String> = answers
                .as_object()
                .map(|o| o.iter().map(|(k, v)| format!("{k} × {v}")).collect())
                .unwrap_or_default();
            let _ = writeln!(w, "| {who} | {} |", list.join(", "));
        }
    }
    let _ = writeln!(w, "\n| server memory | resident |\n|---|---:|");
    let _ = writeln!(w, "| idle | {} |", mb(&h["server_rss_idle_bytes"]));
    let _ = writeln!(
        w,
        "| peak during the attack | {} |",
        mb(&h["server_rss_peak_bytes"])
    );
    let _ = writeln!(w, "| after it | {} |", mb(&h["server_rss_after_bytes"]));
    let _ = writeln!(
        w,
        "| documented ceiling | {} |\n",
        mb(&h["rss_ceiling_bytes"])
    );
    let _ = writeln!(
        w,
        "After the attack `/api/health` answered {} and `/api/rows` {}.\n",
        h["health_after"], h["rows_after"]
    );
    let _ = writeln!(w, "{}\n", HOSTILE_NOTES);
}

pub const DUCKDB_VERSION: &str = "1.32.0 (`@duckdb/duckdb-wasm`, pinned in bench/package.json)";

const NOISE: &str = "Conditions: a shared 2-core machine. Other sessions' `cargo` builds may run at the same time, so absolute timings are noisy; medians over several runs are reported and each ratio compares runs made in the same `make bench`.";

const WEIGHT_METHOD: &str = "Method: `make bench` builds the site as `make build` does (`trunk build --release`). The first visit is `index.html` and every local file it names (the wasm-bindgen JS, the `.wasm`, the CSS), the modules those JS files import statically (the lazily loaded modules' loader, `wasm-split-*/__wasm_split.js`), plus any wasm-bindgen `snippets/`; the lazily loaded wasm modules themselves are listed apart, below the table, and not counted; the demo files are fetched only when the server runs with `--demo`. Each file is compressed here with gzip level 9 and brotli quality 11, and also downloaded from the real `scoreboard serve --dist dist` with `Accept-Encoding: gzip, deflate, br` to record what it actually transfers: since issue 12 the build writes `.br` (brotli -q 11) and `.gz` (gzip -9) beside each file (scripts/precompress.sh) and the server sends those as they are, so the as-served column is the build's brotli file. 1 KB = 1000 bytes.";

const WEIGHT_NOTES: &str = include_str!("../notes/weight.md");
const BROWSER_METHOD: &str = include_str!("../notes/browser-method.md");
const BROWSER_NOTES: &str = include_str!("../notes/browser.md");
const ENGINE_METHOD: &str = include_str!("../notes/engine.md");
const INGEST_METHOD: &str = include_str!("../notes/ingest-method.md");
const INGEST_NOTES: &str = include_str!("../notes/ingest.md");
/// §6's second table: the 1 M-row store opening in the page (`--only rows1m`).
fn rows1m_table(w: &mut String, rm: &Value) {
    let _ = writeln!(w, "**A 1 M-row store opening in the page** (`--only rows1m`, load average at its start {}): {} engineers × {} days ({} rows, {} SQLite file), written through the server's `Store::replace_day` (not timed), then `scoreboard serve` on it and the page in headless Chromium with a fresh profile. Times are from the navigation to the page's `scoreboard:rendered` mark; bytes are the browser's Resource Timing of the `api/rows` answer.\n",
        rm["loadavg_at_start"].as_str().unwrap_or("—"), rm["people"], rm["days"], rm["rows_stored"], mb(&rm["store_bytes"]));
    let _ = writeln!(
        w,
        "| figure | first open (fresh profile) | reload (IndexedDB + `304`) |\n|---|---:|---:|"
    );
    let (a, b) = (&rm["first_open"], &rm["reload"]);
    let secs = |v: &Value| f(&json!(v.as_f64().map(|x| x / 1000.0)), 2);
    let _ = writeln!(
        w,
        "| navigation → dashboard rendered | **{} s** | **{} s** |",
        secs(&a["navigation_to_rendered_ms"]),
        secs(&b["navigation_to_rendered_ms"])
    );
    let _ = writeln!(
        w,
        "| navigation → rows restored from IndexedDB | {} | {} s |",
        secs(&a["marks_ms"]["rows-restored"]),
        secs(&b["marks_ms"]["rows-restored"])
    );
    let _ = writeln!(
        w,
        "| navigation → `api/rows` request sent | {} s | {} s |",
        secs(&a["rows_request_start_ms"]),
        secs(&b["rows_request_start_ms"])
    );
    let _ = writeln!(w, "| `api/rows` request (sent → response end: the server reading, encoding and compressing) | {} s | {} s |", secs(&a["rows_request_ms"]), secs(&b["rows_request_ms"]));
    let _ = writeln!(w, "| navigation → rows answer decoded (`scoreboard:rows-full` / `-unchanged`) | {} s | {} s |", secs(&a["marks_ms"]["rows-full"]), secs(&b["marks_ms"]["rows-unchanged"]));
    let _ = writeln!(
        w,
        "| `api/rows` answer: kind, rows | {} , {} | {} , {} |",
        a["rows_answer"]["kind"].as_str().unwrap_or("—"),
        a["rows_answer"]["rows"],
        b["rows_answer"]["kind"].as_str().unwrap_or("—"),
        b["rows_answer"]["rows"]
    );
    let _ = writeln!(w, "| `api/rows` on the wire (transfer size) / body as sent / decoded | {} / {} / {} | {} B / {} B / {} B |",
        mb(&a["rows_transfer_bytes"]), mb(&a["rows_encoded_body_bytes"]), mb(&a["rows_decoded_body_bytes"]),
        b["rows_transfer_bytes"], b["rows_encoded_body_bytes"], b["rows_decoded_body_bytes"]);
    // The figures checked against core's on the same store.
    for (label, key) in [("weekly active engineers", "wae"), ("sessions", "sessions")] {
        let page = |v: &Value| v[format!("page_{key}")].as_str().unwrap_or("—").to_string();
        let _ = writeln!(
            w,
            "| {label}, {} (core on the store: {}) | {} | {} |",
            rm["reference_week"].as_str().unwrap_or("—"),
            rm[format!("core_{key}")],
            page(a),
            page(b)
        );
    }
    let _ = writeln!(
        w,
        "| server RSS after both visits (peak since start) | {} ({}) | |\n",
        mb(&rm["server_rss_bytes"]),
        mb(&rm["server_peak_rss_bytes"])
    );
    let wc = &rm["window_change"];
    if let Some(e) = wc["error"].as_str() {
        let _ = writeln!(
            w,
            "The window filter's change after the reload was not measured: {e}\n"
        );
    } else if wc.is_object() {
        let _ = writeln!(
            w,
            "After the reload, the window filter changed to 52 weeks (the report computed again over the rows the page holds, nothing fetched): change → painted **{} ms**, of which the report's computation {} ms ({} computation{}); longest main-thread task {} ms; weekly active engineers shown {}.\n",
            f(&wc["change_to_painted_ms"], 0),
            f(&wc["compute_ms"], 0),
            wc["computes"],
            if wc["computes"] == 1 { "" } else { "s" },
            f(&wc["longest_task_ms"], 0),
            wc["wae"].as_str().unwrap_or("—")
        );
    }
    let n = &rm["native"];
    if n.is_object() {
        let _ = writeln!(w, "After the visits, the page's full `api/rows` asked again natively (the server's kept answer; median of three) and core's decoder run natively on it (the page runs the same code in wasm):\n");
        let _ = writeln!(w, "| figure | value |\n|---|---:|");
        let _ = writeln!(
            w,
            "| server's full answer, cold (the first open's request, sent → response end) | {} s |",
            secs(&a["rows_request_ms"])
        );
        let c = &rm["cold_native"];
        if c.is_object() {
            let _ = writeln!(
                w,
                "| server's full answer, cold, natively before the visits (another range of all the rows; compact, brotli; request → last byte) | {} s ({}), server peak RSS then {} |",
                secs(&c["ms"]),
                mb(&c["brotli_bytes"]),
                mb(&rm["server_peak_rss_after_cold_bytes"])
            );
        }
        let _ = writeln!(
            w,
            "| server's full answer, kept: brotli / plain, request → last byte | {} ms / {} ms |",
            f(&n["kept_answer_brotli_ms"], 0),
            f(&n["kept_answer_plain_ms"], 0)
        );
        let _ = writeln!(
            w,
            "| bytes per row: on the wire (brotli) / to decode | {} B / {} B (goals ≤ 16 / ≤ 64) |",
            f(&n["wire_bytes_per_row"], 1),
            f(&n["decoded_bytes_per_row"], 1)
        );
        let _ = writeln!(
            w,
            "| decode {} rows natively (`rows_wire::decode`) | {} ms |\n",
            n["rows"],
            f(&n["decode_ms"], 0)
        );
    }
    let x = &rm["with_exports"];
    if x.is_object() {
        let _ = writeln!(w, "With an exports folder (`--imports`: {} file rows, a 30-day usage export of every engineer and an Admin API dump of one day for 500 of them, under the store's rows of that day), each answer asked once of a fresh `scoreboard serve` on the same store, so its peak RSS is that answer's making (load average {} at the first start; uncompressed):\n",
            x["exports_rows"], x["loadavg"].as_str().unwrap_or("—"));
        let _ = writeln!(
            w,
            "| answer | status | body | rows | request → last byte | server RSS after start → peak |\n|---|---:|---:|---:|---:|---:|"
        );
        for (label, key) in [
            ("the whole range, compact", "compact_year"),
            ("the whole range, JSON", "json_year"),
            ("the last 30 days, JSON", "json_month"),
        ] {
            let a = &x[key];
            let _ = writeln!(
                w,
                "| {label} | {} | {} | {} | {} s | {} → **{}** |",
                a["status"],
                match a["body_bytes"].as_u64() {
                    Some(n) if n < 100_000 => format!("{n} B"),
                    _ => mb(&a["body_bytes"]),
                },
                a["rows"]
                    .as_u64()
                    .map_or("—".to_string(), |n| n.to_string()),
                secs(&a["ms"]),
                mb(&a["server_rss_after_start_bytes"]),
                mb(&a["server_peak_rss_bytes"])
            );
        }
        if let Some(m) = x["json_year"]["message"].as_str() {
            let _ = writeln!(w, "\nThe whole range's JSON answer is refused: \"{m}\"");
        }
        let _ = writeln!(w);
    }
    if let Some(p) = rm["problems"].as_array().filter(|p| !p.is_empty()) {
        let _ = writeln!(w, "Figures wrong: {}\n", Value::Array(p.clone()));
    }
    if let Some(e) = rm["error"].as_str() {
        let _ = writeln!(w, "Not measured: {e}\n");
    }
}

const BACKFILL_METHOD: &str = include_str!("../notes/backfill-method.md");
const BACKFILL_NOTES: &str = include_str!("../notes/backfill.md");
const REST_NOTES: &str = include_str!("../notes/rest.md");
const IMPROVEMENTS: &str = include_str!("../notes/improvements.md");
const HOSTILE_METHOD: &str = include_str!("../notes/hostile-method.md");
const HOSTILE_NOTES: &str = include_str!("../notes/hostile.md");
