//! The weekly digest (issue 15): the reference week's answer as a chat
//! message, computed with core ([`scoreboard_core::metrics::digest`]) from
//! the same report as the page, written in Markdown
//! ([`crate::report::render_digest`]) and posted to an incoming webhook as
//! `{"text": …}` (Slack, Mattermost, Microsoft Teams workflows).
//!
//! `scoreboard digest` prints or posts it once; `serve` posts it on a
//! schedule (`digest_schedule`, e.g. "Mon 09:00 Europe/Berlin", zones from
//! `chrono-tz`) to `SCOREBOARD_DIGEST_WEBHOOK_URL`, at most once per ISO week
//! of the schedule's zone: the week posted is recorded in the store, so a
//! restart does not post again. A post is retried with backoff as the
//! Anthropic calls are (`anthropic.max_retries`, `retry_min_delay`,
//! `retry_max_delay`); a week whose post failed is tried again an hour later.
//! The last result shows in `/api/sources` (`digest`).
//!
//! The webhook URL carries the chat's credential: it lives in
//! [`Secret`], is never logged, and errors are scrubbed of it.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{Duration as Days, NaiveDate};
use scoreboard_core::metrics::{self, Report, ReportOptions, WindowSpec};
use tokio::sync::watch;

use crate::config::{AnthropicConfig, Secret, Secrets};
use crate::error::{blocking, ApiError};
pub use crate::schedule::Schedule;
use crate::state::AppState;

/// How long a failed week waits before the schedule tries it again.
pub const RETRY_FAILED_WEEK_AFTER: Days = Days::hours(1);
/// How long one webhook request may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of a webhook's error answer kept for the message.
const ERROR_BODY_CHARS: usize = 200;

/// The options of the digest's report: the last 8 complete weeks as of `today`.
pub fn report_options(today: NaiveDate, team: Option<String>) -> ReportOptions {
    ReportOptions {
        as_of: today,
        window: WindowSpec::LastWeeks {
            weeks: crate::feeds::DEFAULT_WEEKS,
        },
        team,
    }
}

/// The digest of `report` as a chat message, or why there is none.
pub fn message(
    report: &Report,
    include_non_starters: bool,
    link: Option<&str>,
) -> Result<String, String> {
    let d = metrics::digest(report, include_non_starters).ok_or_else(|| {
        let why = report
            .staleness
            .as_ref()
            .map(|s| format!(" ({})", s.headline))
            .unwrap_or_default();
        format!(
            "no complete week is fully covered by the data yet{why}, so there is no digest to post"
        )
    })?;
    Ok(crate::report::render_digest(report, &d, link))
}

/// The webhook's answer, as an error worth retrying or not.
#[derive(Debug)]
struct PostError {
    message: String,
    retry: bool,
}

/// Posts `{"text": text}` to the webhook, retried with backoff on network
/// errors, 429 and 5xx. The error names no part of the URL.
pub async fn post(
    webhook: &Secret,
    text: &str,
    retry: &AnthropicConfig,
    secrets: &Secrets,
) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(POST_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", e.without_url()))?;
    let body = serde_json::json!({ "text": text });
    let scrub = |s: String| {
        let s = secrets.redact(&s);
        s.replace(webhook.expose(), "[webhook URL]")
    };
    let attempt = || async {
        let resp = client
            .post(webhook.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| PostError {
                message: scrub(format!(
                    "the webhook could not be reached: {}",
                    e.without_url()
                )),
                retry: true,
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let answer: String = resp
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(ERROR_BODY_CHARS)
            .collect();
        Err(PostError {
            message: scrub(format!(
                "the webhook answered HTTP {}{}",
                status.as_u16(),
                if answer.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", answer.trim())
                }
            )),
            retry: status.is_server_error() || status.as_u16() == 429,
        })
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(retry.retry_min_delay)
        .with_max_delay(retry.retry_max_delay)
        .with_max_times(retry.max_retries)
        .with_jitter();
    attempt
        .retry(backoff)
        .when(|e: &PostError| e.retry)
        .notify(|e, wait| {
            tracing::warn!(wait_ms = wait.as_millis() as u64, error = %e.message, "posting the digest failed; retrying");
        })
        .await
        .map_err(|e| e.message)
}

pub use scoreboard_core::api::DigestStatus;

pub async fn status(state: &AppState) -> Result<DigestStatus, ApiError> {
    let settings = state.digest().clone();
    let store = state.store().clone();
    let now = state.now();
    let st = blocking(move || store.digest_state()).await??;
    let next_due = settings.schedule.map(|s| {
        let week = s.week_of(now);
        if st.posted_week.is_some_and(|p| p >= week) {
            s.due_in(week + Days::weeks(1))
        } else {
            // Due this week; when the time has passed (not posted, or failed), at the next check.
            s.due_in(week).max(now)
        }
    });
    let status_text = match (&settings.schedule, &settings.webhook) {
        (None, _) => "The weekly digest is not scheduled: set digest_schedule (e.g. \"Mon 09:00 Europe/Berlin\") and SCOREBOARD_DIGEST_WEBHOOK_URL.".to_string(),
        (Some(s), None) => format!("The weekly digest is scheduled for {s} but has nowhere to go: set SCOREBOARD_DIGEST_WEBHOOK_URL in the server's environment."),
        (Some(s), Some(_)) => match (&st.last_ok, &st.last_error) {
            (Some(false), Some(e)) => format!("Posting the digest failed at {}: {e}. It is tried again within the hour.", st.last_attempt_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()),
            _ => match st.posted_at {
                Some(t) => format!("Posted every {s}; last posted at {}.", t.format("%Y-%m-%d %H:%M UTC")),
                None => format!("Posted every {s}; not posted yet."),
            },
        },
    };
    Ok(DigestStatus {
        configured: settings.scheduled(),
        schedule: settings.schedule.map(|s| s.to_string()),
        webhook_set: settings.webhook.is_some(),
        next_due,
        status_text,
        record: st,
    })
}

/// One check of the schedule: posts when this week's time has come, the
/// week is not posted yet and a failed attempt is at least an hour old.
/// Returns whether it tried.
pub async fn run_once(state: &AppState) -> bool {
    let settings = state.digest().clone();
    let (Some(schedule), Some(webhook)) = (settings.schedule, settings.webhook.clone()) else {
        return false;
    };
    let now = state.now();
    let week = schedule.week_of(now);
    if now < schedule.due_in(week) {
        return false;
    }
    let store = state.store().clone();
    let st = match tokio::task::spawn_blocking(move || store.digest_state()).await {
        Ok(Ok(st)) => st,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read the digest's state");
            return false;
        }
        Err(_) => return false,
    };
    if st.posted_week.is_some_and(|p| p >= week) {
        return false;
    }
    if st.last_week == Some(week)
        && st.last_ok == Some(false)
        && st
            .last_attempt_at
            .is_some_and(|t| now - t < RETRY_FAILED_WEEK_AFTER)
    {
        return false;
    }
    let result =
        match crate::feeds::server_report(state, report_options(now.date_naive(), None), now).await
        {
            Err(e) => Err(format!("the report could not be computed: {}", e.message())),
            Ok(report) => match message(
                &report,
                settings.include_non_starters,
                settings.public_url.as_deref(),
            ) {
                Err(why) => Err(why),
                Ok(text) => post(&webhook, &text, &settings.retry, &settings.secrets).await,
            },
        };
    let at = state.now();
    match &result {
        Ok(()) => tracing::info!(week = %week, "weekly digest posted"),
        Err(e) => tracing::warn!(week = %week, error = %e, "weekly digest not posted"),
    }
    let store = state.store().clone();
    let error = result.err();
    let recorded =
        tokio::task::spawn_blocking(move || store.record_digest(week, at, error.as_deref())).await;
    if let Ok(Err(e)) = recorded {
        tracing::error!(error = %e, "cannot record the digest's result");
    }
    true
}

/// The schedule loop of `serve`: checks every `tick` until stopped.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let tick = state.digest().tick;
    loop {
        run_once(&state).await;
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_schedule_is_read_in_words_and_a_bad_one_is_named() {
        let s = Schedule::parse("Mon 09:00 Europe/Berlin").unwrap();
        assert_eq!(s.to_string(), "Mon 09:00 Europe/Berlin");
        assert_eq!(
            Schedule::parse("friday 17:30").unwrap().to_string(),
            "Fri 17:30 UTC"
        );
        for (bad, says) in [
            ("Mon", "write it as"),
            ("Someday 09:00", "not a weekday"),
            ("Mon 9am", "not a time"),
            ("Mon 09:00 Mars/Olympus", "not an IANA time zone"),
        ] {
            let e = Schedule::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn the_digest_is_due_at_the_local_time_of_the_zone_in_summer_and_winter() {
        let s = Schedule::parse("Mon 09:00 Europe/Berlin").unwrap();
        // Winter (CET, UTC+1) and summer (CEST, UTC+2).
        let winter = s.week_of(utc("2026-11-25T12:00:00Z"));
        assert_eq!(winter, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(s.due_in(winter), utc("2026-11-23T08:00:00Z"));
        let summer = s.week_of(utc("2026-07-01T12:00:00Z"));
        assert_eq!(s.due_in(summer), utc("2026-06-29T07:00:00Z"));
        // Sunday 23:30 UTC is already Monday in Berlin: the new week.
        assert_eq!(
            s.week_of(utc("2026-11-29T23:30:00Z")),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        // A time the clock change skips (02:30 on 29 March 2026) is taken an hour later.
        let skipped = Schedule::parse("Sun 02:30 Europe/Berlin").unwrap();
        let week = NaiveDate::from_ymd_opt(2026, 3, 23).unwrap();
        assert_eq!(skipped.due_in(week), utc("2026-03-29T01:30:00Z"));
    }
}
