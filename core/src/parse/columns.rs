//! CSV headers → canonical fields.
//!
//! The claude.ai exports' exact headers are not public (sources.md §4.1), so
//! every header is compared after [`normalise_header`] (lower case, only
//! letters and digits kept) against a generous alias table. Within one field
//! the aliases are in order of preference: when two columns look like the
//! same field, the earlier alias wins and the other column is reported as
//! ignored (e.g. a spend report's `total_net_spend_usd` beats
//! `total_gross_spend_usd`).
//!
//! | field | aliases (as written; compared normalised) |
//! |---|---|
//! | e-mail / person | Email, E-mail address, email_address, user_email, User, Member, Member email, Actor, Login, API key (name), Key name |
//! | account id | account_uuid, Account UUID, account_id, user_uuid, user_id, UUID |
//! | name | Name, Full name, Display name, User name, Member name |
//! | team | Team, Group, Department, Squad, rbac_group_name, Org unit |
//! | start date | Start date, Seat assigned (date/at), Assigned, Joined, Hire date, added_at, Period start, From |
//! | end date | End date, Period end, To, Until |
//! | aliases | Aliases, Other e-mails, API keys, API key names, Other ids |
//! | day | Date, Day, Date (UTC), Activity date, Usage date, Report date, Timestamp, Time |
//! | sessions | Sessions, num_sessions, total_sessions, Session count, # of sessions, distinct_session_count |
//! | lines added | Lines accepted, total_lines_accepted, Lines of code accepted, Lines added, loc_with_cc, Lines of code with CC, Lines this month, Lines |
//! | lines removed | Lines removed, total_lines_removed, Lines deleted |
//! | commits | Commits, num_commits, total_commits, commit_count, commits_by_claude_code |
//! | pull requests | Pull requests, PRs, prs_with_cc, PRs with Claude Code, pull_request_count, pull_requests_by_claude_code |
//! | edits accepted / rejected | Edits accepted, Suggestions accepted, Accepted edits, Tool accepted (and …rejected) |
//! | accept rate | Accept rate, Acceptance rate, Suggestion accept rate, Tool acceptance rate |
//! | input tokens | Input tokens, total_prompt_tokens, Prompt tokens, uncached_input_tokens |
//! | output tokens | Output tokens, total_completion_tokens, Completion tokens |
//! | cache read / creation tokens | Cache read tokens, cache_read_input_tokens / Cache creation tokens, Cache write tokens |
//! | cost (USD) | Cost (USD), Spend (USD), total_net_spend_usd, Net spend, total_cost, cost_usd, Spend this month, Amount (USD), Estimated cost (a bare `amount` is not taken: API cost reports give cents), then total_gross_spend_usd |
//! | model | Model, Model name, Model id |
//! | product | Product, Product name |
//!
//! Known columns that are read but deliberately not used (reported with a
//! reason): `last_active` and similar (a person's last active date is
//! metadata, not a day of usage), `total_requests`, `model_family`,
//! `prs_total` / `loc_total` (all work, with or without Claude Code),
//! `total_tokens` (cannot be split into input and output).
//!
//! "Lines of code with CC" (`loc_with_cc`) and "PRs with CC" count lines and
//! pull requests *merged* with Claude Code's help (GitHub attribution), not
//! lines accepted in a session or PRs opened by Claude Code; they are the
//! closest the claude.ai leaderboard export offers, so they fill those
//! fields when a file has nothing better (a file that has both keeps the
//! session measure).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{text, ColumnUse, Warning};
use crate::model::MeasureSet;

/// A canonical field a CSV column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The person: an e-mail (or, when the column holds no `@`, an API key name).
    Email,
    /// A platform account id or UUID: the person when the e-mail is empty; a roster alias.
    AccountId,
    Name,
    Team,
    /// Roster: seat-assigned or start date. Usage file: start of the row's period (with [`Field::EndDate`]).
    StartDate,
    /// Usage file: last day (inclusive) of the row's period.
    EndDate,
    Aliases,
    Day,
    Sessions,
    LinesAdded,
    LinesRemoved,
    Commits,
    PullRequests,
    EditsAccepted,
    EditsRejected,
    AcceptRate,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheCreationTokens,
    CostUsd,
    Model,
    Product,
}

impl Field {
    pub const ALL: [Field; 23] = [
        Field::Email,
        Field::AccountId,
        Field::Name,
        Field::Team,
        Field::StartDate,
        Field::EndDate,
        Field::Aliases,
        Field::Day,
        Field::Sessions,
        Field::LinesAdded,
        Field::LinesRemoved,
        Field::Commits,
        Field::PullRequests,
        Field::EditsAccepted,
        Field::EditsRejected,
        Field::AcceptRate,
        Field::InputTokens,
        Field::OutputTokens,
        Field::CacheReadTokens,
        Field::CacheCreationTokens,
        Field::CostUsd,
        Field::Model,
        Field::Product,
    ];

    /// What the column holds, in words for the column-mapping dialog.
    pub fn label(self) -> &'static str {
        match self {
            Field::Email => "E-mail (person)",
            Field::AccountId => "Account id",
            Field::Name => "Name",
            Field::Team => "Team",
            Field::StartDate => "Start / seat-assigned date",
            Field::EndDate => "End date of the period",
            Field::Aliases => "Aliases (other e-mails, API key names)",
            Field::Day => "Date (UTC day)",
            Field::Sessions => "Sessions",
            Field::LinesAdded => "Lines accepted (added)",
            Field::LinesRemoved => "Lines removed",
            Field::Commits => "Commits",
            Field::PullRequests => "Pull requests",
            Field::EditsAccepted => "Edits accepted",
            Field::EditsRejected => "Edits rejected",
            Field::AcceptRate => "Accept rate",
            Field::InputTokens => "Input tokens",
            Field::OutputTokens => "Output tokens",
            Field::CacheReadTokens => "Cache read tokens",
            Field::CacheCreationTokens => "Cache creation tokens",
            Field::CostUsd => "Cost (USD)",
            Field::Model => "Model",
            Field::Product => "Product",
        }
    }

    /// The serialised name (`lines_added`).
    pub fn key(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::AccountId => "account_id",
            Field::Name => "name",
            Field::Team => "team",
            Field::StartDate => "start_date",
            Field::EndDate => "end_date",
            Field::Aliases => "aliases",
            Field::Day => "day",
            Field::Sessions => "sessions",
            Field::LinesAdded => "lines_added",
            Field::LinesRemoved => "lines_removed",
            Field::Commits => "commits",
            Field::PullRequests => "pull_requests",
            Field::EditsAccepted => "edits_accepted",
            Field::EditsRejected => "edits_rejected",
            Field::AcceptRate => "accept_rate",
            Field::InputTokens => "input_tokens",
            Field::OutputTokens => "output_tokens",
            Field::CacheReadTokens => "cache_read_tokens",
            Field::CacheCreationTokens => "cache_creation_tokens",
            Field::CostUsd => "cost_usd",
            Field::Model => "model",
            Field::Product => "product",
        }
    }

    pub fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.key() == key)
    }

    /// The header spellings recognised for this field, normalised, most preferred first.
    pub fn aliases(self) -> &'static [&'static str] {
        ALIASES
            .iter()
            .find(|(f, _)| *f == self)
            .map_or(&[], |(_, a)| a)
    }

    /// The field a header maps to by the alias table, if any.
    pub fn from_header(header: &str) -> Option<Field> {
        alias_rank(&normalise_header(header)).map(|(f, _)| f)
    }

    /// A usage measure: a file with an identity column and one of these is a usage file.
    pub fn is_measure(self) -> bool {
        matches!(
            self,
            Field::Sessions
                | Field::LinesAdded
                | Field::LinesRemoved
                | Field::Commits
                | Field::PullRequests
                | Field::EditsAccepted
                | Field::EditsRejected
                | Field::AcceptRate
                | Field::InputTokens
                | Field::OutputTokens
                | Field::CacheReadTokens
                | Field::CacheCreationTokens
                | Field::CostUsd
        )
    }

    /// The measure a column of this field carries; `None` for identity, dates,
    /// labels and the accept rate (a rate cannot be summed).
    pub fn measure(self) -> Option<MeasureSet> {
        Some(match self {
            Field::Sessions => MeasureSet::SESSIONS,
            Field::LinesAdded => MeasureSet::LINES_ADDED,
            Field::LinesRemoved => MeasureSet::LINES_REMOVED,
            Field::Commits => MeasureSet::COMMITS,
            Field::PullRequests => MeasureSet::PULL_REQUESTS,
            Field::EditsAccepted | Field::EditsRejected => MeasureSet::EDITS,
            Field::InputTokens => MeasureSet::INPUT_TOKENS,
            Field::OutputTokens => MeasureSet::OUTPUT_TOKENS,
            Field::CacheReadTokens => MeasureSet::CACHE_READ_TOKENS,
            Field::CacheCreationTokens => MeasureSet::CACHE_CREATION_TOKENS,
            Field::CostUsd => MeasureSet::COST,
            _ => return None,
        })
    }

    /// A column only a roster uses.
    pub fn is_roster_only(self) -> bool {
        matches!(self, Field::Name | Field::Team | Field::Aliases)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Lower case, letters and digits only: `Spend (USD)` → `spendusd`,
/// `total_lines-accepted` → `totallinesaccepted`.
pub fn normalise_header(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Aliases, normalised, most preferred first within each field.
const ALIASES: &[(Field, &[&str])] = &[
    (
        Field::Email,
        &[
            "email",
            "emailaddress",
            "useremail",
            "useremailaddress",
            "memberemail",
            "memberemailaddress",
            "actoremail",
            "actoremailaddress",
            "mail",
            "user",
            "users",
            "member",
            "members",
            "actor",
            "login",
            "person",
            "apikeyname",
            "apikey",
            "keyname",
            "apikeyidentifier",
        ],
    ),
    (
        Field::AccountId,
        &[
            "accountuuid",
            "accountid",
            "useruuid",
            "userid",
            "uuid",
            "account",
        ],
    ),
    (
        Field::Name,
        &[
            "name",
            "fullname",
            "displayname",
            "username",
            "membername",
            "employeename",
            "personname",
            "employee",
        ],
    ),
    (
        Field::Team,
        &[
            "team",
            "teamname",
            "group",
            "groupname",
            "department",
            "dept",
            "squad",
            "rbacgroup",
            "rbacgroupname",
            "orgunit",
            "division",
        ],
    ),
    (
        Field::StartDate,
        &[
            "startdate",
            "seatassigned",
            "seatassigneddate",
            "seatassignedat",
            "seatassignedon",
            "seatdate",
            "assigned",
            "assignedat",
            "assigneddate",
            "assignedon",
            "start",
            "started",
            "startedon",
            "joined",
            "joindate",
            "joinedat",
            "joinedon",
            "hiredate",
            "addedat",
            "dateadded",
            "periodstart",
            "from",
        ],
    ),
    (
        Field::EndDate,
        &["enddate", "periodend", "end", "to", "until"],
    ),
    (
        Field::Aliases,
        &[
            "aliases",
            "alias",
            "otheremails",
            "otheremail",
            "alternateemails",
            "secondaryemails",
            "apikeys",
            "apikeynames",
            "keys",
            "otherkeys",
            "otherids",
        ],
    ),
    (
        Field::Day,
        &[
            "date",
            "day",
            "dateutc",
            "dayutc",
            "activitydate",
            "usagedate",
            "reportdate",
            "datetime",
            "timestamp",
            "time",
        ],
    ),
    (
        Field::Sessions,
        &[
            "sessions",
            "numsessions",
            "totalsessions",
            "sessioncount",
            "sessionscount",
            "numberofsessions",
            "noofsessions",
            "ofsessions",
            "claudecodesessions",
            "ccsessions",
            "distinctsessioncount",
            "distinctsessions",
        ],
    ),
    (
        Field::LinesAdded,
        &[
            "linesaccepted",
            "totallinesaccepted",
            "linesofcodeaccepted",
            "locaccepted",
            "acceptedlines",
            "linesadded",
            "totallinesadded",
            "linesofcodeadded",
            "locadded",
            "addedlines",
            "linesaddedcount",
            "locwithcc",
            "linesofcodewithcc",
            "linesofcodewithclaudecode",
            "lineswithcc",
            "lineswithclaudecode",
            "linesthismonth",
            "linesofcode",
            "lines",
            "loc",
        ],
    ),
    (
        Field::LinesRemoved,
        &[
            "linesremoved",
            "totallinesremoved",
            "linesofcoderemoved",
            "locremoved",
            "removedlines",
            "linesdeleted",
            "deletedlines",
            "linesremovedcount",
        ],
    ),
    (
        Field::Commits,
        &[
            "commits",
            "numcommits",
            "totalcommits",
            "commitcount",
            "commitsbyclaudecode",
            "commitswithcc",
            "commitswithclaudecode",
            "gitcommits",
        ],
    ),
    (
        Field::PullRequests,
        &[
            "pullrequests",
            "prs",
            "numprs",
            "prcount",
            "pullrequestcount",
            "numpullrequests",
            "pullrequestsbyclaudecode",
            "prsbyclaudecode",
            "prswithcc",
            "prswithclaudecode",
            "pullrequestswithcc",
            "pullrequestswithclaudecode",
            "mergedprswithcc",
        ],
    ),
    (
        Field::EditsAccepted,
        &[
            "editsaccepted",
            "acceptededits",
            "totaleditsaccepted",
            "suggestionsaccepted",
            "acceptedsuggestions",
            "toolaccepted",
            "toolactionsaccepted",
            "codeeditsaccepted",
            "editacceptedcount",
            "acceptedcount",
        ],
    ),
    (
        Field::EditsRejected,
        &[
            "editsrejected",
            "rejectededits",
            "totaleditsrejected",
            "suggestionsrejected",
            "rejectedsuggestions",
            "toolrejected",
            "toolactionsrejected",
            "codeeditsrejected",
            "editrejectedcount",
            "rejectedcount",
        ],
    ),
    (
        Field::AcceptRate,
        &[
            "acceptrate",
            "acceptancerate",
            "suggestionacceptrate",
            "suggestionacceptancerate",
            "toolacceptancerate",
            "toolacceptrate",
            "editacceptrate",
            "editacceptancerate",
            "acceptratepercent",
            "acceptancepercent",
        ],
    ),
    (
        Field::InputTokens,
        &[
            "inputtokens",
            "totalinputtokens",
            "totalprompttokens",
            "prompttokens",
            "uncachedinputtokens",
            "tokensinput",
            "input",
        ],
    ),
    (
        Field::OutputTokens,
        &[
            "outputtokens",
            "totaloutputtokens",
            "totalcompletiontokens",
            "completiontokens",
            "tokensoutput",
            "output",
        ],
    ),
    (
        Field::CacheReadTokens,
        &[
            "cachereadtokens",
            "totalcachereadtokens",
            "cachereadinputtokens",
            "cacheread",
            "cachedtokens",
            "tokenscacheread",
        ],
    ),
    (
        Field::CacheCreationTokens,
        &[
            "cachecreationtokens",
            "totalcachecreationtokens",
            "cachecreationinputtokens",
            "cachecreation",
            "cachewritetokens",
            "cachewrite",
            "tokenscachecreation",
        ],
    ),
    (
        Field::CostUsd,
        &[
            "costusd",
            "spendusd",
            "totalnetspendusd",
            "netspendusd",
            "netspend",
            "totalcost",
            "totalcostusd",
            "cost",
            "spend",
            "totalspend",
            "totalspendusd",
            "spendthismonth",
            "costinusd",
            "amountusd",
            "estimatedcost",
            "estimatedcostusd",
            "totalgrossspendusd",
            "grossspendusd",
            "grossspend",
        ],
    ),
    (Field::Model, &["model", "modelname", "modelid"]),
    (Field::Product, &["product", "productname", "producttype"]),
];

/// Columns known to be in some exports and deliberately not used, with why.
const KNOWN_IGNORED: &[(&[&str], &str)] = &[
    (
        &["lastactive", "lastactivity", "lastactivedate", "lastactivitydate", "lastseen", "lastused", "lastactiveat"],
        "it is a person's last active date, not a day of usage",
    ),
    (&["totalrequests", "requests", "numrequests", "requestcount"], "request counts are not a Scoreboard measure"),
    (&["modelfamily", "family"], "the Model column is used for prices and the per-model breakdown"),
    (
        &["prstotal", "totalprs", "allprs", "loctotal", "totalloc", "totallinesofcode", "alllines"],
        "it counts all work, with or without Claude Code",
    ),
    (&["totaltokens", "tokens"], "a token total cannot be split into input and output tokens; cost is taken from a cost column"),
];

/// (field, rank) of a normalised header by the alias table; lower rank wins.
fn alias_rank(norm: &str) -> Option<(Field, usize)> {
    ALIASES
        .iter()
        .find_map(|(f, aliases)| aliases.iter().position(|a| *a == norm).map(|i| (*f, i + 1)))
}

fn known_ignored(norm: &str) -> Option<&'static str> {
    KNOWN_IGNORED
        .iter()
        .find(|(names, _)| names.contains(&norm))
        .map(|(_, why)| *why)
}

/// The result of mapping a header row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mapping {
    pub columns: Vec<ColumnUse>,
    /// Field → column index (only the winning column of each field).
    pub index: BTreeMap<Field, usize>,
    pub ignored: Vec<String>,
    pub warnings: Vec<Warning>,
    /// Columns with a header the alias table does not know (indexes, file order).
    pub unknown: Vec<usize>,
}

impl Mapping {
    pub fn has(&self, f: Field) -> bool {
        self.index.contains_key(&f)
    }
    pub fn col(&self, f: Field) -> Option<usize> {
        self.index.get(&f).copied()
    }
    pub fn header(&self, f: Field) -> &str {
        self.col(f)
            .and_then(|i| self.columns.get(i))
            .map_or("", |c| c.header.as_str())
    }
    /// The measures the mapped columns carry. Edits count only when both
    /// counts are used (`use_edits`): one of the two says nothing of the rate.
    pub fn carried(&self, use_edits: bool) -> MeasureSet {
        self.index
            .keys()
            .filter(|f| use_edits || f.measure() != Some(MeasureSet::EDITS))
            .filter_map(|f| f.measure())
            .fold(MeasureSet::empty(), |a, b| a | b)
    }

    /// Stops using a column: reported as ignored, with the reason.
    pub fn drop_field(&mut self, f: Field, why: &str) {
        if let Some(i) = self.index.remove(&f) {
            if let Some(c) = self.columns.get_mut(i) {
                c.field = None;
                self.ignored.push(c.header.clone());
                self.warnings.push(Warning::IgnoredColumn {
                    header: c.header.clone(),
                    reason: why.to_string(),
                });
            }
        }
    }
}

/// A column the importer does not recognise that holds numbers in most rows:
/// probably a measure under a name the alias table lacks (a localised or
/// renamed export's "Conversations"). Core only reports it; the page offers
/// the column dialog for it instead of ignoring it silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LikelyMeasure {
    /// The header as written.
    pub header: String,
    /// Up to three non-empty cells, as written (trimmed).
    pub samples: Vec<String>,
    /// Of the data rows, the share whose cell is a number (0..=1).
    pub numeric_share: f64,
}

/// Above this share of numeric cells, an unknown column is reported as a likely measure.
pub const LIKELY_MEASURE_SHARE: f64 = 0.5;

/// The unknown columns of `m` whose cells are numbers in most of `records`.
pub(crate) fn likely_measures<'a>(
    m: &Mapping,
    records: impl Iterator<Item = &'a csv::StringRecord>,
) -> Vec<LikelyMeasure> {
    let mut acc = LikelyCounter::new(m);
    for r in records {
        acc.add(|i| r.get(i).unwrap_or(""));
    }
    acc.finish(m)
}

/// Counts, record by record, how many cells of each unknown column are
/// numbers (a streamed file is never held whole to look back at).
pub(crate) struct LikelyCounter {
    rows: u64,
    /// (column, numeric cells, up to three samples), one per unknown column.
    columns: Vec<(usize, u64, Vec<String>)>,
}

impl LikelyCounter {
    pub fn new(m: &Mapping) -> LikelyCounter {
        LikelyCounter {
            rows: 0,
            columns: m.unknown.iter().map(|&i| (i, 0, Vec::new())).collect(),
        }
    }

    /// One data record; `cell(i)` is its `i`-th cell as written ("" past its end).
    pub fn add<'a>(&mut self, cell: impl Fn(usize) -> &'a str) {
        self.rows += 1;
        for k in 0..self.columns.len() {
            self.add_cell(k, cell(self.columns[k].0));
        }
    }

    /// The unknown columns, by column index, in the order [`LikelyCounter::add_cell`] numbers them.
    pub fn column_indexes(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns.iter().map(|c| c.0)
    }

    /// One data record whose cells of the unknown columns are then given
    /// one by one, in order ([`LikelyCounter::add_cell`]).
    pub fn add_row(&mut self) {
        self.rows += 1;
    }

    /// The cell, as written, of the `k`-th unknown column in the current record.
    pub fn add_cell(&mut self, k: usize, cell: &str) {
        let Some((_, numeric, samples)) = self.columns.get_mut(k) else {
            return;
        };
        let c = cell.trim();
        if c.is_empty() {
            return;
        }
        if samples.len() < 3 {
            samples.push(text::shown(c));
        }
        if matches!(text::parse_usd(c), Ok(Some(_))) {
            *numeric += 1;
        }
    }

    pub fn finish(self, m: &Mapping) -> Vec<LikelyMeasure> {
        let rows = self.rows;
        self.columns
            .into_iter()
            .filter_map(|(i, numeric, samples)| {
                let share = if rows == 0 {
                    0.0
                } else {
                    numeric as f64 / rows as f64
                };
                (share > LIKELY_MEASURE_SHARE).then(|| LikelyMeasure {
                    header: m
                        .columns
                        .get(i)
                        .map_or_else(String::new, |c| c.header.clone()),
                    samples,
                    numeric_share: share,
                })
            })
            .collect()
    }
}

/// Maps headers to fields. An override (keyed by the header text, compared
/// normalised) beats the alias table; `None` in an override ignores the column.
pub(crate) fn map_headers(
    headers: &[String],
    overrides: &BTreeMap<String, Option<Field>>,
) -> Mapping {
    let norm_overrides: BTreeMap<String, Option<Field>> = overrides
        .iter()
        .map(|(k, v)| (normalise_header(k), *v))
        .collect();
    let mut m = Mapping::default();
    // (field, rank, column) candidates.
    let mut candidates: Vec<(Field, usize, usize)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let norm = normalise_header(h);
        m.columns.push(ColumnUse {
            header: h.clone(),
            field: None,
        });
        let over = overrides.get(h).or_else(|| norm_overrides.get(&norm));
        match over {
            Some(Some(f)) => candidates.push((*f, 0, i)),
            Some(None) => m.ignored.push(h.clone()),
            None => {
                if norm.is_empty() {
                    continue; // an unnamed column (often a trailing delimiter)
                }
                if let Some((f, rank)) = alias_rank(&norm) {
                    candidates.push((f, rank, i));
                } else if let Some(why) = known_ignored(&norm) {
                    m.ignored.push(h.clone());
                    m.warnings.push(Warning::IgnoredColumn {
                        header: h.clone(),
                        reason: why.to_string(),
                    });
                } else {
                    m.ignored.push(h.clone());
                    m.unknown.push(i);
                    unknown.push(h.clone());
                }
            }
        }
    }
    for key in overrides.keys() {
        let nk = normalise_header(key);
        if !headers
            .iter()
            .any(|h| h == key || normalise_header(h) == nk)
        {
            m.warnings.push(Warning::MappingNamesMissingColumn {
                header: key.clone(),
            });
        }
    }
    candidates.sort_by_key(|&(f, rank, i)| (f, rank, i));
    for (f, _, i) in candidates {
        let header = headers.get(i).cloned().unwrap_or_default();
        if let Some(&winner) = m.index.get(&f) {
            let won = headers.get(winner).cloned().unwrap_or_default();
            m.ignored.push(header.clone());
            m.warnings.push(Warning::DuplicateColumn {
                field: f,
                used: won,
                ignored: header,
            });
        } else {
            m.index.insert(f, i);
            if let Some(c) = m.columns.get_mut(i) {
                c.field = Some(f);
            }
        }
    }
    // Keep `ignored` in file order.
    let order: BTreeMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    m.ignored
        .sort_by_key(|h| order.get(h.as_str()).copied().unwrap_or(usize::MAX));
    m.ignored.dedup();
    if !unknown.is_empty() {
        m.warnings
            .push(Warning::UnknownColumns { headers: unknown });
    }
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests state their expectations by unwrapping
mod tests {
    use super::*;

    #[test]
    fn aliases_are_normalised_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for (_, aliases) in ALIASES {
            for a in *aliases {
                assert_eq!(normalise_header(a), *a, "alias {a} is not normalised");
                assert!(seen.insert(*a), "alias {a} listed twice");
            }
        }
        for (names, _) in KNOWN_IGNORED {
            for n in *names {
                assert!(seen.insert(*n), "ignored name {n} is also an alias");
            }
        }
        for f in Field::ALL {
            assert!(!f.aliases().is_empty(), "{f:?} has no alias");
            assert_eq!(Field::from_key(f.key()), Some(f));
        }
    }

    #[test]
    fn brief_examples_map() {
        let cases = [
            ("Email", Field::Email),
            ("email_address", Field::Email),
            ("User", Field::Email),
            ("user_email", Field::Email),
            ("Member", Field::Email),
            ("Lines accepted", Field::LinesAdded),
            ("total_lines_accepted", Field::LinesAdded),
            ("Lines of code accepted", Field::LinesAdded),
            ("loc_with_cc", Field::LinesAdded),
            ("Sessions", Field::Sessions),
            ("num_sessions", Field::Sessions),
            ("total_sessions", Field::Sessions),
            ("Accept rate", Field::AcceptRate),
            ("Suggestion accept rate", Field::AcceptRate),
            ("Spend (USD)", Field::CostUsd),
            ("total_net_spend_usd", Field::CostUsd),
            ("total_cost", Field::CostUsd),
            ("cost_usd", Field::CostUsd),
            ("total_prompt_tokens", Field::InputTokens),
            ("total_completion_tokens", Field::OutputTokens),
            ("Date", Field::Day),
            ("day", Field::Day),
            ("Model", Field::Model),
            ("Product", Field::Product),
        ];
        for (h, f) in cases {
            assert_eq!(Field::from_header(h), Some(f), "{h}");
        }
        assert_eq!(Field::from_header("last_active"), None);
    }
}
