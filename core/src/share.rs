//! Share snapshots: an already computed [`Report`] with a privacy choice
//! applied, encoded compactly for a URL fragment or a file.
//!
//! Privacy is applied **after** aggregation (lessons.md: filters applied
//! before aggregation made totals lie): every total of the snapshot equals
//! the total of the report it was made from, whatever the choice.

use std::collections::HashMap;
use std::io::Read;

use base64::Engine as _;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::metrics::{Report, WeekCoverage, WindowSpec};
use crate::model::{PersonKey, Source};

/// The current snapshot format. Older versions must keep opening: see
/// [`decode_link`] and the fixture in `core/tests/share_data/`.
/// Version 2 (issue 10): weeks carry their coverage and have no figures when
/// no source covers them, the tier chart has one entry per week, the report
/// has cards with changes, a team table and a staleness statement. A v1
/// snapshot reads as v2 (every added field has a default; its weeks read as
/// fully covered, as they were shown).
pub const SNAPSHOT_VERSION: u32 = 2;

/// The longest link fragment the page offers; beyond it, a snapshot file.
/// Chromium 156 opens far longer fragments (measured: 130 KB arrive intact in
/// `location.hash`; its documented URL limit is 2 MB), but chat tools and mail
/// clients cut or refuse long links well before that. The demo's links are
/// a few KB; a few hundred people with names fit.
pub const MAX_LINK_FRAGMENT_BYTES: usize = 32 * 1024;

/// The most JSON a snapshot may unpack to. A snapshot of a few thousand
/// people with names is about 2 MB; past this a link is a decompression
/// bomb, refused before it is unpacked further (in the page and on the server).
pub const MAX_SNAPSHOT_JSON_BYTES: usize = 16 * 1024 * 1024;

/// The most JSON values (numbers, strings, objects, arrays…) a snapshot may
/// hold, counted before it is deserialised: a few thousand people take a
/// few hundred thousand; 20 million empty team names would take gigabytes.
pub const MAX_SNAPSHOT_VALUES: u64 = 1_000_000;

/// The default smallest group shown when names are hidden.
pub const DEFAULT_MIN_GROUP: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    /// Names and e-mails shown.
    Names,
    /// Every person replaced by a stable pseudonym ("Engineer 7KQ2XM").
    Pseudonyms,
    /// No per-person rows at all; lists are shown as counts.
    AggregatesOnly,
}

impl Privacy {
    pub fn describe(self) -> &'static str {
        match self {
            Privacy::Names => "with names",
            Privacy::Pseudonyms => "with names replaced by pseudonyms",
            Privacy::AggregatesOnly => "as aggregates only (no per-person rows)",
        }
    }
}

/// What the viewer had selected: the shared view opens on the same selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    pub window: WindowSpec,
    pub team: Option<String>,
}

/// Sizes of the per-person lists, kept when the lists themselves are hidden.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCounts {
    pub people: u64,
    pub non_starters: u64,
    pub power_users: u64,
    pub not_on_roster: u64,
    pub new_this_week: u64,
    pub roster_never_seen: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    /// The day the snapshot was made (UTC).
    pub created_on: NaiveDate,
    pub sources: Vec<Source>,
    pub privacy: Privacy,
    pub view: View,
    pub counts: ListCounts,
    pub report: Report,
}

impl Snapshot {
    /// "Snapshot of 2026-11-22, csv + otlp, shared with names hidden".
    pub fn caption(&self) -> String {
        let sources: Vec<&str> = self.sources.iter().map(|s| s.as_str()).collect();
        let sources = if sources.is_empty() {
            "no sources".to_string()
        } else {
            sources.join(" + ")
        };
        let who = match self.privacy {
            Privacy::Names => "shared with names".to_string(),
            Privacy::Pseudonyms => "shared with names hidden (pseudonyms)".to_string(),
            Privacy::AggregatesOnly => "shared with names hidden (aggregates only)".to_string(),
        };
        format!("Snapshot of {}, {sources}, {who}", self.created_on)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShareError {
    #[error("this link is not a Scoreboard snapshot (it should start with \"v<number>.\"); ask for a new link")]
    NotASnapshot,
    #[error("this snapshot was made by a newer Scoreboard (format {0}); open it with an up-to-date page")]
    TooNew(u32),
    #[error("this link is damaged or cut short ({0}); copy the whole link again or ask for a snapshot file")]
    Damaged(String),
    #[error("this snapshot is larger than Scoreboard opens ({0}); share a shorter window or a single team")]
    TooLarge(String),
    #[error("the team \"{team}\" has {size} people, fewer than {min}: with names hidden it would single people out. Share it with names, or share a larger group")]
    GroupTooSmall { team: String, size: u64, min: u64 },
}

/// Builds a snapshot of `report` with `privacy` applied. `salt` keeps the
/// pseudonyms stable for one sharer (the same person gets the same pseudonym
/// in every snapshot made with the same salt) without being reversible by
/// hashing a list of e-mails.
pub fn make_snapshot(
    report: &Report,
    privacy: Privacy,
    min_group: u64,
    salt: &str,
    created_on: NaiveDate,
    view: View,
) -> Result<Snapshot, ShareError> {
    let mut sources: Vec<Source> = report.health.sources.iter().map(|s| s.source).collect();
    sources.sort();
    sources.dedup();
    let counts = ListCounts {
        people: report.people.len() as u64,
        non_starters: report.non_starters.len() as u64,
        power_users: report.power_users.len() as u64,
        not_on_roster: report.not_on_roster.len() as u64,
        new_this_week: report.new_this_week.len() as u64,
        roster_never_seen: report.health.roster_never_seen.len() as u64,
    };
    if privacy != Privacy::Names {
        if let Some(team) = &view.team {
            let size = report.roster_size.unwrap_or(report.people.len() as u64);
            if size < min_group {
                return Err(ShareError::GroupTooSmall {
                    team: team.clone(),
                    size,
                    min: min_group,
                });
            }
        }
    }
    let mut shared = report.clone();
    match privacy {
        Privacy::Names => {}
        Privacy::Pseudonyms => {
            pseudonymise(&mut shared, salt);
            merge_small_teams(&mut shared, min_group);
            drop_small_team_rows(&mut shared, min_group);
        }
        Privacy::AggregatesOnly => {
            strip_people(&mut shared);
            drop_small_team_rows(&mut shared, min_group);
        }
    }
    Ok(Snapshot {
        version: SNAPSHOT_VERSION,
        created_on,
        sources,
        privacy,
        view,
        counts,
        report: shared,
    })
}

fn pseudonym(salt: &str, key: &PersonKey, len: usize) -> String {
    // FNV-1a over salt and key; 30 bits in Crockford base32 keep collisions
    // rare for thousands of people, and a clash is resolved by lengthening.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain([0u8]).chain(key.as_str().bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let code: String = (0..len)
        .map(|i| ALPHABET[((h >> (5 * i)) & 31) as usize] as char)
        .collect();
    format!("Engineer {code}")
}

/// Every text that could name a person: keys, roster names, e-mails.
fn hidden_terms(report: &Report) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for p in &report.people {
        terms.push(p.person.as_str().to_string());
        if let Some(name) = &p.name {
            if !name.trim().is_empty() {
                terms.push(name.clone());
            }
        }
    }
    for k in report
        .not_on_roster
        .iter()
        .chain(&report.health.not_on_roster)
        .chain(&report.health.roster_never_seen)
    {
        terms.push(k.as_str().to_string());
    }
    // Longest first, so that "ann@x.com" is replaced before "ann".
    terms.sort_by_key(|t| std::cmp::Reverse(t.len()));
    terms.dedup();
    terms
}

/// Replaces known terms, then any remaining e-mail-looking word.
fn scrub(text: &str, terms: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (term, replacement) in terms {
        if out.contains(term.as_str()) {
            out = out.replace(term.as_str(), replacement);
        }
    }
    out.split_inclusive(char::is_whitespace)
        .map(|piece| {
            let word = piece.trim_end();
            if word.contains('@') {
                format!("[hidden]{}", &piece[word.len()..])
            } else {
                piece.to_string()
            }
        })
        .collect()
}

fn scrub_texts(report: &mut Report, terms: &[(String, String)]) {
    for w in &mut report.warnings {
        *w = scrub(w, terms);
    }
    for p in &mut report.problems {
        p.message = scrub(&p.message, terms);
        p.file = scrub(&p.file, terms);
    }
    report.summary = scrub(&report.summary, terms);
}

fn pseudonymise(report: &mut Report, salt: &str) {
    let mut names: HashMap<PersonKey, String> = HashMap::new();
    let mut used: HashMap<String, PersonKey> = HashMap::new();
    let mut all: Vec<PersonKey> = report.people.iter().map(|p| p.person.clone()).collect();
    all.extend(report.not_on_roster.iter().cloned());
    all.extend(report.health.roster_never_seen.iter().cloned());
    all.sort();
    all.dedup();
    for key in all {
        let mut len = 6;
        let mut alias = pseudonym(salt, &key, len);
        while used.get(&alias).is_some_and(|k| *k != key) {
            len += 1;
            alias = pseudonym(salt, &key, len);
        }
        used.insert(alias.clone(), key.clone());
        names.insert(key, alias);
    }
    let mut terms: Vec<(String, String)> = Vec::new();
    for t in hidden_terms(report) {
        let replacement = names
            .get(&PersonKey::parse(&t).unwrap_or_else(|| PersonKey::email(&t)))
            .cloned();
        terms.push((t, replacement.unwrap_or_else(|| "[hidden]".to_string())));
    }
    // Roster names map to their person's pseudonym.
    for p in &report.people {
        if let (Some(name), Some(alias)) = (&p.name, names.get(&p.person)) {
            if let Some(t) = terms.iter_mut().find(|(t, _)| t == name) {
                t.1 = alias.clone();
            }
        }
    }
    let map = |k: &PersonKey| PersonKey::pseudonym(names.get(k).map_or("[hidden]", String::as_str));
    for p in &mut report.people {
        p.person = map(&p.person);
        p.name = None;
    }
    for list in [
        &mut report.non_starters,
        &mut report.not_on_roster,
        &mut report.power_users,
        &mut report.new_this_week,
        &mut report.health.not_on_roster,
        &mut report.health.roster_never_seen,
    ] {
        for k in list.iter_mut() {
            *k = map(k);
        }
    }
    scrub_texts(report, &terms);
}

/// The team label that stands for every team smaller than the threshold.
pub const SMALL_TEAMS: &str = "Small teams (merged)";

/// With names hidden, a team of two next to a pseudonym and its figures
/// singles people out: teams with fewer than `min_group` people in the
/// report are shown as one merged group, and that group too disappears when
/// it is still smaller than `min_group`. Only labels change; no row or total.
fn merge_small_teams(report: &mut Report, min_group: u64) {
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for p in &report.people {
        if let Some(t) = &p.team {
            *sizes.entry(t.clone()).or_default() += 1;
        }
    }
    let small: Vec<&String> = sizes.keys().filter(|t| sizes[*t] < min_group).collect();
    if small.is_empty() {
        return;
    }
    let merged: u64 = small.iter().map(|t| sizes[*t]).sum();
    let label = (merged >= min_group).then(|| SMALL_TEAMS.to_string());
    let small: Vec<String> = small.into_iter().cloned().collect();
    for p in &mut report.people {
        if p.team.as_ref().is_some_and(|t| small.contains(t)) {
            p.team = label.clone();
        }
    }
    report.teams.retain(|t| !small.contains(t));
    if let Some(l) = label {
        report.teams.push(l);
    }
}

/// With names hidden, a team table row of a team smaller than `min_group`
/// singles its people out: such rows are left out of the snapshot (their
/// figures cannot be merged after the fact), and counted.
fn drop_small_team_rows(report: &mut Report, min_group: u64) {
    let before = report.team_table.rows.len();
    report
        .team_table
        .rows
        .retain(|row| row.roster_size >= min_group);
    report.team_table.hidden_small_teams += (before - report.team_table.rows.len()) as u64;
}

fn strip_people(report: &mut Report) {
    let terms: Vec<(String, String)> = hidden_terms(report)
        .into_iter()
        .map(|t| (t, "[hidden]".to_string()))
        .collect();
    report.people.clear();
    report.non_starters.clear();
    report.not_on_roster.clear();
    report.power_users.clear();
    report.new_this_week.clear();
    report.health.not_on_roster.clear();
    report.health.roster_never_seen.clear();
    scrub_texts(report, &terms);
}

/// Encodes a snapshot for a URL fragment: `v<version>.` + base64url(zlib(JSON)).
/// zlib's Adler-32 checksum makes a damaged or truncated link fail loudly.
///
/// The page does the zlib step with the browser's own `CompressionStream`
/// ("deflate" is the zlib format) instead of this crate's, to keep a zlib
/// compressor out of its wasm: it calls [`link_json`] and [`link_text`]
/// around it, so both make the same format.
pub fn encode_link(snapshot: &Snapshot) -> String {
    let packed = miniz_oxide::deflate::compress_to_vec_zlib(&link_json(snapshot), 9);
    link_text(snapshot.version, &packed)
}

/// The JSON a link packs.
pub fn link_json(snapshot: &Snapshot) -> Vec<u8> {
    serde_json::to_vec(snapshot).unwrap_or_default()
}

/// A link's text from the zlib stream of [`link_json`].
pub fn link_text(version: u32, zlib: &[u8]) -> String {
    format!(
        "v{version}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(zlib)
    )
}

/// Reads a link made by [`encode_link`], of this or any older version.
pub fn decode_link(text: &str) -> Result<Snapshot, ShareError> {
    let (version, packed) = link_parts(text)?;
    let json =
        miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&packed, MAX_SNAPSHOT_JSON_BYTES)
            .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => too_large_link(),
            s => ShareError::Damaged(format!("cannot be unpacked: {s:?}")),
        })?;
    decode_json(&json, version)
}

/// A link's format version and zlib stream (the first half of [`decode_link`]);
/// the version is checked before anything is unpacked.
pub fn link_parts(text: &str) -> Result<(u32, Vec<u8>), ShareError> {
    let text = text.trim().trim_start_matches('#').trim_start_matches("s=");
    let (version, body) = text.split_once('.').ok_or(ShareError::NotASnapshot)?;
    let version: u32 = version
        .strip_prefix('v')
        .and_then(|v| v.parse().ok())
        .ok_or(ShareError::NotASnapshot)?;
    if version > SNAPSHOT_VERSION {
        return Err(ShareError::TooNew(version));
    }
    let packed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .map_err(|e| ShareError::Damaged(format!("not valid base64: {e}")))?;
    Ok((version, packed))
}

/// The error for a link that unpacks past [`MAX_SNAPSHOT_JSON_BYTES`].
pub fn too_large_link() -> ShareError {
    ShareError::TooLarge(format!(
        "it unpacks to more than {} MB",
        MAX_SNAPSHOT_JSON_BYTES / (1024 * 1024)
    ))
}

/// The second half of [`decode_link`]: the unpacked JSON of a link of `version`.
pub fn decode_link_json(json: &[u8], version: u32) -> Result<Snapshot, ShareError> {
    decode_json(json, version)
}

/// Reads a snapshot file (the JSON the page offers to download).
pub fn decode_file(bytes: &[u8]) -> Result<Snapshot, ShareError> {
    if bytes.len() > MAX_SNAPSHOT_JSON_BYTES {
        return Err(ShareError::TooLarge(format!(
            "the file is larger than {} MB",
            MAX_SNAPSHOT_JSON_BYTES / (1024 * 1024)
        )));
    }
    count_values(bytes)?;
    let mut text = Vec::new();
    let mut reader = bytes;
    reader
        .read_to_end(&mut text)
        .map_err(|e| ShareError::Damaged(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| ShareError::Damaged(format!("not a snapshot file: {e}")))?;
    let version = value
        .get("version")
        .and_then(|v| v.as_u64())
        .ok_or(ShareError::NotASnapshot)? as u32;
    if version > SNAPSHOT_VERSION {
        return Err(ShareError::TooNew(version));
    }
    decode_json(&text, version)
}

/// The file form: pretty JSON, same structure as the link.
pub fn encode_file(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap_or_default()
}

/// Refuses JSON of more than [`MAX_SNAPSHOT_VALUES`] values, counted
/// without building anything (a malformed text is left for the decoder to name).
fn count_values(json: &[u8]) -> Result<(), ShareError> {
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;
    struct Count<'c>(&'c Cell<u64>);
    impl<'de> serde::de::DeserializeSeed<'de> for Count<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Count<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            self.tick()?;
            while m.next_key::<IgnoredAny>()?.is_some() {
                m.next_value_seed(Count(self.0))?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
            self.tick()?;
            while s.next_element_seed(Count(self.0))?.is_some() {}
            Ok(())
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
            self.tick()
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
            self.tick()
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
            self.tick()
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
            self.tick()
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
            self.tick()
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
            self.tick()
        }
    }
    impl Count<'_> {
        fn tick<E: serde::de::Error>(&self) -> Result<(), E> {
            self.0.set(self.0.get() + 1);
            if self.0.get() > MAX_SNAPSHOT_VALUES {
                Err(E::custom("too many values"))
            } else {
                Ok(())
            }
        }
    }
    let n = Cell::new(0);
    let mut d = serde_json::Deserializer::from_slice(json);
    let walked = serde::de::DeserializeSeed::deserialize(Count(&n), &mut d);
    if n.get() > MAX_SNAPSHOT_VALUES {
        return Err(ShareError::TooLarge(format!(
            "more than {MAX_SNAPSHOT_VALUES} values"
        )));
    }
    // Any other error is the decoder's to name, with its position.
    drop(walked);
    Ok(())
}

fn decode_json(json: &[u8], version: u32) -> Result<Snapshot, ShareError> {
    count_values(json)?;
    // v2 only added fields (all with serde defaults) and made week figures
    // optional (flattened, so a v1 week with figures reads as covered): both
    // versions read with the same types. A later incompatible version would
    // upgrade the older value here before deserialising, so that links
    // already sent keep opening; the fixture tests fail otherwise.
    match version {
        1 | 2 => serde_json::from_slice(json)
            .map_err(|e| ShareError::Damaged(format!("unreadable content: {e}"))),
        _ => Err(ShareError::NotASnapshot),
    }
}

/// The people table as CSV (one row per person, the table's columns plus
/// the other per-person sums), for a spreadsheet. Numbers are written raw:
/// integers, rates as fractions with six decimals, money in USD with cents.
pub fn people_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "person",
        "name",
        "team",
        "on_roster",
        "tier",
        "first_active",
        "last_active",
        "active_weeks",
        "sessions",
        "lines_accepted",
        "lines_removed",
        "commits",
        "pull_requests",
        "edits_accepted",
        "edits_rejected",
        "acceptance_rate",
        "cost_usd",
        "cost_is_estimated",
        "lines_accepted_last_4_weeks",
        "days_to_first_use",
        "sources",
    ]);
    for p in &report.people {
        let sources: Vec<&str> = p.sources.iter().map(|s| s.as_str()).collect();
        let _ = w.write_record([
            p.person.to_string(),
            p.name.clone().unwrap_or_default(),
            p.team.clone().unwrap_or_default(),
            p.on_roster.to_string(),
            p.tier.as_str().to_string(),
            opt(p.first_active),
            opt(p.last_active),
            p.active_weeks.to_string(),
            p.totals.sessions.to_string(),
            p.totals.lines_accepted.to_string(),
            p.totals.lines_removed.to_string(),
            p.totals.commits.to_string(),
            p.totals.pull_requests.to_string(),
            p.totals.edits_accepted.to_string(),
            p.totals.edits_rejected.to_string(),
            rate(p.totals.acceptance_rate),
            usd(p.totals.cost_micros),
            p.totals.cost_is_estimated.to_string(),
            p.lines_accepted_last_4.to_string(),
            opt(p.days_to_first_use),
            sources.join(" "),
        ]);
    }
    csv_text(w)
}

/// The weekly series as CSV: one row per ISO week of the window, every
/// weekly figure; undefined figures and every figure of a week no source
/// covers are left empty (never 0).
pub fn weeks_csv(report: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "week",
        "monday",
        "complete",
        "active_engineers",
        "active_roster_members",
        "roster_size",
        "adoption_rate",
        "sessions",
        "lines_accepted",
        "lines_removed",
        "commits",
        "pull_requests",
        "edits_accepted",
        "edits_rejected",
        "acceptance_rate",
        "cost_usd",
        "cost_per_active_engineer_usd",
        "cost_is_estimated",
        "new_engineers",
        "days_with_data",
        "power_users",
        "regular",
        "occasional",
        "lapsed",
        "roster_not_started_yet",
        "coverage",
        "covered_days",
        "partial",
        "lines_per_active_engineer",
        "sessions_per_active_engineer",
    ]);
    for wk in &report.weeks {
        let tiers = report
            .tiers_by_week
            .iter()
            .find(|t| t.week == wk.week)
            .and_then(|t| t.counts.as_ref());
        let tier = |f: fn(&crate::metrics::TierCounts) -> u64| opt(tiers.map(f));
        let f = wk.figures.as_ref();
        let t = f.map(|f| &f.totals);
        let (coverage, covered_days) = match &wk.coverage {
            WeekCoverage::Full => ("full", 7),
            WeekCoverage::Partial { days, .. } => ("partial", *days),
            WeekCoverage::Uncovered => ("none", 0),
        };
        let _ = w.write_record([
            wk.label.clone(),
            wk.week.to_string(),
            wk.complete.to_string(),
            opt(f.map(|f| f.active_engineers)),
            opt(f.map(|f| f.active_roster_members)),
            opt(f.and_then(|f| f.roster_size)),
            rate(f.and_then(|f| f.adoption_rate)),
            opt(t.map(|t| t.sessions)),
            opt(t.map(|t| t.lines_accepted)),
            opt(t.map(|t| t.lines_removed)),
            opt(t.map(|t| t.commits)),
            opt(t.map(|t| t.pull_requests)),
            opt(t.map(|t| t.edits_accepted)),
            opt(t.map(|t| t.edits_rejected)),
            rate(t.and_then(|t| t.acceptance_rate)),
            t.map(|t| usd(t.cost_micros)).unwrap_or_default(),
            f.and_then(|f| f.cost_per_active_engineer_usd)
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default(),
            opt(t.map(|t| t.cost_is_estimated)),
            opt(f.map(|f| f.new_engineers)),
            wk.days_with_data.to_string(),
            tier(|t| t.power),
            tier(|t| t.regular),
            tier(|t| t.occasional),
            tier(|t| t.lapsed),
            tier(|t| t.roster_not_started),
            coverage.to_string(),
            covered_days.to_string(),
            wk.partial.to_string(),
            f.and_then(|f| f.lines_per_active_engineer)
                .map(|v| format!("{v:.2}"))
                .unwrap_or_default(),
            f.and_then(|f| f.sessions_per_active_engineer)
                .map(|v| format!("{v:.2}"))
                .unwrap_or_default(),
        ]);
    }
    csv_text(w)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn rate(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.6}")).unwrap_or_default()
}

/// Micro-dollars as USD with cents, exactly (no float rounding).
fn usd(m: crate::model::MicroUsd) -> String {
    let cents = (m.unsigned_abs() + 5_000) / 10_000;
    let sign = if m < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

fn csv_text(w: csv::Writer<Vec<u8>>) -> String {
    w.into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
