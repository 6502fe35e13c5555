//! Enterprise Analytics API (sources.md §3): `/v1/organizations/analytics/users`
//! for one UTC day per call, its own key (`read:analytics`), envelope
//! `{data, next_page}`. It holds no data before 2026-01-01, so no earlier day
//! is ever asked for.

use chrono::NaiveDate;
use scoreboard_core::parse::enterprise_api::{self, UserRecord, UsersPage};
use scoreboard_core::Problem;

use super::admin::DayFetch;
use super::paginate::{paginate, Next, Page};
use super::{Client, UpstreamError};
use crate::store::DayStats;

pub const USERS_PATH: &str = "/v1/organizations/analytics/users";

/// The first day the Enterprise Analytics API has data for.
pub fn earliest_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// All records of one UTC day, following `next_page` while there is one.
pub async fn day_records(
    client: &Client,
    day: NaiveDate,
) -> Result<Vec<UserRecord>, UpstreamError> {
    if day < earliest_day() {
        return Ok(Vec::new());
    }
    let limit = client.config().page_limit.to_string();
    paginate(&format!("{USERS_PATH} for {day}"), |cursor| {
        let mut query = vec![("date", day.to_string()), ("limit", limit.clone())];
        query.extend(cursor.map(|c| ("page", c)));
        async move {
            let page: UsersPage = client.get_json(USERS_PATH, &query).await?;
            Ok(Page {
                data: page.data,
                next: Next::from_cursor(page.next_page),
            })
        }
    })
    .await
}

/// One day, normalised.
pub async fn fetch_day(client: &Client, day: NaiveDate) -> Result<DayFetch, UpstreamError> {
    let records = day_records(client, day).await?;
    let file = format!("Enterprise Analytics API {day}");
    let (rows, problems): (_, Vec<Problem>) = enterprise_api::records_to_rows(&file, day, &records);
    let with_email = records
        .iter()
        .filter(|r| {
            r.user
                .as_ref()
                .and_then(|u| u.email_address.as_deref())
                .is_some_and(|e| !e.trim().is_empty())
        })
        .count() as u64;
    let stats = DayStats {
        records: records.len() as u64,
        user_actor_records: with_email,
        // Every user this API reports holds a claude.ai seat.
        non_api_records: records.len() as u64,
    };
    Ok(DayFetch {
        rows,
        stats,
        problems,
    })
}
