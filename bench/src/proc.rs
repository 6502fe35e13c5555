//! Processes the benchmarks start (the real `scoreboard` binary, chromedriver):
//! each in its own process group with its output in a log file, killed with
//! its whole group when dropped; plus resident memory from /proc.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ctx, Result};

pub fn free_port() -> Result<SocketAddr> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(ctx("bind 127.0.0.1:0"))?;
    l.local_addr().map_err(ctx("local address"))
}

pub struct Process {
    pub what: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    pub fn spawn(what: &str, cmd: &mut Command, log: PathBuf) -> Result<Process> {
        let out = std::fs::File::create(&log).map_err(ctx(log.display()))?;
        let err = out.try_clone().map_err(ctx(log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(ctx(format!("start {what} ({:?})", cmd.get_program())))?;
        Ok(Process {
            what: what.to_string(),
            child,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until `addr` accepts connections (60 s at most).
    pub fn wait_listening(&mut self, addr: SocketAddr) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(start.elapsed());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before listening on {addr}:\n{}",
                    self.what,
                    self.log_tail()
                ));
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "{} did not listen on {addr} within 60 s:\n{}",
                    self.what,
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// (VmRSS, VmHWM) in bytes.
    pub fn memory(&self) -> Result<Memory> {
        memory(self.pid())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // process_group(0) made the child the leader of a group whose id is its pid.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Memory {
    /// Resident set size now.
    pub rss_bytes: u64,
    /// Peak resident set size since start.
    pub hwm_bytes: u64,
}

pub fn memory(pid: u32) -> Result<Memory> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(ctx("read /proc status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Ok(Memory {
        rss_bytes: field("VmRSS:"),
        hwm_bytes: field("VmHWM:"),
    })
}

/// CPU time (user + system) a process has used so far, in seconds: what
/// a run costs, whatever else shares the cores (wall times move with the load).
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (in parentheses, which may hold spaces): state is
    // field 3, utime and stime fields 14 and 15, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// CPU time (user + system) the threads of process `pid` named `name` have
/// used so far, in seconds: the telemetry writer thread (`otlp-writer`) is
/// one thread, so its time a batch bounds ingest on any number of cores.
pub fn thread_cpu_seconds(pid: &str, name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .map(|t| cpu_seconds(&format!("{pid}/task/{}", t.file_name().to_string_lossy())))
        .sum()
}

/// The `scoreboard` binary with none of the caller's SCOREBOARD_* / ANTHROPIC_* variables.
pub fn scoreboard(bin: &Path) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("SCOREBOARD_") || k.starts_with("ANTHROPIC_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

/// `scoreboard serve` on a free loopback port over `data_dir`, listening.
pub struct Server {
    pub process: Process,
    pub addr: SocketAddr,
    pub started_in: Duration,
}

impl Server {
    pub fn start(
        bin: &Path,
        data_dir: &Path,
        dist: Option<&Path>,
        extra: impl FnOnce(&mut Command),
    ) -> Result<Server> {
        let addr = free_port()?;
        let mut cmd = scoreboard(bin);
        cmd.arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data_dir);
        if let Some(d) = dist {
            cmd.arg("--dist").arg(d);
        }
        extra(&mut cmd);
        let mut process = Process::spawn("scoreboard serve", &mut cmd, data_dir.join("serve.log"))?;
        let started_in = process.wait_listening(addr)?;
        Ok(Server {
            process,
            addr,
            started_in,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A line about the machine for BENCHMARKS.md.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .unwrap_or("")
        .trim_matches('"')
        .to_string();
    let cmd = |c: &str, a: &[&str]| {
        Command::new(c)
            .args(a)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    serde_json::json!({
        "cpu": model,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_gib": (mem_kb as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "os": os,
        "loadavg_at_start": loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "rustc": cmd("rustc", &["--version"]),
        "chromium": cmd("chromium", &["--version"]),
    })
}
