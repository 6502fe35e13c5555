//! Scoreboard's figures beside other operating metrics: `GET /api/report`
//! (the JSON of `scoreboard report --format json`, computed from the
//! server's rows and roster) and `GET /metrics` (the reference week per team
//! in the OpenMetrics text format, for Prometheus and Grafana). Both are
//! reads, gated like `/api/rows`; both compute with core through
//! [`crate::report::compute`], the CLI's one function, so every place shows
//! the same numbers.
//!
//! `/api/report` answers are cached per (query, data version)
//! ([`ReportCache`], [`crate::state::AppState::data_version`]): the store's
//! row writes, other connections' commits (telemetry), the exports folder
//! and the roster file each move the version, so a cached answer is never
//! older than the data. `/metrics` computes afresh (a scraper asks every
//! 15–60 s, and its answer carries freshness ages that move with the clock).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use scoreboard_core::metrics::{Report, ReportOptions, WindowSpec, MAX_WINDOW_WEEKS};
use scoreboard_core::{week, Roster, UsageTable};
use serde::Deserialize;

use crate::error::{blocking, ApiError};
use crate::load::{load_roster, load_rows};
use crate::state::AppState;

/// Complete weeks in a report when the query does not say (as `scoreboard report`).
pub const DEFAULT_WEEKS: u32 = 8;

/// The `/metrics` label of the teams too small to be shown alone.
pub const OTHER_TEAMS: &str = "other";

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    weeks: Option<String>,
    team: Option<String>,
    as_of: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

fn day(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    crate::report::parse_date(value)
        .map_err(|why| ApiError::bad_request(format!("`{name}`: {why}")))
}

impl ReportQuery {
    /// The options `scoreboard report` would use for the same flags.
    fn options(&self, today: NaiveDate) -> Result<ReportOptions, ApiError> {
        let as_of = match &self.as_of {
            Some(d) => day("as_of", d)?,
            None => today,
        };
        let window = match (&self.from, &self.to, &self.weeks) {
            (Some(_), Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give either `weeks` or `from` and `to`, not both",
                ))
            }
            (Some(f), Some(t), None) => {
                let (from, to) = (day("from", f)?, day("to", t)?);
                if from > to {
                    return Err(ApiError::bad_request(format!(
                        "`from` ({from}) is after `to` ({to})"
                    )));
                }
                if (to - from).num_days() / 7 >= i64::from(MAX_WINDOW_WEEKS) {
                    return Err(ApiError::bad_request(format!(
                        "the range {from}..{to} is longer than {MAX_WINDOW_WEEKS} weeks"
                    )));
                }
                WindowSpec::Custom { from, to }
            }
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(ApiError::bad_request("`from` and `to` go together"))
            }
            (None, None, weeks) => {
                let weeks = match weeks {
                    None => DEFAULT_WEEKS,
                    Some(w) => w
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|w| (1..=260).contains(w))
                        .ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "`weeks` must be a whole number from 1 to 260, got {w:?}"
                            ))
                        })?,
                };
                WindowSpec::LastWeeks { weeks }
            }
        };
        Ok(ReportOptions {
            as_of,
            window,
            team: self.team.clone().filter(|t| !t.trim().is_empty()),
        })
    }
}

/// The server's data as `scoreboard report` reads files: the rows of the
/// window (and at least the page's backfill before `as_of`), what each
/// source covers, and the roster.
struct Loaded {
    table: UsageTable,
    roster: Option<Roster>,
    problems: Vec<scoreboard_core::Problem>,
}

async fn load(
    state: &AppState,
    opts: &ReportOptions,
    now: DateTime<Utc>,
) -> Result<Loaded, ApiError> {
    // Everything the server holds up to today, as `scoreboard report` reads
    // whole files: an `as_of` in the past still sees the days after it.
    let to = opts.as_of.max(now.date_naive());
    let window_from = match &opts.window {
        WindowSpec::LastWeeks { weeks } => week::monday_of(to) - Days::weeks(i64::from(*weeks)),
        WindowSpec::Custom { from, .. } => week::monday_of(*from),
        WindowSpec::All => opts.as_of - Days::weeks(i64::from(MAX_WINDOW_WEEKS)),
    };
    let backfill = to - Days::days(i64::from(state.backfill_days().max(1)) - 1);
    let from = window_from.min(backfill);
    let loaded = load_rows(state, from, to, now).await?;
    let roster = load_roster(state).await?;
    let mut table = loaded.table;
    table.insert_periods(loaded.periods);
    for c in &loaded.coverage {
        table.add_source_coverage(c);
    }
    Ok(Loaded {
        table,
        roster: roster.for_reports(),
        problems: roster.problems,
    })
}

fn compute(l: &Loaded, opts: &ReportOptions) -> Report {
    crate::report::compute(
        &l.table,
        l.roster.as_ref(),
        opts,
        l.problems.clone(),
        Vec::new(),
    )
}

/// The server's report for `opts`, computed with core as `scoreboard
/// report` computes it (also what the digest posts).
pub async fn server_report(
    state: &AppState,
    opts: ReportOptions,
    now: DateTime<Utc>,
) -> Result<Report, ApiError> {
    let loaded = load(state, &opts, now).await?;
    blocking(move || compute(&loaded, &opts)).await
}

/// `GET /api/report?weeks=N&team=T&as_of=D` or `?from=D&to=D`: the JSON of
/// `scoreboard report --format json` for the server's rows and roster,
/// from the cache when the data has not changed since (header
/// `X-Scoreboard-Cache: hit` or `miss`).
pub async fn report(
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let now = state.now();
    let opts = q.options(now.date_naive())?;
    state.syncer().nudge(now);
    // Read before loading: data written meanwhile moves the version on, so
    // what is cached under this one is never served for newer data.
    let vs = state.clone();
    let version = blocking(move || vs.data_version()).await??;
    // The day is part of the key: telemetry covers up to today.
    let key = format!("{opts:?}|{}", now.date_naive());
    let (json, hit) = match state.report_cache().get(version, &key) {
        Some(json) => (json, "hit"),
        None => {
            let report = server_report(&state, opts, now).await?;
            let json = Arc::new(
                serde_json::to_vec(&report).map_err(|e| ApiError::internal(e.to_string()))?,
            );
            state.report_cache().put(version, key, json.clone());
            (json, "miss")
        }
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                HeaderName::from_static("x-scoreboard-cache"),
                HeaderValue::from_static(hit),
            ),
        ],
        json.as_ref().clone(),
    )
        .into_response())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TeamLabel {
    team: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabel {
    team: String,
    tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

type G = Family<TeamLabel, Gauge<f64, AtomicU64>>;

/// The series of one team (or of everyone, `team=""`) for the reference week.
struct TeamSeries {
    active: G,
    roster: G,
    adoption: G,
    sessions: G,
    lines: G,
    acceptance: G,
    cost: G,
    cost_per: G,
    non_starters: G,
    tiers: Family<TierLabel, Gauge<f64, AtomicU64>>,
    reference: G,
}

impl TeamSeries {
    fn register(r: &mut Registry) -> TeamSeries {
        // Names carry their unit already (the client would append it again).
        let mut g = |name: &str, help: &str| {
            let f = G::default();
            r.register(name, help, f.clone());
            f
        };
        let s = TeamSeries {
            active: g(
                "scoreboard_weekly_active_engineers",
                "People active on at least one day of the reference week",
            ),
            roster: g(
                "scoreboard_roster_size",
                "People on the roster (of the team)",
            ),
            adoption: g(
                "scoreboard_adoption_ratio",
                "Active roster members / roster size in the reference week",
            ),
            sessions: g(
                "scoreboard_sessions",
                "Claude Code sessions in the reference week",
            ),
            lines: g(
                "scoreboard_lines_accepted",
                "Lines accepted (added) in the reference week",
            ),
            acceptance: g(
                "scoreboard_acceptance_ratio",
                "Tool edits accepted / decided in the reference week",
            ),
            cost: g(
                "scoreboard_cost_usd",
                "Cost in the reference week, USD at API list prices",
            ),
            cost_per: g(
                "scoreboard_cost_per_active_engineer_usd",
                "Cost / weekly active engineers in the reference week, USD",
            ),
            non_starters: g(
                "scoreboard_non_starters",
                "Roster members not started yet by the end of the reference week",
            ),
            reference: g(
                "scoreboard_reference_week_start_timestamp_seconds",
                "Monday 00:00 UTC of the reference week (the latest complete, fully covered week)",
            ),
            tiers: Family::default(),
        };
        r.register(
            "scoreboard_people",
            "People by tier at the reference week (power, regular, occasional, lapsed, new, not_started)",
            s.tiers.clone(),
        );
        s
    }

    /// The figures of `report`'s reference week under `team`; an undefined
    /// figure (or a report without a reference week) gives no sample.
    fn add(&self, team: &str, report: &Report) {
        let label = TeamLabel {
            team: team.to_string(),
        };
        let set = |f: &G, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                f.get_or_create(&label).set(v);
            }
        };
        set(&self.roster, report.roster_size.map(|n| n as f64));
        let Some(k) = report.kpis.as_ref() else {
            return;
        };
        set(
            &self.reference,
            k.week
                .week
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp() as f64),
        );
        let Some(f) = k.week.figures.as_ref() else {
            return;
        };
        set(&self.active, Some(f.active_engineers as f64));
        set(&self.adoption, f.adoption_rate);
        set(&self.sessions, Some(f.totals.sessions as f64));
        set(&self.lines, Some(f.totals.lines_accepted as f64));
        set(&self.acceptance, f.totals.acceptance_rate);
        set(&self.cost, Some(f.totals.cost_usd));
        set(&self.cost_per, f.cost_per_active_engineer_usd);
        if report.roster_size.is_some() {
            set(&self.non_starters, Some(k.non_starters as f64));
        }
        let counts = report
            .tiers_by_week
            .iter()
            .find(|t| t.week == k.week.week)
            .and_then(|t| t.counts.as_ref());
        if let Some(c) = counts {
            let mut tiers = vec![
                ("power", c.power),
                ("regular", c.regular),
                ("occasional", c.occasional),
                ("lapsed", c.lapsed),
                ("new", c.new),
            ];
            if report.roster_size.is_some() {
                tiers.push(("not_started", c.roster_not_started));
            }
            for (tier, n) in tiers {
                self.tiers
                    .get_or_create(&TierLabel {
                        team: team.to_string(),
                        tier: tier.to_string(),
                    })
                    .set(n as f64);
            }
        }
    }
}

/// Teams as `/metrics` labels them: a team with fewer roster members than
/// the share links' smallest group ([`scoreboard_core::share::DEFAULT_MIN_GROUP`])
/// goes into one merged group, as share links with names hidden do; that
/// group too is left out when it is still smaller.
fn grouped_roster(roster: &Roster) -> (Roster, Vec<String>) {
    let min = scoreboard_core::share::DEFAULT_MIN_GROUP;
    let mut sizes: std::collections::BTreeMap<String, u64> = Default::default();
    for e in roster.entries() {
        if let Some(t) = &e.team {
            *sizes.entry(t.clone()).or_default() += 1;
        }
    }
    let small: Vec<&String> = sizes
        .iter()
        .filter(|(_, n)| **n < min)
        .map(|(t, _)| t)
        .collect();
    let merged: u64 = small.iter().map(|t| sizes[*t]).sum();
    let mut labels: Vec<String> = sizes
        .iter()
        .filter(|(_, n)| **n >= min)
        .map(|(t, _)| t.clone())
        .collect();
    let other = if sizes.contains_key(OTHER_TEAMS) {
        format!("{OTHER_TEAMS} (small teams)")
    } else {
        OTHER_TEAMS.to_string()
    };
    if merged >= min {
        labels.push(other.clone());
    }
    let entries = roster
        .entries()
        .iter()
        .cloned()
        .map(|mut e| {
            if e.team.as_ref().is_some_and(|t| small.contains(&t)) {
                e.team = (merged >= min).then(|| other.clone());
            }
            e
        })
        .collect();
    (Roster::new(entries), labels)
}

/// `GET /metrics`: the reference week of the default window (the last
/// [`DEFAULT_WEEKS`] complete weeks) for everyone (`team=""`) and per team,
/// each source's freshness and the telemetry receiver's counters. No label
/// ever names a person.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let now = state.now();
    let opts = ReportOptions {
        as_of: now.date_naive(),
        window: WindowSpec::LastWeeks {
            weeks: DEFAULT_WEEKS,
        },
        team: None,
    };
    state.syncer().nudge(now);
    let loaded = load(&state, &opts, now).await?;
    let teams = blocking(move || {
        let all = compute(&loaded, &opts);
        let mut teams = vec![(String::new(), all)];
        if let Some(roster) = &loaded.roster {
            let (grouped, labels) = grouped_roster(roster);
            let regrouped = Loaded {
                table: loaded.table.clone(),
                roster: Some(grouped),
                problems: Vec::new(),
            };
            for team in labels {
                let o = ReportOptions {
                    team: Some(team.clone()),
                    ..opts.clone()
                };
                teams.push((team, compute(&regrouped, &o)));
            }
        }
        teams
    })
    .await?;

    let mut registry = Registry::default();
    let series = TeamSeries::register(&mut registry);
    for (team, report) in &teams {
        series.add(team, report);
    }
    freshness(&mut registry, &teams[0].1, now);
    ingest_counters(&state, &mut registry, now).await?;

    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, &registry)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// Seconds since each source's last success (the last sync, the last
/// telemetry batch), at day precision as core carries it: the age of the
/// end of that UTC day, never negative.
fn freshness(registry: &mut Registry, report: &Report, now: DateTime<Utc>) {
    let age = Family::<SourceLabel, Gauge<f64, AtomicU64>>::default();
    let failing = Family::<SourceLabel, Gauge<i64, std::sync::atomic::AtomicI64>>::default();
    registry.register_with_unit(
        "scoreboard_source_last_success_age",
        "Seconds since the end of the UTC day of each server source's last success",
        Unit::Seconds,
        age.clone(),
    );
    registry.register(
        "scoreboard_source_failing",
        "1 when the source's latest attempt failed",
        failing.clone(),
    );
    for c in &report.coverage {
        let Some(f) = &c.freshness else { continue };
        let label = SourceLabel {
            source: c.source.as_str().to_string(),
        };
        failing.get_or_create(&label).set(i64::from(f.failing));
        if let Some(end) = f
            .last_ok
            .and_then(|d| (d + Days::days(1)).and_hms_opt(0, 0, 0))
        {
            let secs = (now - end.and_utc()).num_seconds().max(0);
            age.get_or_create(&label).set(secs as f64);
        }
    }
}

/// The telemetry receiver's counters, when it runs.
async fn ingest_counters(
    state: &AppState,
    registry: &mut Registry,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(t) = state.telemetry().cloned() else {
        return Ok(());
    };
    let status = blocking(move || t.status(now)).await?;
    let counter = |registry: &mut Registry, name: &str, help: &str, v: u64| {
        let c = prometheus_client::metrics::counter::Counter::<u64>::default();
        c.inc_by(v);
        registry.register(name, help, c);
    };
    counter(
        registry,
        "scoreboard_telemetry_batches",
        "OTLP batches received and stored",
        status.batches_received,
    );
    counter(
        registry,
        "scoreboard_telemetry_duplicate_batches",
        "OTLP batches received again and not counted twice",
        status.duplicate_batches,
    );
    counter(
        registry,
        "scoreboard_telemetry_rejected_points",
        "OTLP data points that could not be stored",
        status.rejected_points,
    );
    counter(
        registry,
        "scoreboard_telemetry_unattributed_points",
        "OTLP data points without an e-mail or account id",
        status.unattributed_points,
    );
    Ok(())
}
