//! Start the real server and a headless Chromium, drive the page, always clean up.
//!
//! ```no_run
//! use scoreboard_e2e::harness::{App, Result};
//!
//! # async fn example() -> Result<()> {
//! // `None`: SCOREBOARD_BIN and SCOREBOARD_DIST are unset; a loud SKIPPED note was printed.
//! let Some(app) = App::start().await? else { return Ok(()) };
//! app.run(async |app| {
//!     app.open("/").await?;
//!     assert_eq!(app.text("h1").await?, "Scoreboard");
//!     Ok(())
//! })
//! .await
//! # }
//! ```
//!
//! Every process the harness starts belongs to a guard that kills it on drop, also
//! when a test panics. chromedriver runs in its own process group and the whole
//! group is killed, so the Chromium it launched goes with it. Closing the WebDriver
//! session is async and cannot happen in `Drop`: [`App::run`] (or [`App::close`])
//! does it, and on failure first saves a screenshot to `tests/artifacts/` and
//! prints the browser console and the server log.
//!
//! Environment:
//! - `SCOREBOARD_BIN`: the `scoreboard` binary to test (`make test`: target/release/scoreboard).
//! - `SCOREBOARD_DIST`: the site Trunk built (`make test`: dist/).
//! - `CHROMEDRIVER`, `CHROMIUM`: override /usr/bin/chromedriver and /usr/bin/chromium.
//! - `SCOREBOARD_ARTIFACTS`: where screenshots go (default tests/artifacts/).
//!
//! [`AppBuilder::static_copy`] serves `dist/` as a plain static host instead of the
//! server (no API, 404 for what is not a file). [`App::set_viewport`] and
//! [`App::set_color_scheme`] emulate a screen size and light or dark mode through
//! chromedriver's DevTools endpoint.

use std::{
    ffi::OsString,
    fmt, fs,
    io::Write as _,
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    os::unix::process::CommandExt as _,
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{
    elements::Element,
    error::{CmdError, NewSessionError},
    wd::WebDriverCompatibleCommand,
    Client, ClientBuilder, Locator,
};
use futures_util::FutureExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;

/// The `scoreboard` binary under test.
pub const BIN_VAR: &str = "SCOREBOARD_BIN";
/// The directory Trunk built the site into.
pub const DIST_VAR: &str = "SCOREBOARD_DIST";
/// Overrides `/usr/bin/chromedriver` (the same variable wasm-bindgen-test-runner reads).
pub const CHROMEDRIVER_VAR: &str = "CHROMEDRIVER";
/// Overrides `/usr/bin/chromium`.
pub const CHROMIUM_VAR: &str = "CHROMIUM";
/// Overrides `tests/artifacts/`, where screenshots are written.
pub const ARTIFACTS_VAR: &str = "SCOREBOARD_ARTIFACTS";

/// How long [`App::find`] and [`App::text`] wait for an element. Generous: tests share
/// two cores with cargo builds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a started process may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of a process log shown in an error.
const LOG_TAIL_LINES: usize = 40;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, phrased so that the fix is obvious from the message.
#[derive(thiserror::Error)]
pub enum Error {
    #[error("{set} is set but {unset} is not: set both (`make test` does) or neither (the browser tests are then skipped)")]
    HalfConfigured {
        set: &'static str,
        unset: &'static str,
    },
    #[error("{var}={}: {problem}", path.display())]
    BadPath {
        var: &'static str,
        path: PathBuf,
        problem: &'static str,
    },
    #[error("could not start {what} ({}): {source}", program.display())]
    Spawn {
        what: &'static str,
        program: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{what} exited ({status}) before it accepted connections on {addr}; its output:\n{log}"
    )]
    Exited {
        what: &'static str,
        status: String,
        addr: SocketAddr,
        log: String,
    },
    #[error("{what} did not accept connections on {addr} within {waited:?}; its output:\n{log}")]
    NotListening {
        what: &'static str,
        addr: SocketAddr,
        waited: Duration,
        log: String,
    },
    #[error("could not open a WebDriver session with {}: {source}; chromedriver's output:\n{log}", chromium.display())]
    Session {
        chromium: PathBuf,
        source: Box<NewSessionError>,
        log: String,
    },
    #[error("timed out after {waited:?} waiting for an element matching `{selector}` on {url}")]
    Timeout {
        selector: String,
        waited: Duration,
        url: String,
    },
    #[error("WebDriver command failed ({action}): {source}")]
    WebDriver {
        action: String,
        source: Box<CmdError>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A check in a test body that is better reported than panicked on.
    #[error("{0}")]
    Failed(String),
    #[error("timed out after {waited:?} waiting for {what} on {url}; last seen: {last}")]
    ConditionTimeout {
        what: String,
        waited: Duration,
        url: String,
        last: String,
    },
}

/// A check in a test body that failed, as the harness's error.
pub fn failed(message: impl Into<String>) -> Error {
    Error::Failed(message.into())
}

/// A file of the generated demo data (`public/demo`).
pub fn demo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../public/demo")
        .join(name)
}

/// A test returning `Err` is reported with `Debug`: show the message, not the struct.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn webdriver(action: impl Into<String>) -> impl FnOnce(CmdError) -> Error {
    let action = action.into();
    move |source| Error::WebDriver {
        action,
        source: Box::new(source),
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Paths the harness needs, from the environment.
#[derive(Debug, Clone)]
struct Env {
    bin: PathBuf,
    dist: PathBuf,
    chromedriver: PathBuf,
    chromium: PathBuf,
    artifacts: PathBuf,
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Env {
    /// `None` when neither SCOREBOARD_BIN nor SCOREBOARD_DIST is set: the caller skips.
    fn from_env() -> Result<Option<Self>> {
        let (bin, dist) = match (env_path(BIN_VAR), env_path(DIST_VAR)) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(Error::HalfConfigured {
                    set: BIN_VAR,
                    unset: DIST_VAR,
                })
            }
            (None, Some(_)) => {
                return Err(Error::HalfConfigured {
                    set: DIST_VAR,
                    unset: BIN_VAR,
                })
            }
            (Some(bin), Some(dist)) => (bin, dist),
        };
        let check = |var, path: PathBuf, ok: bool, problem| {
            if ok {
                Ok(path)
            } else {
                Err(Error::BadPath { var, path, problem })
            }
        };
        let bin = check(
            BIN_VAR,
            bin.clone(),
            bin.is_file(),
            "no such file; `make build` builds target/release/scoreboard",
        )?;
        let dist = check(
            DIST_VAR,
            dist.clone(),
            dist.join("index.html").is_file(),
            "no index.html in it; `make build` builds the site into dist/",
        )?;
        let chromedriver =
            env_path(CHROMEDRIVER_VAR).unwrap_or_else(|| "/usr/bin/chromedriver".into());
        let chromedriver = check(
            CHROMEDRIVER_VAR,
            chromedriver.clone(),
            chromedriver.is_file(),
            "chromedriver not found; `make setup` installs it (apt chromium-driver)",
        )?;
        let chromium = env_path(CHROMIUM_VAR).unwrap_or_else(|| "/usr/bin/chromium".into());
        let chromium = check(
            CHROMIUM_VAR,
            chromium.clone(),
            chromium.is_file(),
            "chromium not found; `make setup` installs it (apt chromium)",
        )?;
        let artifacts = env_path(ARTIFACTS_VAR)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts"));
        Ok(Some(Self {
            bin,
            dist,
            chromedriver,
            chromium,
            artifacts,
        }))
    }
}

/// Counts the entries named `arguments[0]` in the app's `window.__scoreboard_marks`.
const MARK_COUNT_JS: &str = "const marks = window.__scoreboard_marks || []; \
     return marks.filter((m) => m.name === arguments[0]).length;";

/// The first line of a script, for error messages.
fn first_line(script: &str) -> &str {
    script.trim().lines().next().unwrap_or_default()
}

/// The running test's name (libtest names each test's thread after it), for file names.
fn test_name() -> String {
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed-test")
        .to_owned();
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Straight to the process's stderr, past libtest's output capture, so that a skip is
/// seen even when the test "passes".
fn shout(message: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "\n{message}\n");
}

fn free_port() -> Result<SocketAddr> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_error(Path::new("127.0.0.1:0")))?;
    listener
        .local_addr()
        .map_err(io_error(Path::new("127.0.0.1:0")))
}

fn listening(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A child process in its own process group, with its output in a log file; the whole
/// group is killed when this is dropped.
struct Process {
    what: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(what: &'static str, command: &mut Command, log: PathBuf) -> Result<Self> {
        let out = fs::File::create(&log).map_err(io_error(&log))?;
        let err = out.try_clone().map_err(io_error(&log))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn {
                what,
                program: PathBuf::from(command.get_program()),
                source,
            })?;
        Ok(Self { what, child, log })
    }

    /// The last lines the process wrote.
    fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        if tail.is_empty() {
            "(no output)".to_owned()
        } else {
            tail
        }
    }

    /// Waits until `addr` accepts connections. `Ok(false)`: the process exited while
    /// something else holds the port (another test took it first), so retry on a new one.
    async fn wait_listening(&mut self, addr: SocketAddr) -> Result<bool> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                if listening(addr) {
                    return Ok(false);
                }
                return Err(Error::Exited {
                    what: self.what,
                    status: status.to_string(),
                    addr,
                    log: self.log_tail(),
                });
            }
            if listening(addr) {
                return Ok(true);
            }
            if start.elapsed() > STARTUP_TIMEOUT {
                return Err(Error::NotListening {
                    what: self.what,
                    addr,
                    waited: STARTUP_TIMEOUT,
                    log: self.log_tail(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `make_command(addr)` on a free port and waits until it listens.
    async fn start_listening(
        what: &'static str,
        log: PathBuf,
        mut make_command: impl FnMut(SocketAddr) -> Command,
    ) -> Result<(Self, SocketAddr)> {
        const ATTEMPTS: usize = 3;
        for attempt in 1.. {
            let addr = free_port()?;
            let mut process = Self::spawn(what, &mut make_command(addr), log.clone())?;
            if process.wait_listening(addr).await? || attempt == ATTEMPTS {
                return Ok((process, addr));
            }
        }
        unreachable!("the loop returns on its last attempt")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // process_group(0) made the child the leader of a group whose id is its pid.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One line of the browser console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// Chromium's level: `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    pub message: String,
}

impl fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.level, self.message)
    }
}

/// A chromedriver command outside W3C WebDriver: `POST session/<id>/<path>` with `body`.
#[derive(Debug)]
struct Chromedriver {
    path: &'static str,
    body: Value,
}

impl Chromedriver {
    /// The browser console, enabled by the `goog:loggingPrefs` capability. Each call
    /// returns the entries since the last one.
    fn browser_log() -> Self {
        Self {
            path: "se/log",
            body: json!({ "type": "browser" }),
        }
    }

    /// The performance log (DevTools events), enabled by [`AppBuilder::network_log`].
    fn performance_log() -> Self {
        Self {
            path: "se/log",
            body: json!({ "type": "performance" }),
        }
    }

    /// A DevTools command in the current tab.
    fn cdp(cmd: &str, params: Value) -> Self {
        Self {
            path: "goog/cdp/execute",
            body: json!({ "cmd": cmd, "params": params }),
        }
    }
}

impl WebDriverCompatibleCommand for Chromedriver {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

/// What serves the page: the real server, or a static copy of `dist/`.
enum Server {
    Process(Process),
    /// Held for its `Drop`, which stops serving.
    Static {
        _site: StaticSite,
    },
}

/// `dist/` served as plain files, the way any static host serves a copy of the site:
/// files by path, `index.html` for a directory, 404 for everything else.
struct StaticSite {
    task: tokio::task::JoinHandle<()>,
}

impl StaticSite {
    async fn start(dist: &Path) -> Result<(Self, SocketAddr)> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(io_error(Path::new("127.0.0.1:0")))?;
        let addr = listener
            .local_addr()
            .map_err(io_error(Path::new("127.0.0.1:0")))?;
        let site = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dist));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, site).await;
        });
        Ok((Self { task }, addr))
    }
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request the browser sent, from its DevTools network events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRequest {
    pub method: String,
    pub url: String,
    /// The page the request was made for (Chromium's `documentURL`); the browser's
    /// own pages (its new-tab page at start-up) have `chrome://` ones.
    pub document: String,
    /// True when the request has a body (Chromium's `hasPostData`).
    pub has_body: bool,
    /// The body, when Chromium reports it (small bodies only).
    pub body: Option<String>,
}

impl fmt::Display for NetworkRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (for {})", self.method, self.url, self.document)?;
        if self.has_body {
            write!(
                f,
                " (with a body of {} bytes)",
                self.body.as_ref().map_or(0, String::len)
            )?;
        }
        Ok(())
    }
}

/// Options for the server [`App`] starts.
#[derive(Debug, Default, Clone)]
#[must_use]
pub struct AppBuilder {
    demo: bool,
    static_copy: bool,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    network_log: bool,
}

impl AppBuilder {
    /// Passes `--demo` to `scoreboard serve`.
    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// Serves `dist/` as plain files on 127.0.0.1 (tower-http's `ServeDir`, a 404 for
    /// anything else) instead of starting `scoreboard serve`: a static copy of the site.
    pub fn static_copy(mut self) -> Self {
        self.static_copy = true;
        self
    }

    /// Passes one more argument to `scoreboard serve` (after the harness's own).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the server. The server inherits no
    /// `SCOREBOARD_*` or `ANTHROPIC_*` variable from the test's environment (`make test`
    /// itself sets SCOREBOARD_DIST, and a developer's real Admin API key must never reach
    /// a test), so a test passes the ones it means explicitly.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Records every network request the browser makes (Chromium's DevTools network
    /// events, through chromedriver's performance log), for [`App::network_requests`].
    pub fn network_log(mut self) -> Self {
        self.network_log = true;
        self
    }

    /// Starts the server, chromedriver and a Chromium session.
    ///
    /// `Ok(None)` when SCOREBOARD_BIN and SCOREBOARD_DIST are both unset: the test should
    /// return at once; a loud SKIPPED note has been printed. `make test` always sets them.
    pub async fn start(self) -> Result<Option<App>> {
        let Some(env) = Env::from_env()? else {
            shout(&format!(
                "*** SKIPPED browser test `{}`: {BIN_VAR} and {DIST_VAR} are not set, so it did NOT run.\n\
                 *** `make test` builds the site and the server and sets both.",
                test_name()
            ));
            return Ok(None);
        };
        App::launch(env, self).await.map(Some)
    }
}

/// The real server on 127.0.0.1 with a fresh data directory, and a headless Chromium
/// session pointed at it.
pub struct App {
    // Fields drop in this order: the session handle, then chromedriver and its Chromium,
    // then the server, then the temporary directories.
    client: Option<Client>,
    driver: Process,
    server: Server,
    base_url: String,
    artifacts: PathBuf,
    _profile: TempDir,
    data_dir: TempDir,
    _logs: TempDir,
}

impl App {
    /// [`AppBuilder::start`] with the defaults: no `--demo`, an empty data directory.
    pub async fn start() -> Result<Option<App>> {
        AppBuilder::default().start().await
    }

    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    async fn launch(env: Env, options: AppBuilder) -> Result<App> {
        let tmp = |prefix| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .map_err(io_error(Path::new("temporary directory")))
        };
        let logs = tmp("scoreboard-e2e-logs-")?;
        let data_dir = tmp("scoreboard-e2e-data-")?;
        let profile = tmp("scoreboard-e2e-chromium-")?;

        let (server, server_addr) = if options.static_copy {
            let (site, addr) = StaticSite::start(&env.dist).await?;
            (Server::Static { _site: site }, addr)
        } else {
            let (process, addr) = Process::start_listening(
                "scoreboard serve",
                logs.path().join("server.log"),
                |addr| {
                    let mut command = Command::new(&env.bin);
                    command
                        .arg("serve")
                        .arg("--listen")
                        .arg(addr.to_string())
                        .arg("--dist")
                        .arg(&env.dist)
                        .arg("--data-dir")
                        .arg(data_dir.path());
                    if options.demo {
                        command.arg("--demo");
                    }
                    command.args(&options.args);
                    for (key, _) in std::env::vars_os() {
                        let name = key.to_string_lossy();
                        if name.starts_with("SCOREBOARD_") || name.starts_with("ANTHROPIC_") {
                            command.env_remove(&key);
                        }
                    }
                    command.envs(options.envs.iter().map(|(k, v)| (k, v)));
                    command
                },
            )
            .await?;
            (Server::Process(process), addr)
        };

        let (driver, driver_addr) = Process::start_listening(
            "chromedriver",
            logs.path().join("chromedriver.log"),
            |addr| {
                let mut command = Command::new(&env.chromedriver);
                command.arg(format!("--port={}", addr.port()));
                command
            },
        )
        .await?;

        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            "--window-size=1280,900".to_owned(),
            // Containers often give /dev/shm only 64 MB, where Chromium's renderer crashes.
            "--disable-dev-shm-usage".to_owned(),
        ];
        let logging = if options.network_log {
            json!({ "browser": "ALL", "performance": "ALL" })
        } else {
            json!({ "browser": "ALL" })
        };
        let mut chrome_options = json!({ "binary": env.chromium, "args": args });
        if options.network_log {
            chrome_options["perfLoggingPrefs"] =
                json!({ "enableNetwork": true, "enablePage": false });
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": chrome_options,
            "goog:loggingPrefs": logging,
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("json! of an object literal is an object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://{driver_addr}"))
            .await
            .map_err(|source| Error::Session {
                chromium: env.chromium.clone(),
                source: Box::new(source),
                log: driver.log_tail(),
            })?;

        Ok(App {
            client: Some(client),
            driver,
            server,
            base_url: format!("http://{server_addr}"),
            artifacts: env.artifacts,
            _profile: profile,
            data_dir,
            _logs: logs,
        })
    }

    /// The fantoccini client, for anything the helpers do not cover.
    pub fn client(&self) -> &Client {
        match &self.client {
            Some(client) => client,
            None => unreachable!("the client is only taken by close(), which consumes the App"),
        }
    }

    /// `http://127.0.0.1:<port>`, where the server listens.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `path` (starting with `/`) on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The server's data directory (fresh and empty at start, removed afterwards).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The last lines the server printed.
    pub fn server_log(&self) -> String {
        match &self.server {
            Server::Process(p) => p.log_tail(),
            Server::Static { .. } => "(a static copy of dist/: no server log)".to_owned(),
        }
    }

    /// Runs the DevTools command `cmd` with `params` in the page's tab (chromedriver's
    /// `goog/cdp/execute`) and returns its result.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        self.client()
            .issue_cmd(Chromedriver::cdp(cmd, params))
            .await
            .map_err(webdriver(format!("run the DevTools command {cmd}")))
    }

    /// Makes the page's viewport exactly `width` × `height` CSS pixels (a phone when
    /// `mobile`: the viewport meta tag applies), until the session ends.
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) -> Result<()> {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await
        .map(drop)
    }

    /// With the viewport emulated at `width` × `height` ([`App::set_viewport`]), saves a
    /// PNG of the whole page at that width as `tests/artifacts/<name>.png`: the viewport
    /// is made as tall as the page (at most 12,000 px) for the shot, then put back.
    pub async fn screenshot_whole_page(
        &self,
        name: &str,
        (width, height): (u32, u32),
        mobile: bool,
    ) -> Result<PathBuf> {
        let page = self
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight);",
                Vec::new(),
            )
            .await?;
        let tall = page
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(height)
            .clamp(height, 12_000);
        self.set_viewport(width, tall, mobile).await?;
        let shot = self.screenshot(name).await;
        self.set_viewport(width, height, mobile).await?;
        shot
    }

    /// Emulates `prefers-color-scheme: dark` (or light) for the page.
    pub async fn set_color_scheme(&self, dark: bool) -> Result<()> {
        let value = if dark { "dark" } else { "light" };
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        )
        .await
        .map(drop)
    }

    /// Loads `path` (starting with `/`) from the server.
    pub async fn open(&self, path: &str) -> Result<()> {
        let url = self.url(path);
        self.client()
            .goto(&url)
            .await
            .map_err(webdriver(format!("open {url}")))
    }

    /// Loads `url`, on any origin (another site that frames the page).
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client()
            .goto(url)
            .await
            .map_err(webdriver(format!("open {url}")))
    }

    /// Makes the `index`-th frame of the current document the one every
    /// later command acts in (WebDriver's "switch to frame").
    pub async fn enter_frame(&self, index: u16) -> Result<()> {
        self.client()
            .enter_frame(index)
            .await
            .map_err(webdriver(format!("switch to frame {index}")))
    }

    /// Back to the document that holds the current frame.
    pub async fn leave_frame(&self) -> Result<()> {
        self.client()
            .enter_parent_frame()
            .await
            .map_err(webdriver("switch to the parent frame"))
    }

    /// Waits up to `timeout` for an element matching the CSS `selector`.
    pub async fn wait_for(&self, selector: &str, timeout: Duration) -> Result<Element> {
        let found = self
            .client()
            .wait()
            .at_most(timeout)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(selector))
            .await;
        match found {
            Ok(element) => Ok(element),
            Err(CmdError::WaitTimeout) => Err(Error::Timeout {
                selector: selector.to_owned(),
                waited: timeout,
                url: match self.client().current_url().await {
                    Ok(url) => url.to_string(),
                    Err(_) => "(unknown page)".to_owned(),
                },
            }),
            Err(other) => Err(webdriver(format!("find `{selector}`"))(other)),
        }
    }

    /// Waits up to [`DEFAULT_TIMEOUT`] for an element matching the CSS `selector`.
    pub async fn find(&self, selector: &str) -> Result<Element> {
        self.wait_for(selector, DEFAULT_TIMEOUT).await
    }

    /// The rendered text of the first element matching `selector`, once it exists.
    pub async fn text(&self, selector: &str) -> Result<String> {
        self.find(selector)
            .await?
            .text()
            .await
            .map_err(webdriver(format!("read the text of `{selector}`")))
    }

    /// Puts `files` into the `<input type=file>` matching `selector`, as if the user had
    /// picked them (the input gets a `change` event). Relative paths are resolved against
    /// the current directory (the e2e crate's directory under `cargo test`).
    pub async fn upload(&self, selector: &str, files: &[impl AsRef<Path>]) -> Result<()> {
        let mut paths = Vec::with_capacity(files.len());
        for file in files {
            let file = file.as_ref();
            let absolute = file.canonicalize().map_err(io_error(file))?;
            paths.push(absolute.display().to_string());
        }
        // chromedriver takes several files as one string, one absolute path per line.
        self.find(selector)
            .await?
            .send_keys(&paths.join("\n"))
            .await
            .map_err(webdriver(format!(
                "upload {} file(s) into `{selector}`",
                paths.len()
            )))
    }

    /// Saves a PNG of the page as `tests/artifacts/<name>.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let png = self
            .client()
            .screenshot()
            .await
            .map_err(webdriver("take a screenshot"))?;
        fs::create_dir_all(&self.artifacts).map_err(io_error(&self.artifacts))?;
        let path = self.artifacts.join(format!("{name}.png"));
        fs::write(&path, png).map_err(io_error(&path))?;
        Ok(path)
    }

    /// The browser console entries logged since the previous call.
    pub async fn console(&self) -> Result<Vec<ConsoleEntry>> {
        let value = self
            .client()
            .issue_cmd(Chromedriver::browser_log())
            .await
            .map_err(webdriver("read the browser console"))?;
        let entries = value.as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(entries
            .iter()
            .map(|entry| ConsoleEntry {
                level: entry["level"].as_str().unwrap_or("?").to_owned(),
                message: entry["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    /// The `SEVERE` console entries since the previous [`App::console`] call: uncaught
    /// exceptions, Rust panics (console_error_panic_hook), failed requests. Leaves out a
    /// failed `/favicon.ico`: the browser asks for it by itself, the page never does.
    pub async fn console_errors(&self) -> Result<Vec<ConsoleEntry>> {
        let mut entries = self.console().await?;
        entries.retain(|entry| {
            entry.level == "SEVERE"
                && !entry
                    .message
                    .contains("/favicon.ico - Failed to load resource")
        });
        Ok(entries)
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page and
    /// returns what it returns, as JSON.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client()
            .execute(script, args)
            .await
            .map_err(webdriver(format!(
                "run a script in the page: {}",
                first_line(script)
            )))
    }

    /// Runs `script` in the page; it finishes by calling its last argument (the
    /// callback WebDriver appends to `args`) with the result.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client()
            .execute_async(script, args)
            .await
            .map_err(webdriver(format!(
                "run an async script in the page: {}",
                first_line(script)
            )))
    }

    /// Calls `check` every 100 ms until it gives `Ok(value)`, for at most `timeout`.
    /// `Err(reason)` means "not yet": the last reason is in the timeout error, so a
    /// condition that never holds says what was seen instead.
    pub async fn eventually<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl AsyncFnMut(&App) -> Result<Result<T, String>>,
    ) -> Result<T> {
        let start = Instant::now();
        loop {
            let last = match check(self).await? {
                Ok(value) => return Ok(value),
                Err(reason) => reason,
            };
            if start.elapsed() > timeout {
                return Err(Error::ConditionTimeout {
                    what: what.to_owned(),
                    waited: timeout,
                    url: self.current_url().await,
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the JavaScript expression `condition` is truthy in the page and
    /// returns its value.
    pub async fn wait_for_js(&self, condition: &str, timeout: Duration) -> Result<Value> {
        let script = format!("return ({condition});");
        self.eventually(&format!("`{condition}`"), timeout, async |app| {
            let value = app.execute(&script, Vec::new()).await?;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(_) | Value::Object(_) => true,
            };
            Ok(if truthy {
                Ok(value)
            } else {
                Err(value.to_string())
            })
        })
        .await
    }

    /// How many times the page has recorded the performance mark `name` (the app's
    /// `window.__scoreboard_marks`, e.g. `scoreboard:rendered`) since it was loaded.
    pub async fn mark_count(&self, name: &str) -> Result<u64> {
        let value = self.execute(MARK_COUNT_JS, vec![json!(name)]).await?;
        Ok(value.as_u64().unwrap_or(0))
    }

    /// Waits until the page has recorded the mark `name` more than `seen` times
    /// (take `seen` from [`App::mark_count`] before the action that should mark it).
    pub async fn wait_for_mark(&self, name: &str, seen: u64, timeout: Duration) -> Result<()> {
        self.eventually(
            &format!("performance mark `{name}` (seen {seen} times before)"),
            timeout,
            async |app| {
                let now = app.mark_count(name).await?;
                Ok(if now > seen {
                    Ok(())
                } else {
                    Err(format!("seen {now} times"))
                })
            },
        )
        .await
    }

    /// Clicks the element matching `selector`, once it exists.
    pub async fn click(&self, selector: &str) -> Result<()> {
        self.find(selector)
            .await?
            .click()
            .await
            .map_err(webdriver(format!("click `{selector}`")))
    }

    /// Chooses the option with value `value` in the `<select>` matching `selector`,
    /// as a user would (the select gets a `change` event).
    pub async fn select(&self, selector: &str, value: &str) -> Result<()> {
        self.find(selector)
            .await?
            .select_by_value(value)
            .await
            .map_err(webdriver(format!("choose {value:?} in `{selector}`")))
    }

    /// What the page keeps in IndexedDB (`app/src/storage.rs`): the stored meta
    /// record as JSON (`files`, `day_rows`, `roster`…), or `null` when nothing is
    /// stored. Never creates the database.
    pub async fn stored_meta(&self) -> Result<Value> {
        self.execute_async(STORED_META_JS, Vec::new()).await
    }

    /// Reloads the current page, as the browser's reload button does.
    pub async fn reload(&self) -> Result<()> {
        self.client()
            .refresh()
            .await
            .map_err(webdriver("reload the page"))
    }

    /// Saves a PNG of the whole page, not only the 1280×900 viewport, as
    /// `tests/artifacts/<name>.png` (the window is made as tall as the page, then
    /// put back).
    pub async fn screenshot_full_page(&self, name: &str) -> Result<PathBuf> {
        let (width, height) = self
            .client()
            .get_window_size()
            .await
            .map_err(webdriver("read the window size"))?;
        let page = self
            .execute(
                "return Math.ceil(document.documentElement.scrollHeight);",
                Vec::new(),
            )
            .await?;
        let tall = page.as_u64().unwrap_or(height).clamp(height, 10_000);
        let resize = |h: u64| {
            let (w, h) = (
                u32::try_from(width).unwrap_or(1280),
                u32::try_from(h).unwrap_or(900),
            );
            async move {
                self.client()
                    .set_window_size(w, h)
                    .await
                    .map_err(webdriver("resize the window"))
            }
        };
        resize(tall).await?;
        let shot = self.screenshot(name).await;
        resize(height).await?;
        shot
    }

    /// The requests the browser sent since the previous call, in order, WebSockets
    /// opened included (method `WEBSOCKET`). Needs [`AppBuilder::network_log`].
    /// `data:` URLs are left out (they are not requests).
    pub async fn network_requests(&self) -> Result<Vec<NetworkRequest>> {
        let value = self
            .client()
            .issue_cmd(Chromedriver::performance_log())
            .await
            .map_err(webdriver(
                "read the performance log (start the app with AppBuilder::network_log)",
            ))?;
        let entries = value.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut requests = Vec::new();
        for entry in entries {
            let Some(text) = entry["message"].as_str() else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let message = &event["message"];
            if message["method"] == "Network.webSocketCreated" {
                requests.push(NetworkRequest {
                    method: "WEBSOCKET".to_owned(),
                    url: message["params"]["url"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    // DevTools does not say which page opened a WebSocket.
                    document: String::new(),
                    has_body: false,
                    body: None,
                });
                continue;
            }
            if message["method"] != "Network.requestWillBeSent" {
                continue;
            }
            let request = &message["params"]["request"];
            let url = request["url"].as_str().unwrap_or_default().to_owned();
            if url.starts_with("data:") {
                continue;
            }
            let body = request["postData"].as_str().map(str::to_owned);
            requests.push(NetworkRequest {
                method: request["method"].as_str().unwrap_or("?").to_owned(),
                url,
                document: message["params"]["documentURL"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                has_body: request["hasPostData"].as_bool().unwrap_or(false) || body.is_some(),
                body,
            });
        }
        Ok(requests)
    }

    async fn current_url(&self) -> String {
        match self.client().current_url().await {
            Ok(url) => url.to_string(),
            Err(_) => "(unknown page)".to_owned(),
        }
    }

    /// Ends the WebDriver session (Chromium exits), then stops chromedriver and the server.
    pub async fn close(mut self) -> Result<()> {
        match self.client.take() {
            Some(client) => client.close().await.map_err(webdriver("close the session")),
            None => Ok(()),
        }
    }

    /// Runs a test body against this app, then always closes the session. When the body
    /// fails or panics, first saves `tests/artifacts/<test>-failure.png` and prints the
    /// browser console and the server log; then returns the error or resumes the panic.
    pub async fn run(self, body: impl AsyncFnOnce(&App) -> Result<()>) -> Result<()> {
        let outcome = AssertUnwindSafe(body(&self)).catch_unwind().await;
        if !matches!(outcome, Ok(Ok(()))) {
            self.report_failure().await;
        }
        let closed = self.close().await;
        match outcome {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(error)) => Err(error),
            Ok(Ok(())) => closed,
        }
    }

    /// Everything that helps to understand a failure, on stderr (shown by libtest for
    /// failed tests).
    async fn report_failure(&self) {
        let name = format!("{}-failure", test_name());
        match self.screenshot(&name).await {
            Ok(path) => eprintln!("e2e: screenshot of the failing page: {}", path.display()),
            Err(error) => eprintln!("e2e: no screenshot: {error}"),
        }
        match self.client().current_url().await {
            Ok(url) => eprintln!("e2e: page: {url}"),
            Err(error) => eprintln!("e2e: page unknown: {error}"),
        }
        match self.console().await {
            Ok(entries) if entries.is_empty() => eprintln!("e2e: browser console: (empty)"),
            Ok(entries) => {
                eprintln!("e2e: browser console:");
                for entry in entries {
                    eprintln!("  {entry}");
                }
            }
            Err(error) => eprintln!("e2e: browser console unavailable: {error}"),
        }
        eprintln!("e2e: server log (last lines):\n{}", self.server_log());
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if self.client.is_some() {
            // Panicked or returned early without run()/close(): the WebDriver session
            // cannot be ended here (that is async), so chromedriver's process group,
            // Chromium included, is killed when `driver` drops right after this.
            eprintln!(
                "e2e: the browser session was not closed; killing chromedriver (pid {}) and its Chromium",
                self.driver.child.id()
            );
            if std::thread::panicking() {
                eprintln!("e2e: server log (last lines):\n{}", self.server_log());
            }
        }
    }
}

/// Reads the page's stored meta record without creating the database.
const STORED_META_JS: &str = r#"
const done = arguments[arguments.length - 1];
const request = (r) => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
(async () => {
  const dbs = await indexedDB.databases();
  if (!dbs.some((d) => d.name === 'scoreboard')) return null;
  const db = await request(indexedDB.open('scoreboard'));
  try {
    if (!db.objectStoreNames.contains('meta')) return null;
    const meta = await request(db.transaction('meta', 'readonly').objectStore('meta').get('meta'));
    return meta == null ? null : JSON.parse(new TextDecoder().decode(meta));
  } finally {
    db.close();
  }
})().then(done, (e) => done({ error: String(e) }));
"#;
