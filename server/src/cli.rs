//! The `scoreboard` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides, Secrets};
use crate::report::{self, Format, ReportRequest};
use crate::store::{Store, TokenKind};
use crate::tokens;
use scoreboard_core::metrics::WindowSpec;

const SERVE_HELP: &str = "\
SETTINGS
  Settings come from the config file (--config), overridden by flags and their
  SCOREBOARD_* variables. The file is TOML; every key is optional:

    listen = \"127.0.0.1:8080\"      # where the page and the API are served
    data_dir = \"./data\"            # SQLite file: <data_dir>/scoreboard.db
    dist = \"dist\"                  # the built app (index.html for unknown paths)
    roster = \"roster.csv\"          # who should be using Claude Code (read again when it changes)
    public = false                   # true: no credential needed on a non-loopback address
    public_url = \"https://scoreboard.example.com\"  # the address engineers' machines use (telemetry snippet)
    trusted_identity_header = \"X-Forwarded-Email\" # set by your reverse proxy; grants read access
    allowed_hosts = [\"dash.internal\"]  # names (besides IPs, localhost, public_url's) an open server answers to
    otlp_listen = \"0.0.0.0:4318\"   # optional second listener for telemetry only (default: off)
    demo = false                     # the page offers the demo files
    frame_ancestors = [\"https://platform.example.com\"]  # origins that may show the page in a frame
                                     # (embeds: /?embed=summary, /?embed=trend&figure=…); default: none

    # Beside your other metrics (issue 15)
    imports_dir = \"exports\"          # usage exports / API dumps served with the live sources
    digest_schedule = \"Mon 09:00 Europe/Berlin\"  # when serve posts the weekly digest
    digest_include_non_starters = false  # the digest names who has not started

    [anthropic]
    base_url = \"https://api.anthropic.com\"
    sync_interval = \"15m\"          # durations: \"250ms\", \"30s\", \"15m\", \"2h\"
    backfill_days = 90               # history fetched on first start, counting today
    concurrency = 4                  # days fetched at the same time
    request_timeout = \"30s\"
    max_retries = 5                  # on 429 (retry-after honoured), 5xx, 529, timeouts
    retry_min_delay = \"1s\"         # exponential backoff with jitter between these
    retry_max_delay = \"60s\"
    retry_after_max = \"5m\"         # a longer retry-after fails the request instead
    breaker_threshold = 5            # consecutive failures that pause calls
    breaker_cooldown = \"2m\"        # pause before one probe call is let through
    page_limit = 1000

    [telemetry]
    identity_attribute = \"enduser.id\"  # names the person when Claude Code sends no e-mail/account

    [limits]
    max_connections = 1024           # open connections in all (fitted to the open-file limit)
    max_connections_per_ip = 256     # from one address (behind a proxy, all come from the proxy)
    header_timeout = \"10s\"          # to send a request's headers; idle keep-alive connections too
    body_timeout = \"60s\"            # to send a whole body (telemetry, snapshot uploads)
    snapshots_per_person = 100       # share snapshots one token, identity or the operator keeps
    snapshot_megabytes_per_person = 64
    snapshot_megabytes_total = 1000
    snapshot_uploads_per_minute = 20 # per person; past it 429 with Retry-After

SECRETS (environment only, never in the file, never logged or shown)
  ANTHROPIC_ADMIN_API_KEY       Admin API key (sk-ant-admin01-…): syncs the Claude Code
                                usage report, the organisation name and its users.
  ANTHROPIC_ANALYTICS_API_KEY   Enterprise Analytics API key (read:analytics): syncs
                                claude.ai seat users on Enterprise plans.
  SCOREBOARD_METRICS_TOKEN      A token a Prometheus scraper sends (Bearer) to read
                                /metrics, and nothing else.
  SCOREBOARD_DIGEST_WEBHOOK_URL Incoming webhook (Slack, Mattermost, Teams workflow)
                                the weekly digest is posted to on digest_schedule.

WHO MAY READ
  On a loopback address the page needs no credential. On any other address reading
  /api/* needs a viewer token (`scoreboard token create --viewer`) sent as
  `Authorization: Bearer <token>`, or the trusted identity header; start-up refuses
  a non-loopback address with neither unless `public = true`. Setting
  trusted_identity_header gates reads on loopback too (a reverse proxy in front makes
  a loopback listener reachable). /api/health and the page's static files are always
  open; they hold no data. Telemetry (POST /v1/*)
  always needs an ingest token (`scoreboard token create`); it is received on the main
  listener (same origin as the page) and, if set, on otlp_listen.
  Where reads need no credential, a request must name this server's host (an IP
  address, localhost, public_url's host or allowed_hosts): a page that re-points its
  own name at this machine is refused (DNS rebinding). Admin tokens (`--admin`) read
  and may delete anyone's share snapshots; viewers delete only their own.

LOGGING
  RUST_LOG (e.g. info, debug, scoreboard_server=debug) sets what is logged to stderr.";

#[derive(Debug, Parser)]
#[command(
    name = "scoreboard",
    version,
    about = "Measure your team's adoption of Claude Code.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the weekly digest (--dry-run) or post it to a chat's incoming webhook.
    #[command(after_long_help = DIGEST_HELP)]
    Digest(DigestArgs),
    /// Serve the dashboard and its API, sync Anthropic's APIs, receive telemetry.
    #[command(after_long_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Print the adoption report for exports, API reports and a roster.
    #[command(after_long_help = REPORT_HELP)]
    Report(ReportArgs),
    /// Manage ingest (telemetry) and viewer (read) tokens.
    Token(TokenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The TOML config file (see `scoreboard serve --help` for its keys).
    #[arg(long, value_name = "FILE", env = "SCOREBOARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory of the SQLite file scoreboard.db [default: ./data].
    #[arg(long, value_name = "DIR", env = "SCOREBOARD_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: ConfigArgs,
    /// Address for the page and the API [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR", env = "SCOREBOARD_LISTEN")]
    pub listen: Option<String>,
    /// The built app to serve (the directory with index.html).
    #[arg(long, value_name = "DIR", env = "SCOREBOARD_DIST")]
    pub dist: Option<PathBuf>,
    /// Roster file (CSV or a list of e-mails), merged with the Admin API's users.
    #[arg(long, value_name = "FILE", env = "SCOREBOARD_ROSTER")]
    pub roster: Option<PathBuf>,
    /// Let the page offer the demo files it ships (nothing fake is stored).
    #[arg(long, env = "SCOREBOARD_DEMO")]
    pub demo: bool,
    /// A second listener for telemetry only (OTLP/HTTP), e.g. 127.0.0.1:4318 [default: off].
    #[arg(long, value_name = "ADDR", env = "SCOREBOARD_OTLP_LISTEN")]
    pub otlp_listen: Option<String>,
    /// Base URL of Anthropic's API [default: https://api.anthropic.com].
    #[arg(long, value_name = "URL", env = "SCOREBOARD_ANTHROPIC_BASE_URL")]
    pub anthropic_base_url: Option<String>,
    /// The URL engineers' machines reach this server at (used in telemetry snippets).
    #[arg(long, value_name = "URL", env = "SCOREBOARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Origins whose pages may frame the page (embeds), comma-separated; replaces the file's list.
    #[arg(
        long,
        value_name = "ORIGINS",
        env = "SCOREBOARD_FRAME_ANCESTORS",
        value_delimiter = ','
    )]
    pub frame_ancestors: Option<Vec<String>>,
    /// A folder of usage exports (CSV) and Admin / Enterprise API JSON dumps,
    /// served with the live sources and read again when its files change.
    #[arg(long = "imports", value_name = "DIR", env = "SCOREBOARD_IMPORTS")]
    pub imports_dir: Option<PathBuf>,
}

const REPORT_HELP: &str = "\
Each file's kind is detected from its contents: a Claude Code usage export (CSV), an
Admin API Claude Code report (JSON), an Enterprise Analytics users report (JSON), or
a roster (CSV with an e-mail column, or a list of e-mails).

Exit status: 0 with a report, 2 when the input cannot give one (the reason is on stderr).
The JSON keys (window, weeks, people, non_starters, not_on_roster, problems, warnings, …)
are a stable interface: keys may be added, none renamed.";

/// The data and window flags `report` and `digest` share.
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// A roster: who should be using Claude Code.
    #[arg(long, value_name = "FILE")]
    pub roster: Option<PathBuf>,
    /// Today, for the report (UTC) [default: today].
    #[arg(long, value_name = "DATE", value_parser = report::parse_date)]
    pub as_of: Option<NaiveDate>,
    /// Complete weeks to show (plus the current partial week).
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=260))]
    pub weeks: u32,
    /// The days an export without a date column covers, e.g. 2026-11-01..2026-11-30.
    #[arg(long, value_name = "START..END", value_parser = report::parse_period)]
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// Weeks from the one containing this day (UTC) instead of the last --weeks; with --to.
    #[arg(long, value_name = "DATE", value_parser = report::parse_date, requires = "to")]
    pub from: Option<NaiveDate>,
    /// Weeks up to the one containing this day (UTC); with --from.
    #[arg(long, value_name = "DATE", value_parser = report::parse_date, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Only the people of this roster team.
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,
}

impl WindowArgs {
    pub fn as_of(&self) -> NaiveDate {
        self.as_of.unwrap_or_else(|| Utc::now().date_naive())
    }
    pub fn window(&self) -> WindowSpec {
        match (self.from, self.to) {
            (Some(from), Some(to)) => WindowSpec::Custom { from, to },
            _ => WindowSpec::LastWeeks { weeks: self.weeks },
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub data: WindowArgs,
    /// table, json (the engine's report, a stable interface), markdown
    /// (GitHub-flavoured, for a wiki or a chat) or csv (the weekly table).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Exports, API reports and rosters.
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

const DIGEST_HELP: &str = "\
The digest is the reference week's answer as a chat message: the sentence, the cards
with their changes, power users to celebrate, new starters, the teams that moved most
and, with --include-non-starters (or digest_include_non_starters = true), who has not
started. With FILES it is computed from them as `scoreboard report` does; without, from
the server's store (--data-dir / the config: synced rows, telemetry, the exports folder,
the roster).

--webhook posts {\"text\": \"…\"} (Markdown) to a Slack, Mattermost or Microsoft Teams
workflow incoming webhook, retried with backoff; the URL is a secret: prefer
SCOREBOARD_DIGEST_WEBHOOK_URL to the flag (shell history). The link to the dashboard is
--url, else public_url.

Exit status: 0 printed or posted, 2 when the input gives no digest, 1 when posting failed.";

#[derive(Debug, Clone, Args)]
pub struct DigestArgs {
    #[command(flatten)]
    pub common: ConfigArgs,
    #[command(flatten)]
    pub data: WindowArgs,
    /// Print the digest (Markdown) instead of posting it.
    #[arg(long, conflicts_with = "webhook")]
    pub dry_run: bool,
    /// The incoming webhook to post to.
    #[arg(
        long,
        value_name = "URL",
        env = "SCOREBOARD_DIGEST_WEBHOOK_URL",
        hide_env_values = true
    )]
    pub webhook: Option<String>,
    /// Name the people who have not started yet.
    #[arg(long)]
    pub include_non_starters: bool,
    /// The dashboard's address for the link [default: public_url].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Exports, API reports and rosters [default: the server's store].
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub common: ConfigArgs,
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TokenCommand {
    /// Create a token. Ingest (default): sends telemetry; prints the settings to install.
    Create {
        /// Who or what the token is for (a team, a machine pool, a person).
        #[arg(long)]
        name: String,
        /// A viewer token: may read the dashboard API and manage its own share snapshots.
        #[arg(long, conflicts_with = "admin")]
        viewer: bool,
        /// An admin token: a viewer that may also delete anyone's share snapshots.
        #[arg(long)]
        admin: bool,
        /// The server URL to put in the telemetry snippet [default: public_url, else the
        /// address the server using this database serves (or last served) at, else the listen address].
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
    },
    /// Send one harmless telemetry request as Claude Code would and say what the server answered.
    ///
    /// The request is an empty metrics export to <endpoint>/v1/metrics with the token as
    /// `Authorization: Bearer`: it stores nothing. Run it on an engineer's machine with the
    /// endpoint from their settings. Exit status 0 when the token works there, 1 otherwise.
    Check {
        /// The address in the settings (OTEL_EXPORTER_OTLP_ENDPOINT) [default: as `create` chooses it].
        #[arg(long, value_name = "URL", conflicts_with = "settings")]
        endpoint: Option<String>,
        /// Take the endpoint and token from a Claude Code settings file (managed-settings.json,
        /// ~/.claude/settings.json), as Claude Code reads it.
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// The ingest token; `-` or nothing reads it from standard input (keeps it out of shell history).
        token: Option<String>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token at once.
    Revoke { id: i64 },
    /// Replace a token by a new one of the same kind and name, revoking the old.
    Rotate {
        id: i64,
        /// As for `create`.
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
    },
}

fn serve_config(args: &ServeArgs) -> Result<Config, crate::config::ConfigError> {
    let overrides = Overrides {
        listen: args.listen.clone(),
        data_dir: args.common.data_dir.clone(),
        dist: args.dist.clone(),
        roster: args.roster.clone(),
        otlp_listen: args.otlp_listen.clone(),
        base_url: args.anthropic_base_url.clone(),
        demo: args.demo,
        public_url: args.public_url.clone(),
        frame_ancestors: args.frame_ancestors.clone(),
        imports_dir: args.imports_dir.clone(),
    };
    Config::load(
        args.common.config.as_deref(),
        &overrides,
        Secrets::from_env(),
    )
}

fn common_config(args: &ConfigArgs) -> Result<Config, crate::config::ConfigError> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..Overrides::default()
    };
    // Token commands never talk to Anthropic: no secrets needed.
    Config::load(args.config.as_deref(), &overrides, Secrets::default())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the command line; the exit code follows each command's contract.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_logging();
            let cfg = match serve_config(&args) {
                Ok(c) => c,
                Err(e) => return fail(&e.to_string(), 2),
            };
            // Few blocking threads: each keeps the memory its largest job
            // freed (glibc's per-thread arenas), and SQLite, decoding and
            // decompressing gain nothing from more threads than cores.
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .max_blocking_threads(BLOCKING_THREADS)
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return fail(&format!("cannot start the runtime: {e}"), 1),
            };
            let result =
                rt.block_on(async move { crate::serve::start(cfg).await?.until_signal().await });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string(), 1),
            }
        }
        Command::Report(args) => {
            let req = ReportRequest {
                roster: args.data.roster.clone(),
                as_of: args.data.as_of(),
                window: args.data.window(),
                team: args.data.team.clone(),
                period: args.data.period,
                format: args.format,
                files: args.files,
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match report::run(&req, &mut out) {
                Ok(_) => ExitCode::SUCCESS,
                Err(report::ReportError::Write(e))
                    if e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string(), 2),
            }
        }
        Command::Digest(args) => {
            init_logging();
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match digest_command(&args, &mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err((code, e)) => fail(&e, code),
            }
        }
        Command::Token(args) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match token_command(&args, &mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e, 1),
            }
        }
    }
}

/// `scoreboard digest`: the report from FILES (as `report`) or from the
/// server's store, its digest printed or posted. Errors: (exit code, message).
pub fn digest_command(args: &DigestArgs, out: &mut dyn Write) -> Result<(), (u8, String)> {
    let overrides = Overrides {
        data_dir: args.common.data_dir.clone(),
        ..Overrides::default()
    };
    let cfg = Config::load(
        args.common.config.as_deref(),
        &overrides,
        Secrets::from_env(),
    )
    .map_err(|e| (2, e.to_string()))?;
    let d = &args.data;
    let (as_of, window) = (d.as_of(), d.window());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| (1, format!("cannot start the runtime: {e}")))?;
    let report = if args.files.is_empty() {
        if d.roster.is_some() || d.period.is_some() {
            return Err((2, "--roster and --period go with FILES; without FILES the digest reads the server's store and its roster".into()));
        }
        let opts = scoreboard_core::metrics::ReportOptions {
            as_of,
            window,
            team: d.team.clone(),
        };
        rt.block_on(crate::serve::store_report(&cfg, opts))
            .map_err(|e| (2, e))?
    } else {
        let req = ReportRequest {
            roster: d.roster.clone(),
            as_of,
            window,
            team: d.team.clone(),
            period: d.period,
            format: Format::Json,
            files: args.files.clone(),
        };
        report::build(&req).map_err(|e| (2, e.to_string()))?
    };
    let link = args.url.clone().or_else(|| cfg.public_url.clone());
    let include = args.include_non_starters || cfg.feeds.digest_include_non_starters;
    let text = crate::digest::message(&report, include, link.as_deref()).map_err(|e| (2, e))?;
    let webhook = args
        .webhook
        .clone()
        .and_then(crate::config::Secret::new)
        .filter(|_| !args.dry_run);
    match webhook {
        None if args.dry_run => out
            .write_all(text.as_bytes())
            .map_err(|e| (1, e.to_string())),
        None => Err((2, "give --dry-run to print the digest, or --webhook URL (or SCOREBOARD_DIGEST_WEBHOOK_URL) to post it".into())),
        Some(url) => {
            let mut secrets = cfg.secrets.clone();
            secrets.digest_webhook_url = Some(url.clone());
            rt.block_on(crate::digest::post(&url, &text, &cfg.anthropic, &secrets))
                .map_err(|e| (1, format!("the digest was not posted: {e}")))?;
            writeln!(out, "Posted the digest of the week of {}.", report.kpis.as_ref().map(|k| k.week.week.to_string()).unwrap_or_default())
                .map_err(|e| (1, e.to_string()))
        }
    }
}

/// Threads of `serve` for blocking work (SQLite, decoding, gzip).
const BLOCKING_THREADS: usize = 8;

fn fail(message: &str, code: u8) -> ExitCode {
    eprintln!("scoreboard: {message}");
    ExitCode::from(code)
}

/// One check request, on a runtime of its own (the token commands are synchronous).
fn send_check(url: &str, token: &str) -> Result<crate::check::Report, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    Ok(rt.block_on(crate::check::run(url, token)))
}

/// `token check --settings FILE`: the endpoint and token a settings file gives Claude Code.
fn settings_check(
    path: &std::path::Path,
    token: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let s = crate::check::from_settings(&name, &bytes)?;
    let token = token
        .filter(|t| *t != "-")
        .map_or(s.token.clone(), str::to_string);
    let report = send_check(&s.endpoint, &token)?;
    let mut text = format!("Settings {name}: endpoint {}.\n", s.endpoint);
    for p in &s.problems {
        text.push_str(&format!("PROBLEM (settings): {p}.\n"));
    }
    text.push_str(&report.text());
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    match report.verdict {
        crate::check::Verdict::Ok if s.problems.is_empty() => Ok(()),
        _ => Err("the token check failed (see above)".into()),
    }
}

/// `token check`: the endpoint as `create` would choose it (reading the
/// store only if it exists: on an engineer's machine there is none), then
/// one request. Fails (exit 1) unless the token works there.
fn token_check(
    cfg: &Config,
    endpoint: Option<&str>,
    token: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), String> {
    let token = match token {
        Some(t) if t != "-" => t.trim().to_string(),
        _ => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
            line.trim().to_string()
        }
    };
    if token.is_empty() {
        return Err("no token given: pass it as an argument or on standard input".into());
    }
    let recorded = if endpoint.is_none() && cfg.db_path().is_file() {
        Store::open(&cfg.db_path())
            .and_then(|s| s.serving())
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    let ep = crate::endpoint::choose(endpoint, cfg, recorded.as_ref(), &crate::endpoint::answers)?;
    let report = send_check(&ep.url, &token)?;
    let mut text = String::new();
    if ep.chosen_by != crate::endpoint::ChosenBy::Flag {
        text.push_str(&format!("Endpoint {} ({}).\n", ep.url, ep.why));
    }
    text.push_str(&report.text());
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    match report.verdict {
        crate::check::Verdict::Ok => Ok(()),
        _ => Err("the token check failed (see above)".into()),
    }
}

/// The `token` subcommands, writing to `out`.
pub fn token_command(args: &TokenArgs, out: &mut dyn Write) -> Result<(), String> {
    let cfg = common_config(&args.common).map_err(|e| e.to_string())?;
    if let TokenCommand::Check {
        endpoint,
        settings,
        token,
    } = &args.command
    {
        if let Some(path) = settings {
            return settings_check(path, token.as_deref(), out);
        }
        return token_check(&cfg, endpoint.as_deref(), token.as_deref(), out);
    }
    let store = Store::open(&cfg.db_path()).map_err(|e| e.to_string())?;
    let now = Utc::now();
    let endpoint_for = |given: &Option<String>| -> Result<crate::endpoint::Endpoint, String> {
        let recorded = store.serving().map_err(|e| e.to_string())?;
        crate::endpoint::choose(
            given.as_deref(),
            &cfg,
            recorded.as_ref(),
            &crate::endpoint::answers,
        )
    };
    let write =
        |out: &mut dyn Write, text: &str| out.write_all(text.as_bytes()).map_err(|e| e.to_string());
    match &args.command {
        TokenCommand::Create {
            name,
            viewer,
            admin,
            endpoint,
        } => {
            let kind = match (*viewer, *admin) {
                (_, true) => TokenKind::Admin,
                (true, false) => TokenKind::Viewer,
                (false, false) => TokenKind::Ingest,
            };
            // Chosen before the token exists: a bad --endpoint creates nothing.
            let ep = match kind {
                TokenKind::Ingest => Some(endpoint_for(endpoint)?),
                _ => None,
            };
            let new = tokens::create(&store, kind, name, now).map_err(|e| e.to_string())?;
            let text = match &ep {
                Some(ep) => tokens::ingest_instructions(ep, &new),
                None => tokens::viewer_instructions(&new),
            };
            write(out, &text)
        }
        TokenCommand::Rotate { id, endpoint } => {
            let ingest = store
                .token(*id)
                .map_err(|e| e.to_string())?
                .is_some_and(|t| t.kind == TokenKind::Ingest);
            let ep = if ingest {
                Some(endpoint_for(endpoint)?)
            } else {
                None
            };
            let new = tokens::rotate(&store, *id, now).map_err(|e| e.to_string())?;
            let text = match &ep {
                Some(ep) if new.record.kind == TokenKind::Ingest => {
                    tokens::ingest_instructions(ep, &new)
                }
                _ => tokens::viewer_instructions(&new),
            };
            write(
                out,
                &format!("Token #{id} is revoked; this one replaces it.\n\n{text}"),
            )
        }
        TokenCommand::Revoke { id } => {
            let t = tokens::revoke(&store, *id, now).map_err(|e| e.to_string())?;
            write(
                out,
                &format!(
                    "Revoked {} token #{} \"{}\".\n",
                    t.kind.as_str(),
                    t.id,
                    t.name
                ),
            )
        }
        TokenCommand::Check { .. } => Ok(()), // answered above, without opening the store
        TokenCommand::List => {
            let list = store.tokens().map_err(|e| e.to_string())?;
            if list.is_empty() {
                return write(out, "No tokens yet. Create one with `scoreboard token create --name NAME` (telemetry) or `--viewer` (reading).\n");
            }
            let mut t = comfy_table::Table::new();
            t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_header(vec![
                    "ID",
                    "Kind",
                    "Name",
                    "Token starts",
                    "Created",
                    "Revoked",
                ]);
            for r in list {
                t.add_row(vec![
                    r.id.to_string(),
                    r.kind.as_str().to_string(),
                    r.name,
                    r.hint,
                    r.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    r.revoked_at
                        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default(),
                ]);
            }
            write(out, &format!("{t}\n"))
        }
    }
}
