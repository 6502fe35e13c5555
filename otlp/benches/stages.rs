//! One batch's request-side cost, stage by stage, natively: the batches
//! `make bench`'s ingest part sends (Claude Code's captured sessions,
//! re-stamped per user and encoded as captured), each stage timed over all
//! of them. BENCHMARKS.md §5 splits a batch's server CPU with it; the
//! writer thread's share is measured by the bench itself (`/proc` of the
//! running server).
//!
//! `cargo bench -p scoreboard-otlp --bench stages`; each figure is the time
//! for the whole set of batches (its size is printed first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scoreboard_otlp::profile::{self, Body};
use scoreboard_test_support::otlp::{fixtures, Batch, Template};

/// The templates of `bench/src/ingest.rs` (JSON, then protobuf).
const TEMPLATES: [(&str, &str); 6] = [
    ("claude-code-2.1.330", "write-json-delta"),
    ("claude-code-2.1.330", "edit-json-delta"),
    ("claude-code-2.1.330", "bash-commit-json-delta"),
    ("claude-code-2.1.330", "hello-json-delta"),
    ("claude-code-2.1.330", "write-protobuf-delta"),
    ("claude-code-2.1.330", "hello-protobuf-delta"),
];

fn batches(protobuf: bool) -> Vec<Batch> {
    let mut out = Vec::new();
    for (version, scenario) in TEMPLATES {
        let t = Template::load(&fixtures(), version, scenario).unwrap();
        if t.protobuf != protobuf {
            continue;
        }
        for u in 0..8 {
            let user = format!("{u:064x}");
            let email = format!("user{u}@example.com");
            out.extend(t.session(&user, &format!("session-{u}"), Some(&email), 0, false));
        }
    }
    out
}

fn stages(c: &mut Criterion) {
    for protobuf in [false, true] {
        let set = batches(protobuf);
        let bodies: Vec<Body<'_>> = set
            .iter()
            .map(|b| Body {
                metrics: b.path == "/v1/metrics",
                protobuf,
                bytes: &b.body,
            })
            .collect();
        let bytes: usize = set.iter().map(|b| b.body.len()).sum();
        let points: usize = set.iter().map(|b| b.points).sum();
        let name = if protobuf { "protobuf" } else { "json" };
        eprintln!(
            "{name}: {} batches, {points} points, {bytes} bytes",
            bodies.len()
        );
        let mut g = c.benchmark_group(format!("stages/{name}"));
        g.throughput(Throughput::Elements(bodies.len() as u64));
        g.measurement_time(Duration::from_secs(3));
        let mut stage = |name: &str, f: fn(Body<'_>) -> u64| {
            g.bench_function(name, |b| {
                b.iter(|| bodies.iter().map(|x| f(black_box(*x))).sum::<u64>())
            });
        };
        stage("estimate", profile::estimate);
        stage("decode, general", |x| profile::decode_general(x) as u64);
        if !protobuf {
            stage("one-pass bound", |x| profile::one_pass_bound(x) as u64);
            stage("decode, one pass", |x| {
                profile::decode_one_pass(x).map_or(0, |n| n as u64)
            });
        }
        stage("decode + extract", |x| {
            profile::decode_and_extract(x) as u64
        });
        stage("digest", |x| u64::from(profile::digest(x)));
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
