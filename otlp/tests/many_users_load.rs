//! Hundreds of users and thousands of batches built from the captured
//! shapes (JSON and protobuf, gzip or not, delta and cumulative, both CLI
//! versions), sent concurrently with a share of them re-sent late, like
//! client retries. The stored rows must match the totals exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta};
use common::*;
use futures_util::StreamExt;
use scoreboard_core::{DayRow, PersonKey};
use scoreboard_test_support::otlp::{fixtures, Batch, Template};
use scoreboard_test_support::rng::Lcg;

const USERS: u64 = 300;
const SESSIONS_PER_USER: u64 = 2;

/// A captured session used as a shape: (version, scenario, send gzipped).
const TEMPLATES: [(&str, &str, bool); 6] = [
    ("claude-code-2.1.330", "write-json-delta", false),
    ("claude-code-2.1.330", "write-protobuf-cumulative", false),
    ("claude-code-2.1.330", "edit-json-delta", true),
    ("claude-code-2.1.330", "hello-protobuf-delta", true),
    ("claude-code-2.1.330", "write-json-cumulative", false),
    ("claude-code-2.1.197", "edit-json-delta", false),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_users_and_thousands_of_batches_add_up_exactly() {
    let templates: Vec<(Template, bool)> = TEMPLATES
        .iter()
        .map(|(v, s, gzip)| (Template::load(&fixtures(), v, s).unwrap(), *gzip))
        .collect();
    let mut rng = Lcg(0x5eed);
    let mut batches: Vec<Batch> = Vec::new();
    let mut want: BTreeMap<(NaiveDate, PersonKey), DayRow> = BTreeMap::new();

    for u in 0..USERS {
        let user_id = format!("{:064x}", 0xa11ce_u64 * 1_000 + u);
        // A third of the users are signed in (user.email); the rest are devices only.
        let email = (u % 3 == 0).then(|| format!("User{u}@Example.com"));
        let person = match &email {
            Some(e) => PersonKey::email(e),
            None => PersonKey::device(&user_id),
        };
        for k in 0..SESSIONS_PER_USER {
            let (t, gzip) = &templates[((u + k) % templates.len() as u64) as usize];
            let session = format!("00000000-0000-4000-8000-{:012x}", u * 100 + k);
            let days = (u * 7 + k * 3) % 10;
            batches.extend(t.session(&user_id, &session, email.as_deref(), days, *gzip));
            let day = capture_day() + TimeDelta::days(days as i64);
            let row = expected(&t.version, &t.scenario).row(day, person.clone());
            match want.get_mut(&(day, person.clone())) {
                Some(r) => r.absorb(&row),
                None => {
                    want.insert((day, person.clone()), row);
                }
            }
        }
    }
    let unique = batches.len();
    assert!(unique >= 3000, "thousands of batches: {unique}");

    // Shuffle, then re-send a tenth of the batches somewhere later, as retries do.
    rng.shuffle(&mut batches);
    let mut order: Vec<usize> = (0..unique).collect();
    let mut retries = 0;
    for i in 0..unique {
        if rng.draw().is_multiple_of(10) {
            let at = i + 1 + (rng.draw() as usize) % (order.len() - i).max(1);
            order.insert(at.min(order.len()), i);
            retries += 1;
        }
    }

    let s = Server::start().await;
    let c = client();
    let statuses: Vec<u16> = futures_util::stream::iter(order.iter().map(|&i| {
        let c = c.clone();
        let b = &batches[i];
        let url = s.url(b.path);
        async move {
            // Behave like an OTLP client: honour 503 + Retry-After (none is expected here).
            loop {
                let mut req = c
                    .post(&url)
                    .header("Content-Type", b.content_type)
                    .header("Authorization", format!("Bearer {TOKEN}"));
                if b.gzip {
                    req = req.header("Content-Encoding", "gzip");
                }
                let resp = req.body(b.body.clone()).send().await.unwrap();
                let status = resp.status().as_u16();
                if status != 503 {
                    let body = resp.bytes().await.unwrap();
                    assert!(
                        body.is_empty() || &body[..] == b"{}",
                        "no partial success expected"
                    );
                    return status;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    assert!(
        statuses.iter().all(|&st| st == 200),
        "every batch acknowledged"
    );

    let got = s.rows();
    let want: Vec<DayRow> = want.into_values().collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    let total = |rows: &[DayRow]| {
        rows.iter().fold((0u64, 0u64, 0u64, 0i64), |a, r| {
            (
                a.0 + r.measures.sessions,
                a.1 + r.measures.lines_added,
                a.2 + r.measures.input_tokens,
                a.3 + r.measures.cost_micros,
            )
        })
    };
    assert_eq!(total(&got), total(&want));
    assert_eq!(total(&got).0, USERS * SESSIONS_PER_USER);

    let status = s.rx.status(chrono::Utc::now());
    assert_eq!(status.batches_received, unique as u64);
    assert_eq!(status.duplicate_batches, retries);
    assert_eq!(status.persons_seen.len() as u64, USERS);
    assert_eq!(status.unattributed_devices, USERS - USERS.div_ceil(3));
    assert_eq!(status.rejected_points, 0);
    s.stop().await;
}
