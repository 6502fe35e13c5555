//! The independent oracle of Scoreboard's metrics engine.
//!
//! [`oracle::compute`] works the weekly figures (metrics.md §3) and the
//! engagement tiers (§4) out a second time, straight from the contract, with
//! polars DataFrame operations (joins, window expressions, group-bys). It shares
//! no code with `scoreboard_core::metrics`: only the input row types and the
//! [`WindowSpec`](scoreboard_core::WindowSpec) are borrowed from core. The
//! differential test (`tests/differential.rs`) requires both to agree exactly
//! over randomised tables.
//!
//! Test code only: polars 0.53+ does not build for wasm32, and the engine the
//! users run is the hand-written one in `core`.

pub mod oracle {
    //! The second computation. Where metrics.md leaves a choice open, the
    //! choice is written next to the code that makes it; in short:
    //!
    //! - Precedence is decided per *resolved* person-day (after roster
    //!   aliases). admin-api and enterprise-api rank equal in the contract; one
    //!   row must still win, and admin-api is taken. Rows of the winning source
    //!   under two keys of one person (an e-mail and its `api-key:` alias) are
    //!   that person's usage and are summed; rows of different sources never are.
    //! - The winning row decides activity even when it is all zeros and a
    //!   weaker source shows activity ("the row from the most authoritative
    //!   source wins", literally).
    //! - Power users: the k-th highest value may be 0; then everyone active in
    //!   all four weeks qualifies, 0 lines included (the contract, literally).
    //! - With a team filter, everything (roster size, WAE, the n of the
    //!   power-user quarter) is taken within the team; people not on the
    //!   roster have no team, so they are outside every team.
    //! - People listed: everyone active at some time, and every roster member.
    //!   A person outside the roster whose rows are all zeros is not listed
    //!   (and so is not "not on roster").
    //! - A window without a complete week still gets tiers, at the latest
    //!   complete week; its `reference_week` is `None`.
    //! - `WindowSpec::All` starts at the week of the earliest row of any
    //!   source and person, rows of zeros included.
    //! - Coverage (§2) is an input, like the rows: the days the table says
    //!   each source covers. A week with no covered day has no figures; the
    //!   reference week is the latest complete week, at or before the
    //!   window's end, whose seven days are all covered (and inside the
    //!   window); tiers are taken at it, or without one at the window's
    //!   latest complete week.
    //! - "Not started yet" (the non-starters list) = roster members with no
    //!   activity up to the end of the tier week: "non-starter" and "new".
    //!
    //! - A later file of the same source (§1) is [`merge_loads`]: per
    //!   measure, the last value a row carries, in load order.
    //!
    //! Scope of the oracle: day rows only (period rows from undated exports are
    //! not modelled), and a roster whose persons are listed once each (an alias
    //! claimed twice goes to the first claimant, as the roster documents).

    use std::collections::{BTreeMap, BTreeSet};

    use chrono::{Datelike, Duration, NaiveDate};
    use polars::prelude::*;
    use scoreboard_core::metrics::{Tier, MAX_WINDOW_WEEKS};
    use scoreboard_core::{
        DayRow, MeasureSet, Measures, RosterEntry, Source, SourceCoverage, WindowSpec,
    };

    /// What both the engine and the oracle are given.
    #[derive(Debug, Clone, Copy)]
    pub struct Input<'a> {
        /// The canonical table's day rows (after the table's replace-on-reload).
        pub rows: &'a [DayRow],
        /// The days each source covers, as the table has them.
        pub coverage: &'a [SourceCoverage],
        /// The roster as listed, one entry per person; `None` when no roster is loaded.
        pub roster: Option<&'a [RosterEntry]>,
        /// Today (UTC): the ISO week containing it is the partial current week.
        pub as_of: NaiveDate,
        pub window: WindowSpec,
        /// Only roster members of this team (people not on the roster have no team).
        pub team: Option<&'a str>,
    }

    /// One ISO week (§3).
    #[derive(Debug, Clone, PartialEq)]
    pub struct Week {
        pub monday: NaiveDate,
        /// ISO year and week number as polars computes them (e.g. 2026, 53).
        pub iso_year: i32,
        pub iso_week: u32,
        pub complete: bool,
        /// Days of the week (0 to 7) some source covers; 0: the week has no figures.
        pub covered_days: u8,
        pub active_engineers: u64,
        pub active_roster_members: u64,
        pub roster_size: Option<u64>,
        pub sessions: u64,
        pub lines_accepted: u64,
        pub edits_accepted: u64,
        pub edits_rejected: u64,
        pub cost_micros: i64,
        /// Active this week, and first active (in all loaded data) this week.
        pub new_engineers: u64,
    }

    impl Week {
        /// "2026-W53".
        pub fn label(&self) -> String {
            format!("{}-W{:02}", self.iso_year, self.iso_week)
        }
        pub fn adoption_rate(&self) -> Option<f64> {
            self.roster_size
                .and_then(|n| fraction(self.active_roster_members, n))
        }
        pub fn acceptance_rate(&self) -> Option<f64> {
            fraction(
                self.edits_accepted,
                self.edits_accepted + self.edits_rejected,
            )
        }
        pub fn lines_per_active_engineer(&self) -> Option<f64> {
            fraction(self.lines_accepted, self.active_engineers)
        }
        pub fn sessions_per_active_engineer(&self) -> Option<f64> {
            fraction(self.sessions, self.active_engineers)
        }
        pub fn cost_per_active_engineer_usd(&self) -> Option<f64> {
            usd_per(self.cost_micros, self.active_engineers)
        }
    }

    /// One person of the selection (§4).
    #[derive(Debug, Clone, PartialEq)]
    pub struct Person {
        pub person: String,
        pub on_roster: bool,
        pub tier: Tier,
        /// Over all loaded data, not only the window.
        pub first_active: Option<NaiveDate>,
        pub last_active: Option<NaiveDate>,
        /// Complete weeks of the window with activity ("last N weeks" = N
        /// complete weeks; the current partial week is counted apart).
        pub active_weeks: u32,
        /// Active in the current, partial week (when the window includes it).
        pub active_this_week: bool,
        /// Of the four weeks W−3 … W.
        pub active_weeks_of_last_4: u32,
        /// Σ lines accepted over W−3 … W: the power-user ranking value.
        pub lines_accepted_last_4: u64,
        /// Window sums.
        pub sessions: u64,
        pub lines_accepted: u64,
        pub edits_accepted: u64,
        pub edits_rejected: u64,
        pub cost_micros: i64,
    }

    /// Window-level figures: the same rules over the whole window.
    #[derive(Debug, Clone, PartialEq, Default)]
    pub struct Totals {
        pub active_engineers: u64,
        pub active_roster_members: u64,
        pub sessions: u64,
        pub lines_accepted: u64,
        pub edits_accepted: u64,
        pub edits_rejected: u64,
        pub cost_micros: i64,
    }

    #[derive(Debug, Clone, PartialEq)]
    pub struct Output {
        pub window_from: NaiveDate,
        /// Monday of the last week of the window.
        pub window_last_week: NaiveDate,
        /// The latest complete, fully covered week of the window; `None` when the window has none.
        pub reference_week: Option<NaiveDate>,
        /// The week tiers are computed at: the latest complete, fully covered
        /// week up to the window's end, else the window's latest complete week.
        pub tier_week: NaiveDate,
        pub weeks: Vec<Week>,
        pub totals: Totals,
        /// The k-th highest lines accepted over W−3 … W (k = ⌈n/4⌉); `None` when n = 0.
        pub power_threshold: Option<u64>,
        /// Keyed by resolved person key.
        pub people: BTreeMap<String, Person>,
        pub roster_size: Option<u64>,
        /// Sorted.
        pub non_starters: Vec<String>,
        pub not_on_roster: Vec<String>,
        pub power_users: Vec<String>,
        pub new_this_week: Vec<String>,
    }

    /// num ÷ den as the engine must compute it (a ratio of sums), `None` for den = 0.
    pub fn fraction(num: u64, den: u64) -> Option<f64> {
        (den != 0).then(|| num as f64 / den as f64)
    }

    /// Micro-dollars ÷ persons, in USD; `None` when nobody is counted.
    pub fn usd_per(cost_micros: i64, persons: u64) -> Option<f64> {
        (persons != 0).then(|| cost_micros as f64 / 1_000_000.0 / persons as f64)
    }

    /// Days since 1970-01-01: the physical value of a polars `Date`.
    fn epoch(d: NaiveDate) -> i32 {
        (d - NaiveDate::default()).num_days() as i32
    }

    fn from_epoch(n: i32) -> NaiveDate {
        NaiveDate::default() + Duration::days(i64::from(n))
    }

    fn monday(d: NaiveDate) -> NaiveDate {
        d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
    }

    /// §1: admin-api = enterprise-api > csv > otlp. Lower wins. The contract
    /// ranks the two APIs equal; when both report the same person-day one row
    /// must still win, and (like the engine) admin-api is taken.
    fn rank(s: Source) -> i32 {
        match s {
            Source::AdminApi => 0,
            Source::EnterpriseApi => 1,
            Source::Csv => 2,
            Source::Otlp => 3,
        }
    }

    /// Reads one measure of a row, as the signed integer polars stores.
    type Measure = fn(&Measures) -> i64;

    const MEASURES: [(&str, Measure); 12] = [
        ("sessions", |m| m.sessions as i64),
        ("lines_added", |m| m.lines_added as i64),
        ("lines_removed", |m| m.lines_removed as i64),
        ("commits", |m| m.commits as i64),
        ("pull_requests", |m| m.pull_requests as i64),
        ("edits_accepted", |m| m.edits_accepted as i64),
        ("edits_rejected", |m| m.edits_rejected as i64),
        ("input_tokens", |m| m.input_tokens as i64),
        ("output_tokens", |m| m.output_tokens as i64),
        ("cache_read_tokens", |m| m.cache_read_tokens as i64),
        ("cache_creation_tokens", |m| m.cache_creation_tokens as i64),
        ("cost", |m| m.cost_micros),
    ];

    /// The measures the figures report (the others only decide activity).
    const REPORTED: [&str; 5] = [
        "sessions",
        "lines_added",
        "edits_accepted",
        "edits_rejected",
        "cost",
    ];

    fn sums() -> Vec<Expr> {
        REPORTED.iter().map(|c| col(*c).sum().alias(*c)).collect()
    }

    /// The active rows of a person-week frame, then the number of distinct persons.
    fn distinct_active(extra: Option<Expr>) -> Expr {
        let pred = match extra {
            Some(e) => col("active").and(e),
            None => col("active"),
        };
        col("person").filter(pred).n_unique().cast(DataType::Int64)
    }

    /// The measure a column of [`MEASURES`] belongs to (accepted and rejected
    /// edits are one measure: the rate needs both).
    fn carried_as(name: &str) -> MeasureSet {
        match name {
            "sessions" => MeasureSet::SESSIONS,
            "lines_added" => MeasureSet::LINES_ADDED,
            "lines_removed" => MeasureSet::LINES_REMOVED,
            "commits" => MeasureSet::COMMITS,
            "pull_requests" => MeasureSet::PULL_REQUESTS,
            "edits_accepted" | "edits_rejected" => MeasureSet::EDITS,
            "input_tokens" => MeasureSet::INPUT_TOKENS,
            "output_tokens" => MeasureSet::OUTPUT_TOKENS,
            "cache_read_tokens" => MeasureSet::CACHE_READ_TOKENS,
            "cache_creation_tokens" => MeasureSet::CACHE_CREATION_TOKENS,
            _ => MeasureSet::COST,
        }
    }

    /// §1 "A later file of the same source": the canonical table of day rows
    /// loaded in this order (files one after another, each file's rows
    /// already summed per person-day), worked out a second time with polars.
    /// A measure a row does not carry (its file had no such column) is null
    /// there: unknown, not 0. Per (source, person, day), each measure is the
    /// last non-null value in load order, so a later file replaces only the
    /// measures it has a column for, zero included; a measure no row carries
    /// stays uncarried with the first row's value (what its source gave, 0
    /// from a parser). Rows come back in first-load order; the per-model and
    /// per-tool splits are not modelled (no figure reads them).
    pub fn merge_loads(rows: &[DayRow]) -> PolarsResult<Vec<DayRow>> {
        let n = rows.len();
        let mut cols = vec![
            Column::new("seq".into(), (0..n as i64).collect::<Vec<_>>()),
            Column::new(
                "source".into(),
                rows.iter()
                    .map(|r| Source::ALL.iter().position(|s| *s == r.source).unwrap_or(0) as i32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "person".into(),
                rows.iter()
                    .map(|r| r.person.as_str().to_string())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "day".into(),
                rows.iter().map(|r| epoch(r.day)).collect::<Vec<_>>(),
            ),
            Column::new(
                "cost_is_estimated".into(),
                rows.iter()
                    .map(|r| {
                        r.present
                            .contains(MeasureSet::COST)
                            .then_some(r.measures.cost_is_estimated)
                    })
                    .collect::<Vec<Option<bool>>>(),
            ),
        ];
        for (name, read) in MEASURES {
            cols.push(Column::new(
                name.into(),
                rows.iter()
                    .map(|r| {
                        r.present
                            .contains(carried_as(name))
                            .then(|| read(&r.measures))
                    })
                    .collect::<Vec<Option<i64>>>(),
            ));
            cols.push(Column::new(
                format!("{name}_as_given").into(),
                rows.iter().map(|r| read(&r.measures)).collect::<Vec<_>>(),
            ));
        }
        cols.push(Column::new(
            "cost_is_estimated_as_given".into(),
            rows.iter()
                .map(|r| r.measures.cost_is_estimated)
                .collect::<Vec<_>>(),
        ));
        // The last value a row carries, else the first row's as given.
        let merged_value = |c: &str| {
            coalesce(&[
                col(c).drop_nulls().last(),
                col(format!("{c}_as_given")).first(),
            ])
            .alias(c)
        };
        let mut aggs: Vec<Expr> = Vec::new();
        for (c, _) in MEASURES {
            aggs.push(merged_value(c));
            aggs.push(col(c).is_not_null().any(true).alias(format!("{c}_carried")));
        }
        aggs.push(merged_value("cost_is_estimated"));
        let merged = DataFrame::new(n, cols)?
            .lazy()
            .sort(["seq"], SortMultipleOptions::default())
            .group_by_stable([col("source"), col("person"), col("day")])
            .agg(aggs)
            .collect()?;

        let source = merged.column("source")?.i32()?;
        let person = merged.column("person")?.str()?;
        let day = merged.column("day")?.i32()?;
        let estimated = merged.column("cost_is_estimated")?.bool()?;
        let values = MEASURES
            .iter()
            .map(|(c, _)| {
                let v = merged.column(c)?.i64()?.clone();
                let carried = merged.column(&format!("{c}_carried"))?.bool()?.clone();
                Ok((v, carried))
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        let mut out = Vec::with_capacity(merged.height());
        for i in 0..merged.height() {
            let key = person.get(i).and_then(scoreboard_core::PersonKey::parse);
            let (Some(s), Some(key), Some(d)) = (source.get(i), key, day.get(i)) else {
                return Err(PolarsError::ComputeError(
                    "a merged row lost its key".into(),
                ));
            };
            let mut r = DayRow::new(from_epoch(d), key, Source::ALL[s as usize]);
            r.present = MeasureSet::empty();
            let mut m = Measures::default();
            for ((name, _), (v, carried)) in MEASURES.iter().zip(&values) {
                if carried.get(i) == Some(true) {
                    r.present |= carried_as(name);
                }
                let v = v.get(i).unwrap_or(0);
                let u = v as u64;
                match *name {
                    "sessions" => m.sessions = u,
                    "lines_added" => m.lines_added = u,
                    "lines_removed" => m.lines_removed = u,
                    "commits" => m.commits = u,
                    "pull_requests" => m.pull_requests = u,
                    "edits_accepted" => m.edits_accepted = u,
                    "edits_rejected" => m.edits_rejected = u,
                    "input_tokens" => m.input_tokens = u,
                    "output_tokens" => m.output_tokens = u,
                    "cache_read_tokens" => m.cache_read_tokens = u,
                    "cache_creation_tokens" => m.cache_creation_tokens = u,
                    _ => m.cost_micros = v,
                }
            }
            m.cost_is_estimated = estimated.get(i).unwrap_or(false);
            r.measures = m;
            out.push(r);
        }
        Ok(out)
    }

    /// Computes the figures. Errors are polars errors (a bug in the oracle, not in the data).
    pub fn compute(input: &Input<'_>) -> PolarsResult<Output> {
        // ---- The window (plain calendar arithmetic on the options) ----
        let current = monday(input.as_of);
        let latest_complete = current - Duration::days(7);
        let (first, last) = match input.window {
            WindowSpec::LastWeeks { weeks } => (
                latest_complete
                    - Duration::days(7 * (i64::from(weeks.clamp(1, MAX_WINDOW_WEEKS)) - 1)),
                current,
            ),
            // "From the first week with data": the earliest row of any source,
            // any person, zeros included.
            WindowSpec::All => {
                let first_day = input.rows.iter().map(|r| r.day).min();
                (
                    first_day.map_or(latest_complete, monday).min(current),
                    current,
                )
            }
            WindowSpec::Custom { from, to } => {
                let (a, b) = if from <= to { (from, to) } else { (to, from) };
                (monday(a).min(current), monday(b).min(current))
            }
        };
        // Not in metrics.md: the engine cuts absurd windows to the newest
        // MAX_WINDOW_WEEKS weeks (and warns); the oracle follows that limit.
        let max_span = 7 * (i64::from(MAX_WINDOW_WEEKS) - 1);
        let first = if (last - first).num_days() > max_span {
            last - Duration::days(max_span)
        } else {
            first
        };
        // §2 coverage: every covered day, as a set of days.
        let covered: BTreeSet<i32> = input
            .coverage
            .iter()
            .flat_map(|c| c.ranges.iter())
            .flat_map(|r| epoch(r.from)..=epoch(r.to))
            .collect();
        let covered_days =
            |m: NaiveDate| (0..7).filter(|i| covered.contains(&(epoch(m) + i))).count() as u8;
        // Tiers and the reference week: the latest complete, fully covered
        // week up to the window's end; without one, the latest complete week.
        let end = last.min(latest_complete);
        let fully_covered = covered.first().and_then(|&earliest| {
            (0..)
                .map(|i| end - Duration::days(7 * i))
                .take_while(|m| epoch(*m) + 6 >= earliest)
                .find(|m| covered_days(*m) == 7)
        });
        let w = fully_covered.unwrap_or(end);
        let reference_week = fully_covered.filter(|m| *m >= first);
        let (w_start, w_end) = (epoch(w) - 21, epoch(w));

        // ---- The canonical rows ----
        let n = input.rows.len();
        let mut cols: Vec<Column> = vec![
            Column::new(
                "raw".into(),
                input
                    .rows
                    .iter()
                    .map(|r| r.person.as_str().to_string())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "day".into(),
                input
                    .rows
                    .iter()
                    .map(|r| epoch(r.day))
                    .collect::<Vec<i32>>(),
            ),
            Column::new(
                "rank".into(),
                input
                    .rows
                    .iter()
                    .map(|r| rank(r.source))
                    .collect::<Vec<i32>>(),
            ),
        ];
        for (name, get) in MEASURES {
            cols.push(Column::new(
                name.into(),
                input
                    .rows
                    .iter()
                    .map(|r| get(&r.measures))
                    .collect::<Vec<i64>>(),
            ));
        }
        let rows = DataFrame::new(n, cols)?.lazy();

        // ---- The roster: every key (own e-mail, aliases) → the roster person ----
        let entries: &[RosterEntry] = input.roster.unwrap_or(&[]);
        let (mut key, mut owner, mut order) = (Vec::new(), Vec::new(), Vec::new());
        for (i, e) in entries.iter().enumerate() {
            key.push(e.person.as_str().to_string());
            owner.push(e.person.as_str().to_string());
            order.push(0i64);
            for (j, a) in e.aliases.iter().enumerate() {
                key.push(a.as_str().to_string());
                owner.push(e.person.as_str().to_string());
                order.push(1 + (i as i64) * 1_000 + j as i64);
            }
        }
        let keys = DataFrame::new(
            key.len(),
            vec![
                Column::new("key".into(), key),
                Column::new("owner".into(), owner),
                Column::new("order".into(), order),
            ],
        )?
        .lazy()
        // A member's own e-mail beats anyone's alias; otherwise the first claimant keeps it.
        .sort(["order"], SortMultipleOptions::default())
        .unique_stable_generic(Some(vec![col("key")]), UniqueKeepStrategy::First)
        .select([col("key"), col("owner")]);

        let members = DataFrame::new(
            entries.len(),
            vec![
                Column::new(
                    "person".into(),
                    entries
                        .iter()
                        .map(|e| e.person.as_str().to_string())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "team".into(),
                    entries
                        .iter()
                        .map(|e| e.team.clone())
                        .collect::<Vec<Option<String>>>(),
                ),
            ],
        )?
        .lazy()
        .with_column(lit(true).alias("on_roster"));
        // The selection: everyone, or the roster members of one team.
        let members = match input.team {
            Some(t) => members.filter(col("team").eq(lit(t.to_string()))),
            None => members,
        };
        let scoped_members = members.clone().select([col("person"), col("on_roster")]);
        let roster_size = match input.roster {
            None => None,
            Some(_) => Some(
                scoped_members
                    .clone()
                    .select([len().alias("n")])
                    .collect()?
                    .column("n")?
                    .cast(&DataType::Int64)?
                    .i64()?
                    .get(0)
                    .unwrap_or(0) as u64,
            ),
        };

        // ---- §1 precedence: per resolved person-day the best source's rows win ----
        let measure_names: Vec<&str> = MEASURES.iter().map(|(n, _)| *n).collect();
        let any_nonzero = measure_names
            .iter()
            .map(|c| col(*c).neq(lit(0i64)))
            .reduce(|a, b| a.or(b))
            .unwrap_or(lit(false));
        let person_days = rows
            .left_join(keys, col("raw"), col("key"))
            .with_column(
                when(col("owner").is_null())
                    .then(col("raw"))
                    .otherwise(col("owner"))
                    .alias("person"),
            )
            .filter(col("rank").eq(col("rank").min().over([col("person"), col("day")])?))
            // Several rows of the winning source (two keys of one person) are one person's usage: summed.
            .group_by([col("person"), col("day")])
            .agg(
                measure_names
                    .iter()
                    .map(|c| col(*c).sum())
                    .collect::<Vec<_>>(),
            )
            // §2: active when any measure of the day is non-zero.
            .with_column(any_nonzero.alias("active"))
            .with_column(
                (col("day")
                    - (col("day")
                        .cast(DataType::Date)
                        .dt()
                        .weekday()
                        .cast(DataType::Int32)
                        - lit(1i32)))
                .alias("monday"),
            );

        // The selection's person-days, flagged with roster membership.
        let scoped_days = match input.team {
            Some(_) => {
                person_days
                    .clone()
                    .inner_join(scoped_members.clone(), col("person"), col("person"))
            }
            None => person_days
                .clone()
                .left_join(scoped_members.clone(), col("person"), col("person"))
                .with_column(col("on_roster").fill_null(lit(false))),
        }
        .cache();

        // First active day of every person over all loaded data.
        let first_active = scoped_days
            .clone()
            .group_by([col("person")])
            .agg([
                col("day").filter(col("active")).min().alias("first_active"),
                col("day").filter(col("active")).max().alias("last_active"),
                col("active").any(true).alias("ever_active"),
            ])
            .cache();

        // ---- §3 weekly figures ----
        let mondays: Vec<i32> = (0..)
            .map(|i| epoch(first) + 7 * i)
            .take_while(|m| *m <= epoch(last))
            .collect();
        let week_frame =
            DataFrame::new(mondays.len(), vec![Column::new("monday".into(), mondays)])?
                .lazy()
                .with_columns([
                    col("monday")
                        .cast(DataType::Date)
                        .dt()
                        .iso_year()
                        .cast(DataType::Int32)
                        .alias("iso_year"),
                    col("monday")
                        .cast(DataType::Date)
                        .dt()
                        .week()
                        .cast(DataType::Int32)
                        .alias("iso_week"),
                ]);
        let in_window = col("monday")
            .gt_eq(lit(epoch(first)))
            .and(col("monday").lt_eq(lit(epoch(last))));
        let mut weekly_aggs = sums();
        weekly_aggs.push(distinct_active(None).alias("wae"));
        weekly_aggs.push(distinct_active(Some(col("on_roster"))).alias("roster_active"));
        weekly_aggs.push(
            distinct_active(Some(
                (col("first_active")
                    - (col("first_active")
                        .cast(DataType::Date)
                        .dt()
                        .weekday()
                        .cast(DataType::Int32)
                        - lit(1i32)))
                .eq(col("monday")),
            ))
            .alias("new"),
        );
        let weekly = scoped_days
            .clone()
            .filter(in_window.clone())
            .left_join(first_active.clone(), col("person"), col("person"))
            .group_by([col("monday")])
            .agg(weekly_aggs);
        let weekly = week_frame
            .left_join(weekly, col("monday"), col("monday"))
            .sort(["monday"], SortMultipleOptions::default())
            .collect()?;
        let wcol = |name: &str| -> PolarsResult<Vec<i64>> {
            Ok(weekly
                .column(name)?
                .cast(&DataType::Int64)?
                .i64()?
                .iter()
                .map(|v| v.unwrap_or(0))
                .collect())
        };
        let (wm, wy, wk) = (wcol("monday")?, wcol("iso_year")?, wcol("iso_week")?);
        let (wae, ra, new) = (wcol("wae")?, wcol("roster_active")?, wcol("new")?);
        let (ws, wl, wa, wr, wc) = (
            wcol("sessions")?,
            wcol("lines_added")?,
            wcol("edits_accepted")?,
            wcol("edits_rejected")?,
            wcol("cost")?,
        );
        let weeks: Vec<Week> = (0..weekly.height())
            .map(|i| {
                let monday = from_epoch(wm[i] as i32);
                Week {
                    monday,
                    iso_year: wy[i] as i32,
                    iso_week: wk[i] as u32,
                    // Complete once its Sunday is over.
                    complete: monday + Duration::days(6) < input.as_of,
                    covered_days: covered_days(monday),
                    active_engineers: wae[i] as u64,
                    active_roster_members: ra[i] as u64,
                    roster_size,
                    sessions: ws[i] as u64,
                    lines_accepted: wl[i] as u64,
                    edits_accepted: wa[i] as u64,
                    edits_rejected: wr[i] as u64,
                    cost_micros: wc[i],
                    new_engineers: new[i] as u64,
                }
            })
            .collect();

        // ---- §4 tiers at W from W−3 … W ----
        let last4 = col("monday")
            .gt_eq(lit(w_start))
            .and(col("monday").lt_eq(lit(w_end)));
        let four = scoped_days
            .clone()
            .filter(last4)
            .group_by([col("person")])
            .agg([
                col("monday")
                    .filter(col("active"))
                    .n_unique()
                    .cast(DataType::Int64)
                    .alias("weeks4"),
                col("lines_added").sum().alias("lines4"),
            ])
            .cache();
        // n persons active in at least one of the four weeks, k = ⌈n/4⌉, the
        // threshold is the k-th highest lines accepted (ties included).
        let k = (len().cast(DataType::Int64) + lit(3i64)) / lit(4i64) - lit(1i64);
        let threshold = four
            .clone()
            .filter(col("weeks4").gt(lit(0i64)))
            .select([col("lines4")
                .sort(SortOptions::default().with_order_descending(true))
                .get(k, true)
                .alias("t")])
            .collect()?;
        let power_threshold = threshold.column("t")?.i64()?.get(0).map(|t| t as u64);

        // Window per-person sums and active weeks.
        let mut window_aggs = sums();
        let complete_week = col("monday").lt_eq(lit(epoch(latest_complete)));
        window_aggs.push(
            col("monday")
                .filter(col("active").and(complete_week.clone()))
                .n_unique()
                .cast(DataType::Int64)
                .alias("active_weeks"),
        );
        window_aggs.push(
            col("active")
                .and(complete_week.not())
                .any(true)
                .cast(DataType::Int64)
                .alias("active_now"),
        );
        let in_window_again = in_window.clone();
        let window_people = scoped_days
            .clone()
            .filter(in_window)
            .group_by([col("person")])
            .agg(window_aggs);

        // Everyone in the selection: persons with rows, and roster members without any.
        let universe = concat(
            [
                scoped_days.clone().select([col("person")]),
                scoped_members.clone().select([col("person")]),
            ],
            UnionArgs::default(),
        )?
        .unique_stable_generic(None, UniqueKeepStrategy::First);
        let tier_code = when(
            col("weeks4")
                .eq(lit(4i64))
                .and(col("lines4").gt_eq(lit(power_threshold.map_or(i64::MAX, |t| t as i64)))),
        )
        .then(lit(0i32))
        .when(col("weeks4").gt_eq(lit(3i64)))
        .then(lit(1i32))
        .when(col("weeks4").gt_eq(lit(1i64)))
        .then(lit(2i32))
        .when(col("first_active").lt(lit(w_start)))
        .then(lit(3i32))
        .when(col("ever_active"))
        .then(lit(4i32))
        .otherwise(lit(5i32));
        let people = universe
            .left_join(scoped_members.clone(), col("person"), col("person"))
            .left_join(first_active, col("person"), col("person"))
            .left_join(four, col("person"), col("person"))
            .left_join(window_people, col("person"), col("person"))
            .with_columns([
                col("on_roster").fill_null(lit(false)),
                col("ever_active").fill_null(lit(false)),
                col("weeks4").fill_null(lit(0i64)),
                col("lines4").fill_null(lit(0i64)),
                col("active_weeks").fill_null(lit(0i64)),
                col("active_now").fill_null(lit(0i64)),
            ])
            .with_column(tier_code.alias("tier"))
            // A person outside the roster with nothing but rows of zeros is nobody to list.
            .filter(col("ever_active").or(col("on_roster")))
            .sort(["person"], SortMultipleOptions::default())
            .collect()?;

        let s = |name: &str| -> PolarsResult<Vec<Option<i64>>> {
            Ok(people
                .column(name)?
                .cast(&DataType::Int64)?
                .i64()?
                .iter()
                .collect())
        };
        let names: Vec<String> = people
            .column("person")?
            .str()?
            .iter()
            .map(|p| p.unwrap_or_default().to_string())
            .collect();
        let on_roster: Vec<bool> = people
            .column("on_roster")?
            .bool()?
            .iter()
            .map(|b| b.unwrap_or(false))
            .collect();
        let (fa, la, tier) = (s("first_active")?, s("last_active")?, s("tier")?);
        let (weeks4, lines4, aw) = (s("weeks4")?, s("lines4")?, s("active_weeks")?);
        let active_now = s("active_now")?;
        let (ps, pl, pa, pr, pc) = (
            s("sessions")?,
            s("lines_added")?,
            s("edits_accepted")?,
            s("edits_rejected")?,
            s("cost")?,
        );
        let z = |v: &Option<i64>| v.unwrap_or(0);
        let mut out_people = BTreeMap::new();
        for i in 0..people.height() {
            let tier = match tier[i] {
                Some(0) => Tier::Power,
                Some(1) => Tier::Regular,
                Some(2) => Tier::Occasional,
                Some(3) => Tier::Lapsed,
                Some(4) => Tier::New,
                _ => Tier::NonStarter,
            };
            out_people.insert(
                names[i].clone(),
                Person {
                    person: names[i].clone(),
                    on_roster: on_roster[i],
                    tier,
                    first_active: fa[i].map(|d| from_epoch(d as i32)),
                    last_active: la[i].map(|d| from_epoch(d as i32)),
                    active_weeks: z(&aw[i]) as u32,
                    active_this_week: z(&active_now[i]) != 0,
                    active_weeks_of_last_4: z(&weeks4[i]) as u32,
                    lines_accepted_last_4: z(&lines4[i]) as u64,
                    sessions: z(&ps[i]) as u64,
                    lines_accepted: z(&pl[i]) as u64,
                    edits_accepted: z(&pa[i]) as u64,
                    edits_rejected: z(&pr[i]) as u64,
                    cost_micros: z(&pc[i]),
                },
            );
        }

        let list = |f: &dyn Fn(&Person) -> bool| -> Vec<String> {
            out_people
                .values()
                .filter(|p| f(p))
                .map(|p| p.person.clone())
                .collect()
        };
        let non_starters = list(&|p| p.on_roster && matches!(p.tier, Tier::NonStarter | Tier::New));
        let not_on_roster = if input.roster.is_some() {
            list(&|p| !p.on_roster)
        } else {
            Vec::new()
        };
        let power_users = list(&|p| p.tier == Tier::Power);
        let new_this_week = list(&|p| p.first_active.is_some_and(|d| monday(d) == w));

        // Window totals: the same rules over the whole window (distinct persons, sums).
        let mut total_aggs = sums();
        total_aggs.push(distinct_active(None).alias("wae"));
        total_aggs.push(distinct_active(Some(col("on_roster"))).alias("roster_active"));
        let t = scoped_days
            .filter(in_window_again)
            .select(total_aggs)
            .collect()?;
        let tv = |name: &str| -> PolarsResult<i64> {
            Ok(t.column(name)?
                .cast(&DataType::Int64)?
                .i64()?
                .get(0)
                .unwrap_or(0))
        };
        let totals = Totals {
            active_engineers: tv("wae")? as u64,
            active_roster_members: tv("roster_active")? as u64,
            sessions: tv("sessions")? as u64,
            lines_accepted: tv("lines_added")? as u64,
            edits_accepted: tv("edits_accepted")? as u64,
            edits_rejected: tv("edits_rejected")? as u64,
            cost_micros: tv("cost")?,
        };

        Ok(Output {
            window_from: first,
            window_last_week: last,
            reference_week,
            tier_week: w,
            weeks,
            totals,
            power_threshold,
            people: out_people,
            roster_size,
            non_starters,
            not_on_roster,
            power_users,
            new_this_week,
        })
    }
}
