//! Admin API calls (sources.md §1): the Claude Code usage report one UTC day
//! at a time, the organisation behind the key, its users and API keys.
//! Wire types and the record → row mapping are core's
//! (`scoreboard_core::parse::admin_api`); this module only fetches.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use scoreboard_core::parse::admin_api::{self, Actor, IdPage, UsagePage, UsageRecord};
use scoreboard_core::{DayRow, PersonKey, Problem, RosterEntry};
use serde::Deserialize;

use super::paginate::{paginate, Next, Page};
use super::{Client, UpstreamError};
use crate::store::DayStats;

pub const USAGE_PATH: &str = "/v1/organizations/usage_report/claude_code";
pub const ME_PATH: &str = "/v1/organizations/me";
pub const USERS_PATH: &str = "/v1/organizations/users";
pub const API_KEYS_PATH: &str = "/v1/organizations/api_keys";

/// `GET /v1/organizations/me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Organization {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

pub async fn me(client: &Client) -> Result<Organization, UpstreamError> {
    client.get_json(ME_PATH, &[]).await
}

/// One day of the usage report, normalised.
#[derive(Debug, Clone, Default)]
pub struct DayFetch {
    pub rows: Vec<DayRow>,
    pub stats: DayStats,
    pub problems: Vec<Problem>,
}

/// All records of one UTC day, following `next_page` while `has_more`
/// (the sequence's rules, expired cursors included, are [`paginate`]'s).
pub async fn usage_day_records(
    client: &Client,
    day: NaiveDate,
) -> Result<Vec<UsageRecord>, UpstreamError> {
    let limit = client.config().page_limit.to_string();
    paginate(&format!("{USAGE_PATH} for {day}"), |cursor| {
        let mut query = vec![("starting_at", day.to_string()), ("limit", limit.clone())];
        query.extend(cursor.map(|c| ("page", c)));
        async move {
            let page: UsagePage = client.get_json(USAGE_PATH, &query).await?;
            Ok(Page {
                data: page.data,
                next: Next::after(page.has_more, page.next_page),
            })
        }
    })
    .await
}

/// Fetches and normalises one day. Records dated on another day (which the
/// API should never send) are reported and left out, so replacing the
/// stored day cannot leak into its neighbours.
pub async fn fetch_day(client: &Client, day: NaiveDate) -> Result<DayFetch, UpstreamError> {
    let records = usage_day_records(client, day).await?;
    let file = format!("Admin API {day}");
    let (rows, mut problems) = admin_api::records_to_rows(&file, &records);
    let (rows, other): (Vec<DayRow>, Vec<DayRow>) = rows.into_iter().partition(|r| r.day == day);
    for r in other {
        problems.push(Problem::new(
            &file,
            None,
            format!(
                "a record for {} dated {} was left out: it was asked for {day}",
                r.person, r.day
            ),
        ));
    }
    Ok(DayFetch {
        rows,
        stats: stats_of(&records),
        problems,
    })
}

pub fn stats_of(records: &[UsageRecord]) -> DayStats {
    DayStats {
        records: records.len() as u64,
        user_actor_records: records
            .iter()
            .filter(|r| matches!(r.actor, Actor::UserActor { .. }))
            .count() as u64,
        non_api_records: records
            .iter()
            .filter(|r| r.customer_type.as_deref() != Some("api"))
            .count() as u64,
    }
}

/// Core's coverage warning over stored history. The warning depends only on
/// whether any record was a `user_actor` and whether every record was
/// `customer_type: "api"`; the per-day counts keep exactly that, so one
/// record of each kind seen stands in for the history.
pub fn coverage_warning(stats: &DayStats) -> Option<String> {
    let record = |actor: Actor, customer_type: &str| UsageRecord {
        date: String::new(),
        actor,
        organization_id: None,
        customer_type: Some(customer_type.to_string()),
        subscription_type: None,
        terminal_type: None,
        is_remote: None,
        core_metrics: Default::default(),
        tool_actions: BTreeMap::new(),
        model_breakdown: Vec::new(),
    };
    let mut shapes = Vec::new();
    if stats.records > 0 {
        if stats.user_actor_records > 0 {
            shapes.push(record(
                Actor::UserActor {
                    email_address: "x@x".into(),
                },
                "api",
            ));
        } else {
            shapes.push(record(
                Actor::ApiActor {
                    api_key_name: "x".into(),
                },
                "api",
            ));
        }
        if stats.non_api_records > 0 {
            shapes.push(record(
                Actor::ApiActor {
                    api_key_name: "x".into(),
                },
                "subscription",
            ));
        }
    }
    admin_api::coverage_warning(&shapes)
}

/// Follows id-cursor pagination (`after_id` ← `last_id` while `has_more`).
async fn id_paged<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &str,
) -> Result<Vec<T>, UpstreamError> {
    let limit = client.config().page_limit.to_string();
    paginate(path, |after| {
        let mut query = vec![("limit", limit.clone())];
        query.extend(after.map(|a| ("after_id", a)));
        async move {
            let page: IdPage<T> = client.get_json(path, &query).await?;
            Ok(Page {
                data: page.data,
                next: Next::after(page.has_more, page.last_id),
            })
        }
    })
    .await
}

pub async fn users(client: &Client) -> Result<Vec<admin_api::User>, UpstreamError> {
    id_paged(client, USERS_PATH).await
}

pub async fn api_keys(client: &Client) -> Result<Vec<admin_api::ApiKey>, UpstreamError> {
    id_paged(client, API_KEYS_PATH).await
}

/// The organisation's members as roster entries, each with the API keys
/// they created as aliases (`api-key:<name>`), so that usage reported under
/// an `api_actor` counts for its owner. A key name shared by keys of two
/// different people is ambiguous and maps to no one.
pub fn directory(users: &[admin_api::User], keys: &[admin_api::ApiKey]) -> Vec<RosterEntry> {
    let mut owners: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for k in keys {
        if let Some(by) = &k.created_by {
            if !k.name.trim().is_empty() && by.kind != "service_account" {
                owners
                    .entry(k.name.trim())
                    .or_default()
                    .insert(by.id.as_str());
            }
        }
    }
    let mut entries = Vec::new();
    for u in users {
        let Some(mut e) = u.roster_entry() else {
            continue;
        };
        for (name, ids) in &owners {
            if ids.len() == 1 && ids.contains(u.id.as_str()) {
                let alias = PersonKey::api_key(name);
                if !e.aliases.contains(&alias) {
                    e.aliases.push(alias);
                }
            }
        }
        entries.push(e);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_from_stats_matches_core_on_the_records() {
        assert!(
            coverage_warning(&DayStats::default()).is_some(),
            "empty org warns"
        );
        let only_keys = DayStats {
            records: 3,
            user_actor_records: 0,
            non_api_records: 0,
        };
        assert!(coverage_warning(&only_keys).unwrap().contains("API-key"));
        let only_api_users = DayStats {
            records: 3,
            user_actor_records: 2,
            non_api_records: 0,
        };
        assert!(coverage_warning(&only_api_users).is_some());
        let seats = DayStats {
            records: 3,
            user_actor_records: 2,
            non_api_records: 1,
        };
        assert!(coverage_warning(&seats).is_none());
    }

    #[test]
    fn api_keys_become_aliases_of_their_creator() {
        let user = |id: &str, email: &str| admin_api::User {
            id: id.into(),
            email: email.into(),
            ..Default::default()
        };
        let key = |name: &str, by: &str| admin_api::ApiKey {
            id: format!("k-{name}-{by}"),
            name: name.into(),
            created_by: Some(admin_api::CreatedBy {
                id: by.into(),
                kind: "user".into(),
            }),
            ..Default::default()
        };
        let d = directory(
            &[user("user_1", "Ann@x.com"), user("user_2", "bob@x.com")],
            &[
                key("ann-laptop", "user_1"),
                key("shared", "user_1"),
                key("shared", "user_2"),
            ],
        );
        assert_eq!(d[0].person.as_str(), "ann@x.com");
        assert!(d[0].aliases.contains(&PersonKey::api_key("ann-laptop")));
        assert!(d[0].aliases.contains(&PersonKey::account("user_1")));
        assert!(!d
            .iter()
            .any(|e| e.aliases.contains(&PersonKey::api_key("shared"))));
    }
}
