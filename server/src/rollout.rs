//! `GET /api/telemetry/rollout`: is the telemetry roll-out working?
//!
//! - per ingest token: when it last brought telemetry, from how many
//!   people and installations, and how many requests with it were refused
//!   in the last 24 hours and 7 days, with the last reason;
//! - per roster member: when telemetry last named them (under any of their
//!   keys), the Claude Code version last reported (flagged when older than
//!   any version this receiver was tested with), and the tokens they send
//!   with; members never heard from are listed too (the page tells "not
//!   installed" from "not started" with `core::telemetry::coverage`);
//! - installations and account ids telemetry heard from that the roster
//!   does not tie to a person, with the alias that would.
//!
//! Same access rule as the other read routes (mounted under
//! `auth::require_reader`). Sizes: tokens and roster members are the
//! admin's own; unattributed ids are capped at [`MAX_UNATTRIBUTED`].

use std::collections::{BTreeSet, HashMap};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use scoreboard_core::PersonKey;
use scoreboard_otlp::{ClientSeen, PersonClients};

use crate::error::{blocking, ApiError};
use crate::state::AppState;
use crate::store::TokenKind;

/// Most unattributed ids listed (the most recent; `total` counts all).
pub const MAX_UNATTRIBUTED: usize = 500;

/// The oldest Claude Code whose telemetry this receiver was tested with
/// (the captures in `fixtures/otlp/`): older versions are flagged, since
/// the metrics Scoreboard counts may be missing or named differently.
pub const OLDEST_TESTED_VERSION: &str = "2.1.197";

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/telemetry/rollout", get(rollout))
}

pub use scoreboard_core::api::{
    MemberRollout, Rollout, TokenRollout, Unattributed, UnattributedRollout, UnnamedRefusals,
};

/// `2.1.330` → `[2, 1, 330]`; `None` for anything else.
fn version_parts(v: &str) -> Option<Vec<u64>> {
    let core = v.split(['-', '+', ' ']).next()?;
    core.split('.').map(|p| p.parse().ok()).collect()
}

pub fn older_than_tested(v: &str) -> bool {
    match (version_parts(v), version_parts(OLDEST_TESTED_VERSION)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }
}

/// The version of the most recent client that reported one, and the
/// tokens, most recent first.
fn summarise<'a>(clients: impl Iterator<Item = &'a ClientSeen>) -> (Option<String>, Vec<i64>) {
    let mut all: Vec<&ClientSeen> = clients.collect();
    all.sort_by_key(|c| std::cmp::Reverse(c.last_received_at));
    let version = all.iter().find_map(|c| c.version.clone());
    let mut seen = BTreeSet::new();
    let tokens = all
        .iter()
        .filter_map(|c| c.token)
        .filter(|t| seen.insert(*t))
        .collect();
    (version, tokens)
}

fn build(state: &AppState, now: DateTime<Utc>) -> Result<Rollout, ApiError> {
    let internal = |e: &dyn std::fmt::Display| ApiError::internal(e.to_string());
    let store = state.store();
    let roster = state
        .roster_file()
        .merged(store)
        .map_err(|e| internal(&e))?;
    let refused = state.refusals().summary(now).map_err(|e| internal(&e))?;
    let refused_unnamed = refused
        .by_reason
        .iter()
        .filter(|r| {
            r.area == "ingest"
                && matches!(r.reason.as_str(), "unknown_token" | "missing_credential")
        })
        .map(|r| UnnamedRefusals {
            reason: r.reason.clone(),
            text: r.text.clone(),
            last_24h: r.last_24h,
            last_7d: r.last_7d,
            last_at: r.last_at,
        })
        .collect();
    let refused: HashMap<i64, _> = refused
        .by_token
        .into_iter()
        .map(|t| (t.token_id, t))
        .collect();
    let rx = state.telemetry();
    let usage: HashMap<i64, scoreboard_otlp::TokenUsage> = match rx {
        Some(rx) => rx
            .token_usage()
            .map_err(|e| internal(&e))?
            .into_iter()
            .filter_map(|u| Some((u.token?, u)))
            .collect(),
        None => HashMap::new(),
    };
    let tokens = store
        .tokens()
        .map_err(|e| internal(&e))?
        .into_iter()
        .filter(|t| t.kind == TokenKind::Ingest || refused.contains_key(&t.id))
        .map(|t| {
            let u = usage.get(&t.id);
            let r = refused.get(&t.id);
            TokenRollout {
                id: t.id,
                name: t.name,
                hint: t.hint,
                created_at: t.created_at,
                revoked_at: t.revoked_at,
                last_received_at: u.map(|u| u.last_received_at),
                people: u.map_or(0, |u| u.people),
                devices: u.map_or(0, |u| u.devices),
                refused_24h: r.map_or(0, |r| r.last_24h),
                refused_7d: r.map_or(0, |r| r.last_7d),
                last_refused_at: r.map(|r| r.last_at),
                last_refusal_reason: r.map(|r| r.last_reason.clone()),
                last_refusal_text: r.map(|r| r.last_reason_text.clone()),
            }
        })
        .collect();

    let keys: Vec<PersonKey> = roster
        .entries()
        .iter()
        .flat_map(|e| std::iter::once(e.person.clone()).chain(e.aliases.iter().cloned()))
        .collect();
    let heard: Vec<PersonClients> = match rx {
        Some(rx) => rx.persons_by_key(&keys).map_err(|e| internal(&e))?,
        None => Vec::new(),
    };
    let mut by_member: HashMap<PersonKey, Vec<&PersonClients>> = HashMap::new();
    for h in &heard {
        by_member
            .entry(roster.resolve(&h.seen.person))
            .or_default()
            .push(h);
    }
    let members = roster
        .entries()
        .iter()
        .map(|e| {
            let heard = by_member.get(&e.person).map(Vec::as_slice).unwrap_or(&[]);
            let last = heard.iter().map(|h| h.seen.last_received_at).max();
            let (version, tokens) = summarise(heard.iter().flat_map(|h| h.clients.iter()));
            MemberRollout {
                person: e.person.clone(),
                name: e.name.clone(),
                team: e.team.clone(),
                last_received_at: last,
                version_older_than_tested: version.as_deref().is_some_and(older_than_tested),
                version,
                tokens,
            }
        })
        .collect();

    let (items, total) = match rx {
        Some(rx) => rx
            .unattributed(MAX_UNATTRIBUTED, &|k| roster.entry_for(k).is_some())
            .map_err(|e| internal(&e))?,
        None => (Vec::new(), 0),
    };
    let items: Vec<UnattributedRollout> = items
        .into_iter()
        .map(|p| {
            let (version, tokens) = summarise(p.clients.iter());
            UnattributedRollout {
                alias: p.seen.person.as_str().to_string(),
                person: p.seen.person,
                device_only: p.seen.device_only,
                first_received_at: p.seen.first_received_at,
                last_received_at: p.seen.last_received_at,
                version,
                tokens,
            }
        })
        .collect();
    Ok(Rollout {
        generated_at: now,
        telemetry: rx.is_some(),
        oldest_tested_version: OLDEST_TESTED_VERSION.to_string(),
        tokens,
        refused_unnamed,
        members,
        unattributed: Unattributed {
            truncated: total > items.len() as u64,
            total,
            items,
        },
    })
}

async fn rollout(State(state): State<AppState>) -> Result<Json<Rollout>, ApiError> {
    let now = state.now();
    let s = state.clone();
    blocking(move || build(&s, now)).await?.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_older_than_the_oldest_tested_are_flagged() {
        assert!(older_than_tested("2.0.28"));
        assert!(older_than_tested("2.1.9"));
        assert!(!older_than_tested("2.1.197"));
        assert!(!older_than_tested("2.1.330"));
        assert!(!older_than_tested("10.0.0"));
        assert!(!older_than_tested("not-a-version"));
    }
}
